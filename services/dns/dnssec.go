package authdns

import (
	"sort"

	"github.com/miekg/dns"
)

// nsecEntry is one NSEC owner with its canonical sort key.
type nsecEntry struct {
	key string
	n   *node
}

// coveringNSEC returns the node holding the NSEC that covers or matches
// name: the last NSEC owner at or before name in canonical order. This is
// NSD's find_covering_nsec: for an empty non-terminal or a missing name
// it is the previous NSEC in the chain.
func (z *Zone) coveringNSEC(name string) *node {
	if len(z.nsec) == 0 {
		return nil
	}
	key := canonicalKey(name)
	i := sort.Search(len(z.nsec), func(i int) bool { return z.nsec[i].key > key })
	if i == 0 {
		return nil // before the apex: not in this zone
	}
	return z.nsec[i-1].n
}

// addNSEC puts the NSEC RRset covering name in the authority section.
func (a *answerer) addNSEC(z *Zone, name string) {
	if n := z.coveringNSEC(name); n != nil {
		a.add(secAuthority, a.set(z, n, dns.TypeNSEC), n.name, z)
	}
}

// secure reports whether answers from z get DNSSEC records.
func (a *answerer) secure(z *Zone) bool { return a.q.DO && z.signed }
