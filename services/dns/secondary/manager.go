package secondary

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/miekg/dns"

	"github.com/goleudy/goleudy/provision/config"
	"github.com/goleudy/goleudy/services/clock"
	authdns "github.com/goleudy/goleudy/services/dns"
)

// Manager keeps the node's secondary zones current. Create it with New,
// give it the zones with Configure (at any time, as often as the config
// changes) and run it with Run under the supervisor.
type Manager struct {
	o   Options
	log *slog.Logger
	clk clock.Clock

	mu       sync.Mutex
	zones    map[string]*zone // lowercased origin → zone, catalogs included
	keys     map[string]tsigKey
	explicit []config.Zone
	catalogs []config.Zone
	downs    []Downstream    // who may transfer from us; starts as Options.Downstreams
	runCtx   context.Context // nil unless Run is running
	active   int             // refreshes in flight
	wg       sync.WaitGroup  // refreshes and NOTIFY senders of this Run

	wake       chan struct{} // pokes the scheduler; buffer of one coalesces pokes
	files      sync.Mutex    // serialises writes and deletes of zone files
	publishing sync.Mutex    // serialises Publish and Unpublish
	notifyLog  *rateLog
}

// New returns a Manager with no zones.
func New(o Options) (*Manager, error) {
	if o.Zones == nil {
		return nil, errors.New("dns: secondary: Options.Zones is required")
	}
	o = o.withDefaults()
	if o.StateDir != "" {
		if err := os.MkdirAll(o.StateDir, 0o755); err != nil {
			return nil, fmt.Errorf("dns: secondary: state dir: %w", err)
		}
	}
	return &Manager{
		o: o, log: o.Log, clk: o.Clock,
		zones:     map[string]*zone{},
		keys:      map[string]tsigKey{},
		downs:     o.Downstreams,
		wake:      make(chan struct{}, 1),
		notifyLog: newRateLog(o.Clock, time.Minute, 4096),
	}, nil
}

// SetDownstreams replaces the clients that may transfer zones from us and
// are sent NOTIFY; transfers in progress finish.
func (m *Manager) SetDownstreams(ds []Downstream) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.downs = slices.Clone(ds)
}

// kick wakes the scheduler.
func (m *Manager) kick() {
	select {
	case m.wake <- struct{}{}:
	default:
	}
}

// Configure applies a config: it starts transferring new zones, stops
// serving removed ones and deletes their files, and gives existing zones
// their new primaries and keys without touching their data. Catalog
// members follow their catalogs. Queries are answered throughout: zones
// are swapped one at a time in the Store, never cleared.
//
// When Run is running, new zones are loaded from the state dir before
// Configure returns; otherwise Run loads them.
func (m *Manager) Configure(zones, catalogs []config.Zone, keys []config.TSIGKey) {
	m.mu.Lock()
	m.keys = map[string]tsigKey{}
	for _, k := range keys {
		tk, err := newTSIGKey(k)
		if err != nil {
			m.log.Error("dns: secondary: ignoring TSIG key", "err", err)
			continue
		}
		m.keys[tk.name] = tk
	}
	m.explicit = slices.Clone(zones)
	m.catalogs = slices.Clone(catalogs)
	m.reconcileAndUnlock()
}

// reconcileAndUnlock reconciles with m.mu held, releases it, then deletes
// the files of removed zones and loads the added ones (when Run is
// running; otherwise Run loads them) and wakes the scheduler.
func (m *Manager) reconcileAndUnlock() {
	added, deleted := m.reconcileLocked()
	running := m.runCtx != nil
	m.mu.Unlock()
	m.deleteFiles(deleted)
	if running {
		m.load(added)
	}
	m.kick()
}

// spec is what the config says about one zone.
type spec struct {
	catalog   bool
	source    string
	memberID  string
	primaries []string
	keyName   string
}

// wantedLocked computes the zones the config asks for: explicit zones,
// catalogs, and the members of catalogs we hold.
func (m *Manager) wantedLocked() map[string]spec {
	want := map[string]spec{}
	var order []string
	for _, c := range m.explicit {
		o := canonical(c.Name)
		if _, dup := want[o]; dup {
			m.log.Warn("dns: secondary: zone listed twice; using the first", "zone", o)
			continue
		}
		want[o] = spec{source: "config", primaries: slices.Clone(c.Primaries), keyName: canonicalKey(c.TSIG)}
	}
	for _, c := range m.catalogs {
		o := canonical(c.Name)
		if _, dup := want[o]; dup {
			m.log.Warn("dns: secondary: catalog also listed as a zone or twice; using the first", "zone", o)
			continue
		}
		want[o] = spec{catalog: true, source: "config", primaries: slices.Clone(c.Primaries), keyName: canonicalKey(c.TSIG)}
		order = append(order, o)
	}
	for _, co := range order {
		cz := m.zones[co]
		if cz == nil || !cz.catalog {
			continue
		}
		cs := want[co]
		for _, member := range sortedKeys(cz.members) {
			if prev, dup := want[member]; dup {
				if prev.source != "config" || prev.catalog {
					m.log.Warn("dns: secondary: catalog member already provided elsewhere; ignoring it",
						"zone", member, "catalog", co, "provided_by", prev.source)
				}
				continue // an explicit entry wins silently
			}
			want[member] = spec{source: co, memberID: cz.members[member], primaries: cs.primaries, keyName: cs.keyName}
		}
	}
	for o, s := range want {
		if z := m.zones[o]; z != nil && z.local {
			m.log.Warn("dns: secondary: zone is published locally; ignoring its configuration until it is unpublished",
				"zone", o, "source", s.source, "catalog", s.catalog)
			delete(want, o)
		}
	}
	return want
}

// reconcileLocked makes m.zones match the config. It returns the zones
// it added, which still need their files loaded, and the files of the
// zones it removed, to delete outside the lock. Published zones are not
// in the config and stay.
func (m *Manager) reconcileLocked() (added []*zone, deleted []fileRemoval) {
	want := m.wantedLocked()
	for o, z := range m.zones {
		if z.local {
			continue
		}
		s, ok := want[o]
		if ok && s.catalog == z.catalog && (s.memberID == z.memberID || z.source != s.source) {
			continue
		}
		// Gone from the config, switched between zone and catalog, or a
		// catalog member whose unique id changed, which RFC 9432 section
		// 5.3 makes a reset: drop the data and transfer afresh.
		m.removeLocked(z)
		deleted = append(deleted, fileRemoval{origin: o, reset: ok})
	}
	for o, s := range want {
		z, ok := m.zones[o]
		if !ok {
			z = &zone{origin: o}
			m.zones[o] = z
			if slices.ContainsFunc(deleted, func(f fileRemoval) bool { return f.origin == o }) {
				z.ready = true // reset: its old file is not to be loaded
			} else {
				added = append(added, z)
			}
			m.log.Info("dns: secondary: zone added", "zone", o, "source", s.source, "catalog", s.catalog)
		}
		z.catalog, z.source, z.memberID = s.catalog, s.source, s.memberID
		z.primaries, z.keyName = s.primaries, s.keyName
	}
	return added, deleted
}

// removeLocked stops serving z and forgets it.
func (m *Manager) removeLocked(z *zone) {
	z.gone = true
	if z.cancel != nil {
		z.cancel()
	}
	if z.served() {
		m.o.Zones.Remove(z.origin) // also drops a SERVFAIL mark
	}
	delete(m.zones, z.origin)
	m.log.Info("dns: secondary: zone removed", "zone", z.origin, "source", z.source)
}

// Run loads the zones from the state dir and serves them at once, then
// refreshes them on their SOA timers until ctx ends. It waits for every
// goroutine it started. It may be called again after it returns.
func (m *Manager) Run(ctx context.Context) error {
	m.mu.Lock()
	if m.runCtx != nil {
		m.mu.Unlock()
		return errors.New("dns: secondary: already running")
	}
	m.runCtx = ctx
	var pending []*zone
	var published []*dns.SOA
	for _, z := range m.zones {
		if !z.ready {
			pending = append(pending, z)
		}
		if z.local {
			published = append(published, z.cur.SOA())
		}
	}
	m.mu.Unlock()
	// Published before Run, or changed while it was stopped: downstreams
	// have not heard of these versions yet.
	for _, soa := range published {
		m.notifyDownstreams(canonical(soa.Hdr.Name), soa)
	}

	start := time.Now()
	m.load(pending)
	m.log.Info("dns: secondary: zones loaded", "zones", len(pending), "took", time.Since(start))
	// Decoding leaves garbage the size of the zones; a Pi has little
	// memory, so hand it back now rather than when the scavenger does.
	if len(pending) > 0 {
		debug.FreeOSMemory()
	}

	m.schedule(ctx)

	m.mu.Lock()
	for _, z := range m.zones {
		if z.cancel != nil {
			z.cancel()
		}
	}
	m.mu.Unlock()
	m.wg.Wait()
	m.mu.Lock()
	m.runCtx = nil
	m.mu.Unlock()
	return nil
}

// schedule is the scheduler loop: it starts due refreshes, expires zones
// and sleeps on one timer until the earliest deadline or a kick.
func (m *Manager) schedule(ctx context.Context) {
	timer := m.clk.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		wait := m.tick()
		timer.Reset(wait)
		select {
		case <-ctx.Done():
			return
		case <-timer.C():
		case <-m.wake:
		}
	}
}

// idleWait is the timer when nothing is scheduled; any change kicks.
const idleWait = 24 * time.Hour

// tick does what is due now and returns how long to sleep.
func (m *Manager) tick() time.Duration {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.clk.Now()
	var earliest time.Time
	consider := func(t time.Time) {
		if earliest.IsZero() || t.Before(earliest) {
			earliest = t
		}
	}
	for _, z := range m.zones {
		if !z.ready || z.local {
			continue // not loaded yet, or published here: no primary to ask
		}
		if z.cur != nil && !z.expired {
			if !z.expireAt.After(now) {
				m.expireLocked(z)
			} else {
				consider(z.expireAt)
			}
		}
		if z.running {
			continue
		}
		if z.next.After(now) {
			consider(z.next)
			continue
		}
		if m.active < m.o.MaxTransfers && m.runCtx != nil {
			m.startLocked(z, now)
		}
	}
	if earliest.IsZero() {
		return idleWait
	}
	return earliest.Sub(now)
}

func (m *Manager) expireLocked(z *zone) {
	z.expired = true
	if z.served() {
		m.o.Zones.SetServfail(z.origin, true)
	}
	m.log.Warn("dns: secondary: zone expired; answering SERVFAIL until a refresh succeeds",
		"zone", z.origin, "serial", z.cur.Serial(), "last_success", z.lastSuccess)
}

// startLocked starts a refresh of z.
func (m *Manager) startLocked(z *zone, now time.Time) {
	z.running = true
	z.lastAttempt = now
	m.active++
	j := job{origin: z.origin, primaries: slices.Clone(z.primaries), cur: z.cur}
	if z.keyName != "" {
		if k, ok := m.keys[z.keyName]; ok {
			j.key = &k
		} else {
			j.keyErr = fmt.Errorf("dns: refresh %s: %w %s", z.origin, ErrNoKey, z.keyName)
		}
	}
	ctx, cancel := context.WithCancel(m.runCtx)
	z.cancel = cancel
	m.wg.Go(func() {
		defer cancel()
		m.runJob(ctx, z, j)
	})
}

// runJob refreshes one zone and records the outcome.
func (m *Manager) runJob(ctx context.Context, z *zone, j job) {
	var out outcome
	if j.keyErr != nil {
		out.err = j.keyErr
	} else {
		out = m.refresh(ctx, j)
	}
	var members map[string]string
	m.mu.Lock()
	isCatalog := z.catalog
	m.mu.Unlock()
	if isCatalog && out.zone != nil {
		// An invalid catalog counts as a failed transfer: the previous
		// version, on disk too, stays the one whose members we serve.
		var catErr error
		if members, catErr = parseCatalog(out.zone, m.log); catErr != nil {
			out = outcome{err: fmt.Errorf("dns: refresh %s from %s: %w", j.origin, out.primary, catErr)}
		}
	}

	m.mu.Lock()
	now := m.clk.Now()
	if !z.gone {
		m.recordLocked(z, out, now, ctx.Err() != nil)
	}
	m.mu.Unlock()

	if out.err == nil {
		m.persist(z, out.zone != nil)
	}

	m.mu.Lock()
	z.running = false
	z.cancel = nil
	m.active--
	if z.again {
		z.again = false
		z.next = time.Time{}
	}
	var added []*zone
	var deleted []fileRemoval
	if !z.gone && isCatalog && out.zone != nil {
		z.members = members
		added, deleted = m.reconcileLocked()
	}
	notify := !z.gone && out.zone != nil
	m.mu.Unlock()

	m.deleteFiles(deleted)
	m.load(added)
	if notify {
		m.notifyDownstreams(z.origin, out.zone.SOA())
	}
	m.kick()
}

// recordLocked applies a refresh's outcome: swaps in the new zone, sets
// the timers and the status.
func (m *Manager) recordLocked(z *zone, out outcome, now time.Time, cancelled bool) {
	if out.err != nil {
		if cancelled {
			return // shutting down or removed: not the primary's fault
		}
		z.failures++
		z.lastErr = out.err.Error()
		retry := m.o.Bounds.MinRetry
		if z.cur != nil {
			retry = m.timersOf(z).retry
		}
		z.next = now.Add(retry)
		m.log.Warn("dns: secondary: refresh failed", "zone", z.origin, "failures", z.failures, "retry_in", retry, "err", out.err)
		return
	}
	if out.zone != nil {
		old := z.cur
		z.cur = out.zone
		if z.served() {
			m.o.Zones.Replace(out.zone)
		}
		if out.full {
			z.journal.reset()
		} else {
			z.journal.add(copyDiffs(out.diffs))
		}
		var from any = "none"
		if old != nil {
			from = old.Serial()
		}
		how := "IXFR"
		if out.full {
			how = "AXFR"
		}
		m.log.Info("dns: secondary: zone transferred", "zone", z.origin, "from_serial", from,
			"serial", out.zone.Serial(), "records", out.zone.Len(), "via", how, "primary", out.primary)
	}
	z.failures = 0
	z.lastErr = ""
	z.lastSuccess = now
	z.primary = out.primary
	t := m.timersOf(z)
	z.next = now.Add(t.refresh)
	z.expireAt = now.Add(t.expire)
	if z.expired {
		z.expired = false
		if z.served() {
			m.o.Zones.SetServfail(z.origin, false)
		}
		m.log.Info("dns: secondary: zone no longer expired", "zone", z.origin, "serial", z.cur.Serial())
	}
}

func (m *Manager) timersOf(z *zone) timers {
	soa := z.cur.SOA()
	return m.o.Bounds.clamp(soa.Refresh, soa.Retry, soa.Expire)
}

// persist writes a new version to the state dir, or touches the file of
// an unchanged one so that its age says when it was last known current.
func (m *Manager) persist(z *zone, changed bool) {
	if m.o.StateDir == "" {
		return
	}
	m.files.Lock()
	defer m.files.Unlock()
	m.mu.Lock()
	gone, cur := z.gone, z.cur
	m.mu.Unlock()
	if gone || cur == nil {
		return
	}
	if !changed {
		now := m.clk.Now()
		err := os.Chtimes(fileName(m.o.StateDir, z.origin), now, now)
		if err == nil {
			return
		}
		if !errors.Is(err, os.ErrNotExist) {
			m.log.Warn("dns: secondary: touch zone file", "zone", z.origin, "err", err)
			return
		}
		// Lost, or never written: write it now.
	}
	start := time.Now()
	if err := saveZone(m.o.StateDir, cur); err != nil {
		m.log.Error("dns: secondary: zone not saved; it will be transferred again after a restart", "zone", z.origin, "err", err)
		return
	}
	m.log.Debug("dns: secondary: zone saved", "zone", z.origin, "serial", cur.Serial(), "took", time.Since(start))
}

// fileRemoval is a zone file to delete: the zone was removed, or reset
// and re-added (then its old content must go even though it is back).
type fileRemoval struct {
	origin string
	reset  bool
}

// deleteFiles removes the zone files of removed zones.
func (m *Manager) deleteFiles(fs []fileRemoval) {
	if m.o.StateDir == "" || len(fs) == 0 {
		return
	}
	m.files.Lock()
	defer m.files.Unlock()
	for _, f := range fs {
		m.mu.Lock()
		z, back := m.zones[f.origin] // re-added meanwhile: keep its file
		keep := back && (!f.reset || z.cur != nil)
		m.mu.Unlock()
		if keep {
			continue
		}
		if err := os.Remove(fileName(m.o.StateDir, f.origin)); err != nil && !errors.Is(err, os.ErrNotExist) {
			m.log.Warn("dns: secondary: delete zone file", "zone", f.origin, "err", err)
		}
	}
}

// load reads the zone files of new zones and serves what they hold at
// once. Catalogs loaded this way add their members, which load too.
func (m *Manager) load(zs []*zone) {
	for len(zs) > 0 {
		type loaded struct {
			z       *zone
			data    *zoneData
			members map[string]string
		}
		res := make([]loaded, len(zs))
		parallel(len(zs), func(i int) {
			res[i].z = zs[i]
			res[i].data = m.readFile(zs[i].origin)
			if res[i].data != nil && zs[i].catalog {
				mem, err := parseCatalog(res[i].data.z, m.log)
				if err != nil {
					m.log.Error("dns: secondary: stored catalog not applied", "zone", zs[i].origin, "err", err)
				}
				res[i].members = mem
			}
		})
		m.mu.Lock()
		now := m.clk.Now()
		anyCatalog := false
		for _, r := range res {
			z := r.z
			if z.gone || z.ready {
				continue
			}
			z.ready = true
			if r.data == nil || z.cur != nil {
				// Nothing stored: the first tick transfers it. Until
				// then its names get SERVFAIL, as NSD answers for a
				// zone it has not loaded, rather than REFUSED or an
				// answer from a parent zone.
				if z.cur == nil && z.served() {
					m.o.Zones.SetServfail(z.origin, true)
				}
				continue
			}
			m.installLocked(z, r.data, now)
			if z.catalog && r.members != nil {
				z.members = r.members
				anyCatalog = true
			}
		}
		var added []*zone
		var deleted []fileRemoval
		if anyCatalog {
			added, deleted = m.reconcileLocked()
		}
		m.mu.Unlock()
		m.deleteFiles(deleted)
		zs = added
	}
	m.kick()
}

// zoneData is a zone read from its file, and when it was last current.
type zoneData struct {
	z     *authdns.Zone
	mtime time.Time
}

// installLocked serves a zone read from disk and sets its timers from the
// file's age: refresh when the refresh interval has passed since, expire
// when the expire interval has.
func (m *Manager) installLocked(z *zone, d *zoneData, now time.Time) {
	zd := d.z
	z.cur = zd
	if z.served() {
		m.o.Zones.Replace(zd)
	}
	t := m.timersOf(z)
	z.lastSuccess = d.mtime
	z.next = d.mtime.Add(t.refresh)
	z.expireAt = d.mtime.Add(t.expire)
	if !z.expireAt.After(now) {
		m.expireLocked(z)
	}
	m.log.Debug("dns: secondary: zone loaded from state dir", "zone", z.origin, "serial", zd.Serial(), "records", zd.Len())
}

// readFile loads a zone file; a corrupt one is logged and deleted, and
// the zone is then transferred afresh.
func (m *Manager) readFile(origin string) *zoneData {
	if m.o.StateDir == "" {
		return nil
	}
	z, fi, err := loadZone(m.o.StateDir, origin)
	if err != nil {
		m.log.Error("dns: secondary: dropping zone file; the zone will be transferred again", "zone", origin, "err", err)
		if errors.Is(err, ErrCorrupt) {
			m.files.Lock()
			os.Remove(fileName(m.o.StateDir, origin))
			m.files.Unlock()
		}
		return nil
	}
	if z == nil {
		return nil
	}
	return &zoneData{z: z, mtime: fi.ModTime()}
}

func canonical(name string) string { return strings.ToLower(dns.Fqdn(name)) }

func canonicalKey(name string) string {
	if name == "" {
		return ""
	}
	return dns.CanonicalName(name)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
