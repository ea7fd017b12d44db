package secondary

import (
	"errors"
	"fmt"
	"os"
	"strconv"

	"github.com/miekg/dns"

	authdns "github.com/goleudy/goleudy/services/dns"
)

// SourceLocal is ZoneStatus.Source for a zone published with Publish.
const SourceLocal = "local"

// Publish serves a zone authored here, such as the catalog the zone hub
// builds with BuildCatalog, alongside the transferred ones: it goes into
// the Store, is served to downstreams by AXFR and IXFR, and downstreams
// are sent NOTIFY when it changes. It has no primaries, so it is never
// refreshed and never expires, and Configure leaves it alone: a configured
// zone or catalog member of the same name is ignored, with a warning,
// while it is published.
//
// A new version must have a newer serial (RFC 1982) than the one served,
// else Publish returns ErrNotNewer and changes nothing; publishing the
// same content again is a no-op. The difference from the previous version
// goes to the zone's journal, so downstreams get it by IXFR.
//
// Published zones are not written to the state dir: the caller publishes
// them again after a restart, and must then pick a serial newer than any
// it published before, because downstreams keep the version they hold
// until they see a newer serial. Seconds since the epoch, or one more than
// the last serial when that is not larger, do.
//
// NOTIFY is sent only while Run is running; Run notifies downstreams of
// every published zone when it starts, so publishing before Run is fine.
//
// Publish takes a copy of rrs. It refuses a zone that is configured as a
// secondary or catalog, or that is a member of a consumed catalog, with
// ErrConflict.
func (m *Manager) Publish(origin string, rrs []dns.RR) error {
	if _, ok := dns.IsDomainName(origin); !ok || origin == "" {
		return fmt.Errorf("dns: publish %q: not a domain name", origin)
	}
	o := canonical(origin)
	nz, err := buildZone(o, copyRRs(rrs))
	if err != nil {
		return fmt.Errorf("dns: publish %s: %w", o, err)
	}

	// Publish and Unpublish are serialised, so the diff can be computed
	// without holding mu: a published zone changes only here.
	m.publishing.Lock()
	defer m.publishing.Unlock()
	m.mu.Lock()
	z := m.zones[o]
	if err := conflictLocked(o, z); err != nil {
		m.mu.Unlock()
		return err
	}
	var old *authdns.Zone
	if z != nil {
		old = z.cur
	}
	m.mu.Unlock()

	var d *diff
	if old != nil {
		d = diffZones(old, nz)
		if d == nil {
			return nil // the same content again
		}
		if !serialNewer(nz.Serial(), old.Serial()) {
			return fmt.Errorf("dns: publish %s: %w: serial %d, serving %d", o, ErrNotNewer, nz.Serial(), old.Serial())
		}
	}

	m.mu.Lock()
	if z == nil {
		// A Configure may have claimed the name meanwhile.
		if err := conflictLocked(o, m.zones[o]); err != nil {
			m.mu.Unlock()
			return err
		}
		z = &zone{origin: o, local: true, source: SourceLocal, ready: true}
		m.zones[o] = z
	}
	z.cur = nz
	m.o.Zones.Replace(nz)
	if d != nil {
		z.journal.add(copyDiffs([]diff{*d}))
	} else {
		z.journal.reset()
	}
	z.lastSuccess = m.clk.Now()
	m.mu.Unlock()

	if old == nil {
		m.log.Info("dns: secondary: zone published", "zone", o, "serial", nz.Serial(), "records", nz.Len())
		m.removeStaleFile(o)
	} else {
		m.log.Info("dns: secondary: zone published", "zone", o, "from_serial", old.Serial(), "serial", nz.Serial(),
			"records", nz.Len(), "deleted", len(d.del), "added", len(d.add))
	}
	m.notifyDownstreams(o, nz.SOA())
	return nil
}

// conflictLocked refuses to publish over a zone that is not a published
// one.
func conflictLocked(origin string, z *zone) error {
	if z == nil || z.local {
		return nil
	}
	what := "zone"
	if z.catalog {
		what = "catalog"
	}
	from := "the config"
	if z.source != "config" {
		from = "catalog " + z.source
	}
	return fmt.Errorf("dns: publish %s: %w: a secondary %s from %s", origin, ErrConflict, what, from)
}

// Unpublish stops serving a zone published with Publish and reports
// whether there was one. A configured zone of the same name, ignored
// while it was published, is then transferred as configured.
func (m *Manager) Unpublish(origin string) bool {
	o := canonical(origin)
	m.publishing.Lock()
	defer m.publishing.Unlock()
	m.mu.Lock()
	z := m.zones[o]
	if z == nil || !z.local {
		m.mu.Unlock()
		return false
	}
	m.removeLocked(z)
	m.reconcileAndUnlock()
	return true
}

// removeStaleFile deletes a zone file left by an earlier life of origin
// as a secondary zone. A published zone is never saved, so such a file
// would only be loaded, stale, if the zone were configured again later.
func (m *Manager) removeStaleFile(origin string) {
	if m.o.StateDir == "" {
		return
	}
	m.files.Lock()
	defer m.files.Unlock()
	if err := os.Remove(fileName(m.o.StateDir, origin)); err != nil && !errors.Is(err, os.ErrNotExist) {
		m.log.Warn("dns: secondary: delete stale zone file", "zone", origin, "err", err)
	}
}

// diffZones returns the IXFR sequence from old to cur, or nil when they
// hold the same records, SOA included. Records are compared with their
// TTL, so a TTL change is a deletion and an addition, which is how a
// downstream learns of it. Deletions come in old's order and additions in
// cur's, so the diff of two versions is always the same.
func diffZones(old, cur *authdns.Zone) *diff {
	key := func(rr dns.RR) string { return rrKey(rr) + " " + strconv.FormatUint(uint64(rr.Header().Ttl), 10) }
	d := &diff{from: old.SOA(), to: cur.SOA()}
	before := make(map[string]bool, old.Len())
	for rr := range old.All() {
		if rr.Header().Rrtype != dns.TypeSOA {
			before[key(rr)] = true
		}
	}
	for rr := range cur.All() {
		if rr.Header().Rrtype == dns.TypeSOA {
			continue
		}
		k := key(rr)
		if before[k] {
			delete(before, k) // in both
			continue
		}
		d.add = append(d.add, rr)
	}
	if len(before) > 0 {
		for rr := range old.All() {
			if rr.Header().Rrtype != dns.TypeSOA && before[key(rr)] {
				d.del = append(d.del, rr)
			}
		}
	}
	if len(d.del) == 0 && len(d.add) == 0 && key(d.from) == key(d.to) {
		return nil
	}
	return d
}
