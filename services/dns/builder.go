package authdns

import (
	"fmt"
	"slices"

	"github.com/miekg/dns"
)

// NewZone builds a zone from its records. It takes ownership of rrs: the
// records become part of the zone (their owner names are replaced by one
// shared string per name) and must not be modified afterwards. Exact
// duplicate records are dropped. Errors name the offending record.
func NewZone(origin string, rrs []dns.RR) (*Zone, error) {
	b := builder{z: &Zone{origin: lower(origin)}}
	if err := b.build(rrs); err != nil {
		return nil, fmt.Errorf("dns: zone %s: %w", b.z.origin, err)
	}
	return b.z, nil
}

type builder struct {
	z       *Zone
	parent  []int32 // node index -> parent node index, -1 for the apex
	nsec3rr []dns.RR
}

func (b *builder) build(rrs []dns.RR) error {
	z := b.z
	z.index = make(map[string]int32, len(rrs)/2+1)
	z.nodes = make([]node, 0, len(rrs)/2+1)
	nodeOf := make([]int32, len(rrs))
	count := make([]int32, 0, len(rrs)/2+1)
	kept := 0
	var soaCount int
	for _, rr := range rrs {
		h := rr.Header()
		if h.Class != dns.ClassINET {
			return fmt.Errorf("%w: %s", ErrClass, rr)
		}
		switch h.Rrtype {
		case dns.TypeOPT, dns.TypeTSIG, dns.TypeTKEY, dns.TypeIXFR, dns.TypeAXFR, dns.TypeANY, dns.TypeNone:
			return fmt.Errorf("%w: %s", ErrRecordType, rr)
		}
		key := lower(h.Name)
		if !z.contains(key) {
			return fmt.Errorf("%w: %s", ErrOutOfZone, rr)
		}
		if h.Rrtype == dns.TypeSOA {
			if key != z.origin {
				return fmt.Errorf("%w: %s", ErrSOANotApex, rr)
			}
			if soaCount++; soaCount > 1 {
				return fmt.Errorf("%w: %s", ErrMultipleSOA, rr)
			}
		}
		if isNSEC3(rr) {
			// NSEC3 owners are hashes, not names: they live in the chain,
			// not in the tree, so they never match a query.
			b.nsec3rr = append(b.nsec3rr, rr)
			continue
		}
		i, ok := z.index[key]
		if !ok {
			i = b.addNode(key, h.Name)
			count = append(count, 0)
		}
		h.Name = z.nodes[i].name
		nodeOf[kept] = i
		rrs[kept] = rr
		count[i]++
		kept++
	}
	rrs = rrs[:kept]
	if soaCount == 0 {
		return ErrNoSOA
	}
	z.records = kept + len(b.nsec3rr)
	b.addEmptyNonTerminals(&count)
	slab, off := groupByNode(rrs, nodeOf, count)
	if err := b.buildSets(slab, off); err != nil {
		return err
	}
	if len(z.nodes) < cap(z.nodes)*3/4 {
		z.nodes = slices.Clone(z.nodes) // give back what the guess overshot
	}
	z.apex = z.node(z.origin)
	z.apexSet = z.decodeAll(z.apex)
	s := z.apexSetOf(dns.TypeSOA)
	if s == nil {
		return ErrNoSOA // the only SOA was dropped as a duplicate: impossible, but cheap to say
	}
	soa, ok := s.data()[0].(*dns.SOA)
	if !ok {
		return fmt.Errorf("%w: %s", ErrNoSOA, s.data()[0])
	}
	z.soa = soa
	// Negative answers carry the SOA, and its RRSIGs, with the negative
	// TTL (RFC 2308 section 3; NSD lowers the RRSIG TTL too).
	ttl := min(z.soa.Hdr.Ttl, z.soa.Minttl)
	nx := []dns.RR{z.soa}
	nx = append(nx, s.sigs()...)
	for i, rr := range nx {
		nx[i] = dns.Copy(rr)
		nx[i].Header().Ttl = ttl
	}
	z.soaNX = &rrset{rrs: nx, n: 1, typ: dns.TypeSOA}
	for _, as := range z.apexSet {
		if as.n < int32(len(as.rrs)) {
			z.signed = true
		}
	}
	b.resolveCuts()
	b.indexWildcards()
	b.indexNSEC()
	return b.buildNSEC3()
}

func isNSEC3(rr dns.RR) bool {
	switch rr := rr.(type) {
	case *dns.NSEC3:
		return true
	case *dns.RRSIG:
		return rr.TypeCovered == dns.TypeNSEC3
	}
	return false
}

func (b *builder) addNode(key, name string) int32 {
	z := b.z
	i := int32(len(z.nodes))
	z.nodes = append(z.nodes, node{name: name, cut: -1})
	z.index[key] = i
	b.parent = append(b.parent, -2) // not yet known
	return i
}

// addEmptyNonTerminals gives every name between a record's owner and the
// apex a node, so that a name exists exactly when it is in the index.
func (b *builder) addEmptyNonTerminals(count *[]int32) {
	z := b.z
	for i := 0; i < len(z.nodes); i++ { // grows while we walk
		key := lower(z.nodes[i].name)
		if key == z.origin {
			b.parent[i] = -1
			continue
		}
		pname, _ := parent(z.nodes[i].name)
		pkey, _ := parent(key)
		pi, ok := z.index[pkey]
		if !ok {
			pi = b.addNode(pkey, pname)
			*count = append(*count, 0)
		}
		b.parent[i] = pi
	}
	if _, ok := z.index[z.origin]; !ok {
		// Only reachable without records at the apex, which the SOA check
		// rejects; keep the invariant that the apex node exists.
		b.addNode(z.origin, z.origin)
		*count = append(*count, 0)
	}
}

// groupByNode lays out all records in one slice, node after node, keeping
// the input order within a node. It is a counting sort: O(records). Node i
// owns slab[off[i]:off[i+1]].
func groupByNode(rrs []dns.RR, nodeOf []int32, count []int32) (slab []dns.RR, off []int32) {
	off = make([]int32, len(count)+1)
	for i, c := range count {
		off[i+1] = off[i] + c
	}
	slab = make([]dns.RR, len(rrs))
	pos := slices.Clone(off[:len(count)])
	for i, rr := range rrs {
		n := nodeOf[i]
		slab[pos[n]] = rr
		pos[n]++
	}
	return slab, off
}

// buildSets splits each node's records into RRsets, in order of first
// appearance of their type, each followed by its RRSIGs, checks the rules
// that need a whole node (one CNAME and nothing else, one DNAME) and packs
// the RRsets into the zone's arena.
func (b *builder) buildSets(slab []dns.RR, off []int32) error {
	z := b.z
	p := packer{data: make([]byte, 1, len(slab)*16+1)} // data[0] = 0: no RRsets
	var sets []rrset
	var tmp []dns.RR
	var types []uint16
	for i := range z.nodes {
		r := slab[off[i]:off[i+1]]
		sets = sets[:0]
		switch len(r) {
		case 0:
		case 1: // the common case: one record, one RRset
			sets = append(sets, single(r))
		default:
			types = types[:0]
			for _, rr := range r {
				if _, ok := rr.(*dns.RRSIG); !ok && !slices.Contains(types, rr.Header().Rrtype) {
					types = append(types, rr.Header().Rrtype)
				}
			}
			ndata := len(types)
			for _, rr := range r {
				if sig, ok := rr.(*dns.RRSIG); ok && !slices.Contains(types, sig.TypeCovered) {
					types = append(types, sig.TypeCovered)
				}
			}
			if err := checkNode(r, types[:ndata]); err != nil {
				return err
			}
			tmp = tmp[:0]
			for ti, t := range types {
				start := len(tmp)
				if ti < ndata {
					for _, rr := range r {
						if rr.Header().Rrtype == t {
							tmp = appendUnique(tmp, start, rr)
						}
					}
				}
				n := len(tmp) - start
				for _, rr := range r {
					if sig, ok := rr.(*dns.RRSIG); ok && sig.TypeCovered == t {
						tmp = appendUnique(tmp, start+n, rr)
					}
				}
				sets = append(sets, rrset{n: int32(n), typ: t, rrs: tmp[start:len(tmp):len(tmp)]})
			}
			z.records -= len(r) - len(tmp)
			if err := checkMulti(sets); err != nil {
				return err
			}
		}
		o, err := p.node(sets)
		if err != nil {
			return err
		}
		z.nodes[i].off = o
		clear(r) // the records are in the arena now: let them go
	}
	z.data = p.data
	if cap(z.data) > len(z.data)*9/8 {
		z.data = slices.Clone(z.data)
	}
	return nil
}

// single makes the RRset of a node with exactly one record.
func single(r []dns.RR) rrset {
	if sig, ok := r[0].(*dns.RRSIG); ok {
		return rrset{rrs: r[:1:1], n: 0, typ: sig.TypeCovered}
	}
	return rrset{rrs: r[:1:1], n: 1, typ: r[0].Header().Rrtype}
}

// appendUnique appends rr unless an equal record is already in
// list[from:]. Zone files and transfers do carry duplicates, and NSD drops
// them too. Large RRsets are compared through their text to stay linear.
func appendUnique(list []dns.RR, from int, rr dns.RR) []dns.RR {
	seen := list[from:]
	if len(seen) > 32 {
		txt := rdataText(rr)
		for _, o := range seen {
			if o.Header().Rrtype == rr.Header().Rrtype && rdataText(o) == txt {
				return list
			}
		}
		return append(list, rr)
	}
	for _, o := range seen {
		if dns.IsDuplicate(o, rr) {
			return list
		}
	}
	return append(list, rr)
}

func rdataText(rr dns.RR) string {
	return rr.String()[len(rr.Header().String()):]
}

// checkNode enforces RFC 1034 section 3.6.2 and RFC 2181 section 10.1:
// a CNAME owner has no other data, except the DNSSEC records about it.
func checkNode(r []dns.RR, types []uint16) error {
	if !slices.Contains(types, dns.TypeCNAME) {
		return nil
	}
	for _, rr := range r {
		switch rr.Header().Rrtype {
		case dns.TypeCNAME, dns.TypeRRSIG, dns.TypeNSEC:
		default:
			return fmt.Errorf("%w: %s", ErrCNAMEAndData, rr)
		}
	}
	return nil
}

// checkMulti rejects singleton types with more than one record.
func checkMulti(sets []rrset) error {
	for _, s := range sets {
		if s.n < 2 {
			continue
		}
		switch s.typ {
		case dns.TypeCNAME:
			return fmt.Errorf("%w: %s", ErrMultiCNAME, s.rrs[1])
		case dns.TypeDNAME:
			return fmt.Errorf("%w: %s", ErrMultiDNAME, s.rrs[1])
		}
	}
	return nil
}

// resolveCuts records for every node the topmost delegation at or above
// it. Parents are resolved before children through the parent links, so
// each node is visited once.
func (b *builder) resolveCuts() {
	z := b.z
	const unknown = -2
	state := make([]int32, len(z.nodes))
	for i := range state {
		state[i] = unknown
	}
	var stack []int32
	for i := range z.nodes {
		for j := int32(i); state[j] == unknown; j = b.parent[j] {
			stack = append(stack, j)
			if b.parent[j] < 0 {
				break
			}
		}
		for k := len(stack) - 1; k >= 0; k-- {
			j := stack[k]
			cut := int32(-1)
			if p := b.parent[j]; p >= 0 {
				cut = state[p]
			}
			n := &z.nodes[j]
			if cut < 0 && b.parent[j] >= 0 && z.has(n, dns.TypeNS) {
				cut = j
			}
			state[j] = cut
			n.cut = cut
		}
		stack = stack[:0]
	}
}

// indexWildcards notes which nodes have a "*" child.
func (b *builder) indexWildcards() {
	z := b.z
	for i := range z.nodes {
		if isWildcard(z.nodes[i].name) && b.parent[i] >= 0 {
			if z.wild == nil {
				z.wild = make(map[*node]*node)
			}
			z.wild[&z.nodes[b.parent[i]]] = &z.nodes[i]
		}
	}
}

// indexNSEC sorts the NSEC owners canonically for the covering-NSEC search.
func (b *builder) indexNSEC() {
	z := b.z
	for i := range z.nodes {
		if z.has(&z.nodes[i], dns.TypeNSEC) {
			z.nsec = append(z.nsec, nsecEntry{key: canonicalKey(z.nodes[i].name), n: &z.nodes[i]})
		}
	}
	slices.SortFunc(z.nsec, func(a, b nsecEntry) int { return cmpString(a.key, b.key) })
}

func cmpString(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
