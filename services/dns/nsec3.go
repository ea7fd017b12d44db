package authdns

import (
	"slices"
	"sort"
	"strings"

	"github.com/miekg/dns"
)

// nsec3Chain is a zone's NSEC3 records, sorted by hash so that matching and
// covering records are found by binary search. Hashes of query names are
// computed per query (RFC 9276 keeps iterations at 0), never for the whole
// zone at load time, which keeps building a million-name zone fast.
type nsec3Chain struct {
	active  bool // NSEC3PARAM at the apex matches the chain: use it for proofs
	alg     uint8
	iter    uint16
	salt    string
	entries []nsec3Entry // records with the active parameters, sorted by hash
	raw     []dns.RR     // every NSEC3 record and its RRSIGs, for All
}

type nsec3Entry struct {
	hash string // uppercase base32hex, the first label of the owner
	rrset
}

// buildNSEC3 groups the NSEC3 records by owner and picks the parameters
// from the apex NSEC3PARAM, as NSD does: the first one with flags 0 for
// which the chain has a record matching the apex.
func (b *builder) buildNSEC3() error {
	z := b.z
	if len(b.nsec3rr) == 0 {
		return nil
	}
	c := &nsec3Chain{}
	z.nsec3 = c
	var params []*dns.NSEC3PARAM
	if s := z.apexSetOf(dns.TypeNSEC3PARAM); s != nil {
		for _, rr := range s.data() {
			if p := rr.(*dns.NSEC3PARAM); p.Flags == 0 {
				params = append(params, p)
			}
		}
	}
	// Sort by hash, computing each key once: a signed zone has as many
	// NSEC3 records as names.
	type keyed struct {
		hash string
		rr   dns.RR
	}
	ks := make([]keyed, len(b.nsec3rr))
	for i, rr := range b.nsec3rr {
		ks[i] = keyed{strings.ToUpper(firstLabel(rr.Header().Name)), rr}
	}
	slices.SortStableFunc(ks, func(x, y keyed) int { return strings.Compare(x.hash, y.hash) })
	for i := range ks {
		b.nsec3rr[i] = ks[i].rr
	}
	for _, p := range params {
		c.alg, c.iter, c.salt = p.Hash, p.Iterations, strings.ToUpper(p.Salt)
		c.entries = c.group(b.nsec3rr)
		if _, ok := c.find(dns.HashName(z.origin, c.alg, c.iter, c.salt)); ok {
			c.active = true
			break
		}
	}
	if !c.active {
		c.entries = nil
	}
	c.raw = b.nsec3rr
	return nil
}

func (c *nsec3Chain) matches(n *dns.NSEC3) bool {
	return n.Hash == c.alg && n.Iterations == c.iter && strings.EqualFold(n.Salt, c.salt)
}

// group makes one entry per owner from records sorted by owner: the NSEC3
// records with the chain's parameters, then the RRSIGs covering them.
func (c *nsec3Chain) group(rrs []dns.RR) []nsec3Entry {
	var out []nsec3Entry
	for i := 0; i < len(rrs); {
		h := strings.ToUpper(firstLabel(rrs[i].Header().Name))
		j := i
		for j < len(rrs) && strings.EqualFold(firstLabel(rrs[j].Header().Name), h) {
			j++
		}
		var set []dns.RR
		for _, rr := range rrs[i:j] {
			if n, ok := rr.(*dns.NSEC3); ok && c.matches(n) {
				set = append(set, rr)
			}
		}
		n := len(set)
		if n > 0 {
			for _, rr := range rrs[i:j] {
				if _, ok := rr.(*dns.RRSIG); ok {
					set = append(set, rr)
				}
			}
			out = append(out, nsec3Entry{hash: h, rrset: rrset{rrs: set, n: int32(n), typ: dns.TypeNSEC3}})
		}
		i = j
	}
	return out
}

// find returns the entry whose hash equals h, or else the one that covers
// h: the previous hash, wrapping around from the first to the last.
func (c *nsec3Chain) find(h string) (int, bool) {
	if len(c.entries) == 0 {
		return -1, false
	}
	i := sort.Search(len(c.entries), func(i int) bool { return c.entries[i].hash >= h })
	if i < len(c.entries) && c.entries[i].hash == h {
		return i, true
	}
	if i == 0 {
		return len(c.entries) - 1, false
	}
	return i - 1, false
}

func (c *nsec3Chain) hash(name string) string {
	return dns.HashName(name, c.alg, c.iter, c.salt)
}

// lookup returns the NSEC3 RRset matching or covering name.
func (c *nsec3Chain) lookup(name string) (*rrset, string, bool) {
	i, exact := c.find(c.hash(name))
	if i < 0 {
		return nil, "", false
	}
	e := &c.entries[i]
	return &e.rrset, e.rrs[0].Header().Name, exact
}

// nsec3 returns the zone's chain when it is usable for proofs.
func (z *Zone) nsec3On() *nsec3Chain {
	if z.nsec3 != nil && z.nsec3.active {
		return z.nsec3
	}
	return nil
}

// addNSEC3 adds the NSEC3 matching or covering name; with exactOnly it
// adds it only when it matches. It reports whether it matched.
func (a *answerer) addNSEC3(z *Zone, name string, exactOnly bool) bool {
	s, owner, exact := z.nsec3.lookup(name)
	if s == nil || (exactOnly && !exact) {
		return exact
	}
	a.add(secAuthority, s, owner, z)
	return exact
}

// nsec3NextCloser adds the NSEC3 covering the next closer name of qname
// below the closest encloser ce (RFC 5155 section 7.2.1).
func (a *answerer) nsec3NextCloser(z *Zone, ce *node, lname string) {
	a.addNSEC3(z, childOf(lname, lower(ce.name)), false)
}

// nsec3NameError is RFC 5155 section 7.2.2: the closest encloser proof
// (next closer covered, closest encloser matched) and the NSEC3 covering
// the wildcard at the closest encloser, in NSD's order.
func (a *answerer) nsec3NameError(z *Zone, ce *node, lname string) {
	a.nsec3NextCloser(z, ce, lname)
	a.addNSEC3(z, ce.name, true)
	a.addNSEC3(z, wildcardOf(ce.name), false)
}

// nsec3NoData is RFC 5155 sections 7.2.3 to 7.2.5, following NSD's
// nsec3_answer_nodata: DS queries get the delegation proof, wildcard
// no-data the closest encloser and wildcard matches, and other names their
// matching NSEC3, or for an empty non-terminal without one (opt-out) a
// closest provable encloser proof.
func (a *answerer) nsec3NoData(z *Zone, original *node) {
	switch {
	case a.q.Type == dns.TypeDS:
		if original == z.apex {
			a.addNSEC3(z, original.name, true)
			return
		}
		a.nsec3DSProof(z, original)
		if z.wildcardSource(original) {
			// A DS no-data from a wildcard (RFC 5155 section 7.2.5):
			// after the wildcard's own NSEC3, NSD adds the one matching
			// the closest encloser, the wildcard's parent.
			p, _ := parent(original.name)
			a.addNSEC3(z, p, true)
		}
	case z.wildcardSource(original):
		p, _ := parent(original.name)
		a.addNSEC3(z, p, true)
		a.addNSEC3(z, original.name, false)
	default:
		if _, _, exact := z.nsec3.lookup(original.name); exact {
			a.addNSEC3(z, original.name, true)
			return
		}
		// An empty non-terminal without its own NSEC3 (opt-out): cover
		// the next closer name, then match its provable parent.
		if enc, next := z.nsec3.provableEncloser(original.name, z.origin); enc != "" {
			a.addNSEC3(z, next, false)
			a.addNSEC3(z, enc, true)
		}
	}
}

// wildcardSource reports whether n is a wildcard that NSD treats as the
// source of a wildcard answer in no-data proofs: a "*" node that is its
// own wildcard_child_closest_match, which holds unless it has a "*" child
// of its own.
func (z *Zone) wildcardSource(n *node) bool {
	return isWildcard(n.name) && z.wild[n] == nil
}

// nsec3DSProof proves what a referral or DS no-data answer needs about the
// DS at n (NSD's nsec3_add_ds_proof), where n is a delegation point or,
// for a DS query, any other existing name: the NSEC3 matching n; or,
// when opt-out left n without one, the NSEC3 matching the closest
// provable encloser, followed by the one covering the next closer name
// (RFC 5155 section 7.2.7). When that next closer name is n itself, NSD
// adds the NSEC3 covering n only if n is a delegation point (or holds a
// DS): for other names it has no parent-side cover to add.
func (a *answerer) nsec3DSProof(z *Zone, n *node) {
	if a.addNSEC3(z, n.name, true) {
		return
	}
	enc, next := z.nsec3.provableEncloser(n.name, z.origin)
	if enc == "" {
		return
	}
	a.addNSEC3(z, enc, true)
	switch {
	case next != n.name:
		a.addNSEC3(z, next, false)
	case z.has(n, dns.TypeNS) || z.has(n, dns.TypeDS):
		a.addNSEC3(z, n.name, false)
	}
}

// provableEncloser returns the closest ancestor of name that has a matching
// NSEC3, and the name one label below it on the way to name.
func (c *nsec3Chain) provableEncloser(name, origin string) (enc, next string) {
	next = name
	for {
		p, ok := parent(next)
		if !ok || len(p) < len(origin) {
			return "", ""
		}
		if _, _, exact := c.lookup(p); exact {
			return p, next
		}
		next = p
	}
}
