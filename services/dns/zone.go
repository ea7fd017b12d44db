package authdns

import (
	"iter"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// Zone is one authoritative zone, immutable once built: any number of
// goroutines may answer from it without locking. An update builds a new
// Zone and swaps it in with [Zones.Replace].
type Zone struct {
	origin  string // lowercased
	soa     *dns.SOA
	soaNX   *rrset // the SOA with TTL min(TTL, MINIMUM), RFC 2308 section 3
	apex    *node
	apexSet []rrset          // the apex RRsets, decoded once: most answers need one
	nodes   []node           // one per owner name, empty non-terminals included
	data    []byte           // every node's RRsets in wire format, see arena.go
	index   map[string]int32 // lowercased name -> nodes index
	wild    map[*node]*node  // node -> its "*" child, for the few nodes that have one
	records int

	signed bool        // RRSIGs at the apex: answer DO=1 queries with signatures
	nsec   []nsecEntry // NSEC owners in canonical order
	nsec3  *nsec3Chain // nil unless NSEC3PARAM at the apex matches a chain
}

// node is one owner name. Its RRsets, in z.data at off, keep the order in
// which their types first appeared in the zone, because NSD's answer to
// ANY depends on it.
type node struct {
	name string // as first seen; the owner name of every record of the node
	off  uint32 // start of the node's RRsets in z.data
	cut  int32  // index of the topmost delegation at or above this node, or -1
}

// rrset is the records of one type at a node followed by the RRSIGs that
// cover that type. Keeping both in one slice costs one slice header per
// RRset instead of two.
type rrset struct {
	rrs []dns.RR
	n   int32 // len(data); rrs[n:] are the RRSIGs
	typ uint16
}

func (s *rrset) data() []dns.RR { return s.rrs[:s.n] }
func (s *rrset) sigs() []dns.RR { return s.rrs[s.n:] }

// apexSetOf returns the apex RRset of type t with at least one record, or
// nil.
func (z *Zone) apexSetOf(t uint16) *rrset {
	for i := range z.apexSet {
		if z.apexSet[i].typ == t && z.apexSet[i].n > 0 {
			return &z.apexSet[i]
		}
	}
	return nil
}

// Origin returns the zone's name, lowercased and fully qualified.
func (z *Zone) Origin() string { return z.origin }

// SOA returns the zone's SOA record. It is shared: do not modify it.
func (z *Zone) SOA() *dns.SOA { return z.soa }

// Serial returns the SOA serial.
func (z *Zone) Serial() uint32 { return z.soa.Serial }

// Refresh, Retry and Expire return the SOA timers a secondary runs on.
func (z *Zone) Refresh() time.Duration { return time.Duration(z.soa.Refresh) * time.Second }
func (z *Zone) Retry() time.Duration   { return time.Duration(z.soa.Retry) * time.Second }
func (z *Zone) Expire() time.Duration  { return time.Duration(z.soa.Expire) * time.Second }

// NegativeTTL returns the TTL of negative answers: min(SOA TTL, MINIMUM).
func (z *Zone) NegativeTTL() time.Duration {
	return time.Duration(z.soaNX.rrs[0].Header().Ttl) * time.Second
}

// Len returns the number of records in the zone, RRSIG and NSEC3 included.
func (z *Zone) Len() int { return z.records }

// Signed reports whether the zone carries DNSSEC signatures at its apex.
func (z *Zone) Signed() bool { return z.signed }

// All yields every record of the zone, SOA first. The SOA and the NSEC3
// records are shared: do not modify them.
func (z *Zone) All() iter.Seq[dns.RR] {
	return func(yield func(dns.RR) bool) {
		if !yield(z.soa) {
			return
		}
		for i := range z.nodes {
			n := &z.nodes[i]
			it := z.setsOf(n)
			for h, ok := it.next(); ok; h, ok = it.next() {
				s := decode(n, h)
				for j, rr := range s.rrs {
					if n == z.apex && h.typ == dns.TypeSOA && j == 0 {
						continue // yielded first
					}
					if !yield(rr) {
						return
					}
				}
			}
		}
		if z.nsec3 != nil {
			for _, rr := range z.nsec3.raw {
				if !yield(rr) {
					return
				}
			}
		}
	}
}

// node returns the node for a lowercased name, or nil.
func (z *Zone) node(lname string) *node {
	if i, ok := z.index[lname]; ok {
		return &z.nodes[i]
	}
	return nil
}

// cutOf returns the delegation a node lies at or below, or nil when the
// zone is authoritative for it.
func (z *Zone) cutOf(n *node) *node {
	if n.cut < 0 {
		return nil
	}
	return &z.nodes[n.cut]
}

// contains reports whether the lowercased name is at or below the origin.
func (z *Zone) contains(lname string) bool {
	return inZone(lname, z.origin)
}

func inZone(lname, origin string) bool {
	if origin == "." {
		return true
	}
	return lname == origin || (strings.HasSuffix(lname, origin) && lname[len(lname)-len(origin)-1] == '.' && !escapedAt(lname, len(lname)-len(origin)-1))
}

// escapedAt reports whether the byte at i is escaped by a backslash.
func escapedAt(s string, i int) bool {
	n := 0
	for j := i - 1; j >= 0 && s[j] == '\\'; j-- {
		n++
	}
	return n%2 == 1
}

// closest returns the node of the lowercased name, or its closest existing
// ancestor (the closest encloser) with exact=false. The name must be in the
// zone; the apex always exists, so the walk ends there at the latest.
func (z *Zone) closest(lname string) (n *node, exact bool) {
	if n := z.node(lname); n != nil {
		return n, true
	}
	for name := lname; ; {
		p, ok := parent(name)
		if !ok || len(p) < len(z.origin) {
			return z.apex, false
		}
		if n := z.node(p); n != nil {
			return n, false
		}
		name = p
	}
}
