package secondary

import (
	"slices"
	"strings"
	"time"
)

// ZoneStatus is one zone's state, for metrics and the admin page.
type ZoneStatus struct {
	Zone        string
	Catalog     bool   // a catalog zone (transferred, not served)
	Source      string // "config", SourceLocal (published here), or the catalog the zone is a member of
	Loaded      bool   // we hold data for it
	Serial      uint32 // valid when Loaded
	Records     int
	Primary     string // the primary of the last successful refresh
	LastAttempt time.Time
	LastSuccess time.Time // also set from the zone file's age at boot
	NextRefresh time.Time
	Failures    int // consecutive failed refreshes
	LastError   string
	Expired     bool // answering SERVFAIL
}

// Status returns the state of every zone, sorted by name.
func (m *Manager) Status() []ZoneStatus {
	m.mu.Lock()
	out := make([]ZoneStatus, 0, len(m.zones))
	for _, z := range m.zones {
		out = append(out, z.status())
	}
	m.mu.Unlock()
	slices.SortFunc(out, func(a, b ZoneStatus) int { return strings.Compare(a.Zone, b.Zone) })
	return out
}

// ZoneStatus returns one zone's state.
func (m *Manager) ZoneStatus(origin string) (ZoneStatus, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	z, ok := m.zones[canonical(origin)]
	if !ok {
		return ZoneStatus{}, false
	}
	return z.status(), true
}

// status reports z; Manager.mu must be held.
func (z *zone) status() ZoneStatus {
	s := ZoneStatus{
		Zone: z.origin, Catalog: z.catalog, Source: z.source, Primary: z.primary,
		LastAttempt: z.lastAttempt, LastSuccess: z.lastSuccess, NextRefresh: z.next,
		Failures: z.failures, LastError: z.lastErr, Expired: z.expired,
	}
	if z.cur != nil {
		s.Loaded, s.Serial, s.Records = true, z.cur.Serial(), z.cur.Len()
	}
	return s
}
