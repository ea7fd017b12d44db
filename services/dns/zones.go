package authdns

import (
	"fmt"
	"maps"
	"sync"
	"sync/atomic"
)

// Zones is the set of zones a node serves. Readers never lock: they load
// an immutable map of slots, and each slot holds its zone in an atomic
// pointer. Replacing a zone (the frequent case: every transfer) swaps one
// pointer; adding or removing zones copies the map, which is O(zones) and
// batched by Add. A query that started before a swap finishes on the zone
// it found, so no query is dropped.
type Zones struct {
	mu  sync.Mutex // serialises writers
	cur atomic.Pointer[zoneMap]
	gen atomic.Uint64 // bumped after every change is visible
}

type zoneMap struct {
	m map[string]*slot // lowercased origin -> slot
}

type slot struct {
	z atomic.Pointer[Zone]
	// servfail marks a zone we are configured for but cannot answer
	// from: expired, or not transferred yet. Its names get SERVFAIL
	// rather than REFUSED or an answer from a parent zone.
	servfail atomic.Bool
}

// NewZones returns an empty set.
func NewZones() *Zones {
	zs := &Zones{}
	zs.cur.Store(&zoneMap{m: map[string]*slot{}})
	return zs
}

func (zs *Zones) snapshot() *zoneMap {
	if m := zs.cur.Load(); m != nil {
		return m
	}
	return &zoneMap{}
}

// Add adds zones that are not in the set yet. It adds all or none.
func (zs *Zones) Add(zones ...*Zone) error {
	zs.mu.Lock()
	defer zs.mu.Unlock()
	old := zs.snapshot()
	for _, z := range zones {
		if _, ok := old.m[z.origin]; ok {
			return fmt.Errorf("dns: add zone %s: %w", z.origin, ErrZoneExists)
		}
	}
	m := make(map[string]*slot, len(old.m)+len(zones))
	maps.Copy(m, old.m)
	for _, z := range zones {
		if _, ok := m[z.origin]; ok {
			return fmt.Errorf("dns: add zone %s: %w", z.origin, ErrZoneExists)
		}
		s := &slot{}
		s.z.Store(z)
		m[z.origin] = s
	}
	zs.cur.Store(&zoneMap{m: m})
	zs.gen.Add(1)
	return nil
}

// Replace puts z in the set, in place of the zone of the same name if there
// is one, which it returns.
func (zs *Zones) Replace(z *Zone) (old *Zone) {
	zs.mu.Lock()
	defer zs.mu.Unlock()
	defer zs.gen.Add(1)
	if s, ok := zs.snapshot().m[z.origin]; ok {
		old = s.z.Swap(z)
		s.servfail.Store(false)
		return old
	}
	m := maps.Clone(zs.snapshot().m)
	if m == nil {
		m = map[string]*slot{}
	}
	s := &slot{}
	s.z.Store(z)
	m[z.origin] = s
	zs.cur.Store(&zoneMap{m: m})
	return nil
}

// Remove takes the zone named origin out of the set and returns it, or nil.
func (zs *Zones) Remove(origin string) *Zone {
	zs.mu.Lock()
	defer zs.mu.Unlock()
	key := lower(origin)
	old := zs.snapshot()
	s, ok := old.m[key]
	if !ok {
		return nil
	}
	m := maps.Clone(old.m)
	delete(m, key)
	zs.cur.Store(&zoneMap{m: m})
	defer zs.gen.Add(1)
	// Readers holding the old map see an empty slot and look further up.
	return s.z.Swap(nil)
}

// SetServfail marks the zone named origin as one the node is responsible
// for but cannot answer from (expired, or not yet transferred), so that its
// names get SERVFAIL; false undoes it. Marking a name not in the set adds
// it, without data. Replace clears the mark.
func (zs *Zones) SetServfail(origin string, servfail bool) {
	zs.mu.Lock()
	defer zs.mu.Unlock()
	defer zs.gen.Add(1)
	key := lower(origin)
	if s, ok := zs.snapshot().m[key]; ok {
		s.servfail.Store(servfail)
		return
	}
	if !servfail {
		return
	}
	m := maps.Clone(zs.snapshot().m)
	if m == nil {
		m = map[string]*slot{}
	}
	s := &slot{}
	s.servfail.Store(true)
	m[key] = s
	zs.cur.Store(&zoneMap{m: m})
}

// Servfail reports whether the zone named origin is marked by SetServfail.
func (zs *Zones) Servfail(origin string) bool {
	s, ok := zs.snapshot().m[lower(origin)]
	return ok && s.servfail.Load()
}

// Generation changes after every change to the set or its zones, once the
// change is visible to readers. Response caches key on it.
func (zs *Zones) Generation() uint64 { return zs.gen.Load() }

// Get returns the zone named origin, or nil.
func (zs *Zones) Get(origin string) *Zone {
	if s, ok := zs.snapshot().m[lower(origin)]; ok {
		return s.z.Load()
	}
	return nil
}

// Len returns the number of zones.
func (zs *Zones) Len() int { return len(zs.snapshot().m) }

// Find returns the zone with the longest origin that qname is at or below,
// or nil. It costs one map lookup per label of qname.
func (zs *Zones) Find(qname string) *Zone {
	return zs.snapshot().find(lower(qname))
}

func (m *zoneMap) find(lname string) *Zone {
	if s := m.findSlot(lname); s != nil && !s.servfail.Load() {
		return s.z.Load()
	}
	return nil
}

// findSlot returns the slot of the longest origin at or above lname that
// has data or is marked SERVFAIL, or nil.
func (m *zoneMap) findSlot(lname string) *slot {
	for name := lname; ; {
		if s, ok := m.m[name]; ok && (s.servfail.Load() || s.z.Load() != nil) {
			return s
		}
		p, ok := parent(name)
		if !ok {
			return nil
		}
		name = p
	}
}

// parentOf returns the closest zone above z, which answers DS queries for
// z's apex (RFC 4035 section 3.1.4.1), or nil.
func (m *zoneMap) parentOf(z *Zone) *Zone {
	p, ok := parent(z.origin)
	if !ok {
		return nil
	}
	return m.find(p)
}
