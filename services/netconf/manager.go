package netconf

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/goleudy/goleudy/provision/config"
	"github.com/goleudy/goleudy/services/clock"
)

// Manager configures the node's ports by role. It is a supervisor.Service
// (Name, Run) and a supervisor.HealthChecker.
type Manager struct {
	o      Options
	static *staticOOB
	clk    clock.Clock
	log    *slog.Logger
	t      tuning
	k      kernel

	mu      sync.Mutex
	want    want
	rs      *runState     // nil unless Run is running
	lastErr error         // of the last reconcile
	changed chan struct{} // closed and replaced whenever state may have changed
}

// runState is what one Run owns. It is guarded by Manager.mu.
type runState struct {
	ctx    context.Context
	events chan leaseEvent
	have   map[object]held

	names   map[int]string  // link index → name, to notice renames
	carrier map[string]bool // last known carrier by link
	// hadCarrier marks links seen with carrier: only their return after
	// a loss redoes DHCP, not a port's first carrier after being set up.
	hadCarrier map[string]bool

	ix, oob       string
	ixErr, oobErr error
	auto          bool // oob won a probe rather than being matched
	probes        map[string]*leaseWorker
	w4, w6        *leaseWorker
	lease4        *lease
	lease6        *lease

	static      bool // the seed fallback is in place
	staticArmed bool
	staticT     clock.Timer
	retryT      clock.Timer

	anyLink  string
	dummy    bool
	anyTried bool

	resolv  string         // last resolv.conf written
	oobSeen []netip.Prefix // OOB addresses last reported to OnChange
}

// New checks o and returns a Manager. It changes nothing: Run does.
func New(o Options) (*Manager, error) {
	if o.StaticAfter < 0 {
		return nil, fmt.Errorf("netconf: StaticAfter %s is negative", o.StaticAfter)
	}
	if o.StaticAfter == 0 {
		o.StaticAfter = DefaultStaticAfter
	}
	if o.IXTable == 0 {
		o.IXTable = DefaultIXTable
	}
	if o.IXTable < 1 || o.IXTable >= 253 && o.IXTable <= 255 || o.IXTable > 1<<31-1 {
		return nil, fmt.Errorf("netconf: IXTable %d: want 1..252 or 256..2147483647 (253-255 are the kernel's default, main and local tables)", o.IXTable)
	}
	if o.SysfsRoot == "" {
		o.SysfsRoot = DefaultSysfsRoot
	}
	if o.Clock == nil {
		o.Clock = clock.Real()
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	w, err := parseWant(o.Interfaces, o.Anycast, o.OOBMatch, o.IXMatch)
	if err != nil {
		return nil, err
	}
	st, err := parseStatic(o.Static)
	if err != nil {
		return nil, fmt.Errorf("netconf: %w", err)
	}
	k, err := newKernel(o.SysfsRoot)
	if err != nil {
		return nil, err
	}
	return &Manager{
		o: o, static: st, clk: o.Clock, log: o.Log.With("service", "network"),
		t: defaultTuning(), k: k, want: w, changed: make(chan struct{}),
	}, nil
}

// Name is the supervisor's name for the service.
func (m *Manager) Name() string { return "network" }

// Run brings the roles up and keeps them up: it runs the DHCP clients and
// watches links until ctx ends, then removes everything it added. A second
// concurrent Run fails with ErrRunning.
func (m *Manager) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	rs := &runState{
		ctx: ctx, events: make(chan leaseEvent),
		have: map[object]held{}, names: map[int]string{}, carrier: map[string]bool{}, hadCarrier: map[string]bool{},
		probes:  map[string]*leaseWorker{},
		staticT: m.clk.NewTimer(time.Hour), retryT: m.clk.NewTimer(time.Hour),
	}
	rs.staticT.Stop()
	rs.retryT.Stop()
	m.mu.Lock()
	if m.rs != nil {
		m.mu.Unlock()
		return fmt.Errorf("netconf: run: %w", ErrRunning)
	}
	m.rs = rs
	m.mu.Unlock()

	done := make(chan struct{})
	evs, err := m.k.watch(done)
	if err != nil {
		return errors.Join(fmt.Errorf("netconf: %w", err), m.finish(rs))
	}
	defer func() {
		close(done)
		for range evs {
		}
	}()
	m.update(func() { m.reconcileLocked(rs) })
	for {
		select {
		case <-ctx.Done():
			return m.finish(rs)
		case ev := <-evs:
			if ev.err != nil {
				return errors.Join(fmt.Errorf("netconf: %w", ev.err), m.finish(rs))
			}
			m.update(func() { m.onLinkLocked(rs, ev) })
		case le := <-rs.events:
			m.update(func() { m.onLeaseLocked(rs, le) })
		case <-rs.staticT.C():
			m.update(func() {
				rs.staticArmed = false
				if rs.lease4 == nil && m.static != nil {
					m.log.Warn("no DHCPv4 lease: applying the seed's static settings; DHCP keeps trying", "after", m.o.StaticAfter)
					rs.static = true
				}
				m.reconcileLocked(rs)
			})
		case <-rs.retryT.C():
			m.update(func() { m.reconcileLocked(rs) })
		}
	}
}

// finish stops every worker and removes what this Run added.
func (m *Manager) finish(rs *runState) error {
	var err error
	m.update(func() {
		for _, w := range rs.probes {
			w.stop()
		}
		rs.probes = nil
		m.stopOOBLocked(rs)
		rs.staticT.Stop()
		rs.retryT.Stop()
		err = syncKernel(m.k, m.log, rs.have, nil)
		m.rs = nil
	})
	if err != nil {
		return fmt.Errorf("netconf: clean up: %w", err)
	}
	return nil
}

// update runs f under the lock, wakes WaitOOB, and calls OnChange (outside
// the lock) if the OOB addresses changed.
func (m *Manager) update(f func()) {
	m.mu.Lock()
	f()
	var notify *Status
	if rs := m.rs; rs != nil {
		st := m.statusLocked()
		if now := st.OOB.Prefixes(); !slices.Equal(now, rs.oobSeen) {
			rs.oobSeen = now
			notify = &st
		}
	}
	close(m.changed)
	m.changed = make(chan struct{})
	m.mu.Unlock()
	if notify != nil && m.o.OnChange != nil {
		m.o.OnChange(*notify)
	}
}

// Apply makes cfg's interfaces and anycast sections the wanted state and,
// while Run runs, changes only what differs. A config that does not parse
// changes nothing. Kernel changes that fail are reported and retried; the
// config stays in effect.
func (m *Manager) Apply(cfg *config.Config) error {
	if cfg == nil {
		return errors.New("netconf: apply: no config")
	}
	w, err := parseWant(cfg.Interfaces, cfg.Anycast, m.o.OOBMatch, m.o.IXMatch)
	if err != nil {
		return err
	}
	var rerr error
	m.update(func() {
		m.want = w
		if m.rs != nil {
			m.reconcileLocked(m.rs)
			rerr = m.lastErr
		}
	})
	if rerr != nil {
		return fmt.Errorf("netconf: apply: %w", rerr)
	}
	return nil
}

// WaitOOB blocks until the OOB port has an IPv4 address, from a lease or
// the static fallback, and returns the status then.
func (m *Manager) WaitOOB(ctx context.Context) (Status, error) {
	for {
		m.mu.Lock()
		st, ch := m.statusLocked(), m.changed
		m.mu.Unlock()
		if st.OOB.Has4() {
			return st, nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return st, fmt.Errorf("netconf: wait for an OOB address: %w", ctx.Err())
		}
	}
}

// Status reports the ports, their addresses and where those came from.
func (m *Manager) Status() Status {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.statusLocked()
}

// Health is nil while OOB has an address, the IX port (if one is
// configured) is present, and every kernel change went in.
func (m *Manager) Health() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	rs := m.rs
	if rs == nil {
		return fmt.Errorf("netconf: %w", ErrNotRunning)
	}
	if rs.ixErr != nil {
		return fmt.Errorf("netconf: IX port missing: %w", rs.ixErr)
	}
	if st := m.statusLocked(); len(st.OOB.Addresses) == 0 {
		if rs.oobErr != nil {
			return fmt.Errorf("netconf: OOB port missing: %w", rs.oobErr)
		}
		return fmt.Errorf("netconf: %s: %w", cmp.Or(st.OOB.Name, "no port"), ErrNoAddress)
	}
	return m.lastErr
}

// reconcileLocked brings ports, workers and the kernel in line with the
// wanted state. It records its errors in lastErr and retries them later.
func (m *Manager) reconcileLocked(rs *runState) {
	var errs []error
	ports, err := m.k.ports()
	if err != nil {
		errs = append(errs, err)
	} else {
		m.resolveLocked(rs, ports)
	}
	m.anycastLinkLocked(rs)
	m.workersLocked(rs)
	if err := syncKernel(m.k, m.log, rs.have, plan(m.inputLocked(rs))); err != nil {
		m.log.Error("network changes failed; will retry", "err", err)
		errs = append(errs, err)
	}
	m.resolvConfLocked(rs)
	errs = append(errs, rs.ixErr, rs.oobErr)
	m.lastErr = errors.Join(errs...)
	if m.lastErr != nil {
		rs.retryT.Reset(m.t.reconcileRetry)
	} else {
		rs.retryT.Stop()
	}
}

func (m *Manager) inputLocked(rs *runState) planInput {
	in := planInput{
		w: m.want, ix: rs.ix, oob: rs.oob, anyLink: rs.anyLink, dummy: rs.dummy,
		lease4: rs.lease4, lease6: rs.lease6, table: m.o.IXTable,
	}
	for name := range rs.probes {
		in.probes = append(in.probes, name)
	}
	slices.Sort(in.probes)
	if rs.static {
		in.static = m.static
		in.staticLink = m.staticLinkLocked(rs)
	}
	return in
}

// staticLinkLocked is the port the static fallback goes on: OOB, or while
// probing the first candidate with carrier (or the first at all).
func (m *Manager) staticLinkLocked(rs *runState) string {
	if rs.oob != "" || len(rs.probes) == 0 {
		return rs.oob
	}
	names := make([]string, 0, len(rs.probes))
	for n := range rs.probes {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		if rs.carrier[n] {
			return n
		}
	}
	return names[0]
}

// resolveLocked finds the IX and OOB ports.
func (m *Manager) resolveLocked(rs *runState, ports []port) {
	rs.ix, rs.ixErr = "", nil
	if mt := m.want.ix.match; mt != "" {
		if p, err := mustMatch(mt).find(ports); err != nil {
			rs.ixErr = err
		} else {
			rs.ix = p.name
		}
	} else if len(m.want.ix.addrs) > 0 || m.want.ix.gw4.IsValid() || m.want.ix.gw6.IsValid() {
		rs.ixErr = fmt.Errorf("netconf: interfaces.ix has addresses but no match, and the board names no IX port: %w", ErrNoPort)
	}
	oob, auto := "", false
	var cands []string
	rs.oobErr = nil
	if mt := m.want.oob.match; mt != "" {
		if p, err := mustMatch(mt).find(ports); err != nil {
			rs.oobErr = err
		} else {
			oob = p.name
		}
	} else {
		cands = oobCandidates(ports, rs.ix)
		if rs.auto && slices.Contains(cands, rs.oob) {
			oob, auto = rs.oob, true
		} else if len(cands) == 0 {
			rs.oobErr = fmt.Errorf("netconf: no OOB match, and no physical port besides IX to probe: %w", ErrNoPort)
		}
	}
	if oob != "" && oob == rs.ix {
		rs.oobErr = fmt.Errorf("netconf: OOB and IX are both port %s", oob)
		oob = ""
	}
	if oob != rs.oob {
		m.stopOOBLocked(rs)
		rs.oob = oob
		if oob != "" {
			m.log.Info("OOB port", "port", oob, "match", m.want.oob.match)
		}
	}
	rs.auto = auto
	// Probes run only while OOB is unknown, on every candidate.
	for name, w := range rs.probes {
		if oob != "" || !slices.Contains(cands, name) {
			w.stop()
			delete(rs.probes, name)
		}
	}
	if oob == "" {
		for _, name := range cands {
			if rs.probes[name] == nil {
				if w := m.startWorkerLocked(rs, SourceDHCP4, name); w != nil {
					rs.probes[name] = w
				}
			}
		}
	}
	for _, name := range []string{rs.ix, rs.oob} {
		m.learnCarrierLocked(rs, name)
	}
	for _, name := range cands {
		m.learnCarrierLocked(rs, name)
	}
}

// learnCarrierLocked records a port's carrier the first time it is seen.
func (m *Manager) learnCarrierLocked(rs *runState, name string) {
	if _, known := rs.carrier[name]; name == "" || known {
		return
	}
	if li, err := m.k.link(name); err == nil {
		rs.carrier[name] = li.carrier
		rs.hadCarrier[name] = li.carrier
	}
}

// mustMatch parses a match that parseWant already checked.
func mustMatch(s string) match {
	mt, err := parseMatch(s)
	if err != nil {
		panic("netconf: unchecked match " + s)
	}
	return mt
}

// stopOOBLocked forgets the OOB port's DHCP state.
func (m *Manager) stopOOBLocked(rs *runState) {
	for _, w := range []*leaseWorker{rs.w4, rs.w6} {
		if w != nil {
			w.stop()
		}
	}
	rs.w4, rs.w6, rs.lease4, rs.lease6 = nil, nil, nil, nil
	rs.static, rs.staticArmed = false, false
	rs.staticT.Stop()
}

// anycastLinkLocked decides, once per Run, where anycast addresses go.
func (m *Manager) anycastLinkLocked(rs *runState) {
	if rs.anyTried || len(m.want.anycastAddrs) == 0 {
		return
	}
	rs.anyTried = true
	err := m.k.dummyAdd(AnycastLink)
	switch {
	case err == nil:
		m.log.Info("anycast addresses on a dummy", "link", AnycastLink)
		rs.anyLink = AnycastLink
		rs.have[dummyObj{AnycastLink}] = held{ours: true}
		rs.dummy = true
	case errors.Is(err, errExist):
		m.log.Info("anycast addresses on an existing link", "link", AnycastLink)
		rs.anyLink = AnycastLink
	default:
		m.log.Info("cannot make a dummy link; anycast addresses go on lo", "err", err)
		rs.anyLink = "lo"
	}
}

// workersLocked starts and stops the OOB DHCP clients and arms the static
// fallback.
func (m *Manager) workersLocked(rs *runState) {
	oob := m.want.oob
	if rs.oob != "" {
		if oob.dhcp4 && rs.w4 == nil {
			rs.w4 = m.startWorkerLocked(rs, SourceDHCP4, rs.oob)
		}
		if !oob.dhcp4 && rs.w4 != nil {
			rs.w4.stop()
			rs.w4, rs.lease4 = nil, nil
		}
		if oob.dhcp6 && rs.w6 == nil {
			rs.w6 = m.startWorkerLocked(rs, SourceDHCP6, rs.oob)
		}
		if !oob.dhcp6 && rs.w6 != nil {
			rs.w6.stop()
			rs.w6, rs.lease6 = nil, nil
		}
	}
	has4 := rs.lease4 != nil || slices.ContainsFunc(oob.addrs, func(p netip.Prefix) bool { return p.Addr().Is4() })
	port := rs.oob != "" || len(rs.probes) > 0
	switch {
	case m.static == nil || has4 || !port:
		rs.static, rs.staticArmed = false, false
		rs.staticT.Stop()
	case rs.static || rs.staticArmed:
	case rs.w4 != nil || len(rs.probes) > 0:
		rs.staticT.Reset(m.o.StaticAfter)
		rs.staticArmed = true
	default: // no DHCPv4 wanted and no IPv4 configured
		rs.static = true
	}
}

func (m *Manager) startWorkerLocked(rs *runState, proto, link string) *leaseWorker {
	var c leaseClient
	var err error
	if proto == SourceDHCP4 {
		c, err = m.k.dhcp4(link, m.t)
	} else {
		c, err = m.k.dhcp6(link, m.t)
	}
	if err != nil {
		m.log.Error("cannot make DHCP client", "proto", proto, "port", link, "err", err)
		return nil
	}
	w := newLeaseWorker(proto, link, c, m.clk, m.log, m.t, rs.events)
	w.start(rs.ctx)
	return w
}

// onLeaseLocked takes a worker's news.
func (m *Manager) onLeaseLocked(rs *runState, le leaseEvent) {
	switch {
	case le.w == rs.w4 && le.w != nil:
		if le.lost {
			rs.lease4 = nil
		} else {
			rs.lease4 = le.lease
		}
	case le.w == rs.w6 && le.w != nil:
		if le.lost {
			rs.lease6 = nil
		} else {
			rs.lease6 = le.lease
		}
	case rs.probes[le.w.link] == le.w && !le.lost:
		// The first probe to get a lease makes its port OOB; it goes on
		// as that port's DHCPv4 client.
		delete(rs.probes, le.w.link)
		for _, w := range rs.probes {
			w.stop()
		}
		rs.probes = map[string]*leaseWorker{}
		m.stopOOBLocked(rs)
		m.log.Info("OOB port found by DHCP", "port", le.w.link, "addr", le.lease.addr)
		rs.oob, rs.auto = le.w.link, true
		rs.w4, rs.lease4 = le.w, le.lease
	default:
		return // from a worker since stopped
	}
	m.reconcileLocked(rs)
}

// onLinkLocked takes a link or address change.
func (m *Manager) onLinkLocked(rs *runState, ev event) {
	if ev.addr {
		return // update recomputes the OOB addresses, SLAAC's included
	}
	prev, known := rs.carrier[ev.link]
	had := rs.hadCarrier[ev.link]
	if ev.deleted {
		delete(rs.carrier, ev.link)
		delete(rs.hadCarrier, ev.link)
	} else {
		rs.carrier[ev.link] = ev.carrier
		if ev.carrier {
			rs.hadCarrier[ev.link] = true
		}
	}
	if had && known && !prev && ev.carrier && !ev.deleted {
		var redo []*leaseWorker
		if ev.link == rs.oob {
			redo = []*leaseWorker{rs.w4, rs.w6}
		}
		redo = append(redo, rs.probes[ev.link])
		for _, w := range redo {
			if w != nil {
				m.log.Info("carrier back: redoing DHCP", "port", ev.link, "proto", w.proto)
				w.redo()
			}
		}
	}
	if known && prev && !ev.carrier && (ev.link == rs.oob || ev.link == rs.ix) {
		m.log.Warn("carrier lost", "port", ev.link)
	}
	name, seen := rs.names[ev.index]
	managed := ev.link != "" && (ev.link == rs.oob || ev.link == rs.ix || ev.link == rs.anyLink)
	switch {
	case ev.deleted:
		delete(rs.names, ev.index)
		m.reconcileLocked(rs)
	case !seen || name != ev.link:
		// A port appeared or was renamed: roles may resolve differently.
		rs.names[ev.index] = ev.link
		m.reconcileLocked(rs)
	case managed && !ev.up:
		// Set down by someone: the kernel dropped its routes with it.
		m.log.Warn("port set down; setting it up again", "port", ev.link)
		m.reconcileLocked(rs)
	}
}
