package authdns

import (
	"github.com/miekg/dns"
)

// Question is what a lookup needs from a request.
type Question struct {
	Name  string // as sent; wildcard answers are written with this spelling
	Type  uint16
	Class uint16 // IN or ANY; the caller refuses other classes
	DO    bool   // DNSSEC OK bit from the request's OPT record
	IPv6  bool   // the query came over IPv6: list AAAA glue before A
}

// maxCNAMEs bounds the CNAME links followed for one query.
const maxCNAMEs = 64

// Lookup answers q from the zones, following RFC 1034 section 4.3.2 the way
// NSD 4.6 does (see the package documentation). A name outside every zone
// gets REFUSED.
func (zs *Zones) Lookup(q Question) Result {
	q.Name = dns.Fqdn(q.Name)
	a := answerer{zones: zs.snapshot(), q: q}
	lname := lower(q.Name)
	s := a.zones.findSlot(lname)
	if s == nil {
		return Result{Rcode: dns.RcodeRefused}
	}
	z := s.z.Load()
	if s.servfail.Load() || z == nil {
		return Result{Rcode: dns.RcodeServerFailure}
	}
	a.lookupZone(z, q.Name, lname)
	return a.result()
}

// setSpelling remembers how the query spells its closest encloser, whose
// lowercased form is the last celen bytes of the name.
func (a *answerer) setSpelling(name string, celen int) {
	name = dns.Fqdn(name)
	if celen <= 1 || celen > len(name) {
		return
	}
	a.qsuf = name[len(name)-celen:]
}

func (a *answerer) setAA() { a.aa = a.q.Class != dns.ClassANY }

// lookupZone answers name from zone z: a referral when the name is at or
// below a zone cut, an authoritative answer otherwise. DS is the exception:
// it belongs to the parent side of a cut (RFC 4035 section 3.1.4.1).
func (a *answerer) lookupZone(z *Zone, name, lname string) {
	n, exact := z.closest(lname)
	if a.cnames == 0 && a.qsuf == "" {
		a.setSpelling(name, len(lower(n.name)))
	}
	if exact && n == z.apex && a.q.Type == dns.TypeDS {
		p := a.zones.parentOf(z)
		if p == nil {
			a.setAA()
			a.nodata(z, n)
			return
		}
		z = p
		n, exact = z.closest(lname)
	}
	if cut := z.cutOf(n); cut != nil && !(exact && n == cut && a.q.Type == dns.TypeDS) {
		a.delegation(z, cut)
		return
	}
	a.setAA()
	a.authoritative(z, n, exact, name, lname)
}

// authoritative answers for a name the zone is authoritative for: n is the
// node of the name when exact, else its closest encloser.
func (a *answerer) authoritative(z *Zone, n *node, exact bool, name, lname string) {
	match, original, owner := n, n, n.name
	if !exact {
		match = nil
		if w := z.wild[n]; w != nil { // RFC 4592: n is the closest encloser
			match, original, owner = w, w, name
			if a.secure(z) && z.nsec3On() != nil {
				a.nsec3NextCloser(z, n, lname)
			}
		}
	}
	if a.secure(z) {
		if z.nsec3On() != nil {
			if match == nil {
				a.nsec3NameError(z, n, lname)
			} else if z.empty(match) {
				a.nsec3NoData(z, match)
			}
		} else if !exact {
			a.addNSEC(z, lname) // covers the name; for a wildcard, proves no closer match
			if match == nil {
				a.addNSEC(z, wildcardOf(n.name)) // no wildcard either
			}
		}
	}
	if match == nil {
		a.rcode = dns.RcodeNameError
		a.soa(z)
		return
	}
	a.domain(z, match, original, owner)
}

// domain answers from an existing (or wildcard-synthesised) node.
func (a *answerer) domain(z *Zone, n, original *node, owner string) {
	t := a.q.Type
	switch {
	case t == dns.TypeANY:
		s := a.pickANY(z, n)
		if s == nil {
			a.nodata(z, original)
			return
		}
		a.add(secAnswer, s, owner, z)
	case t == dns.TypeNSEC3:
		a.nodata(z, original)
		return
	case t == dns.TypeRRSIG && a.set(z, n, t) == nil:
		s := a.allSigs(z, n)
		if s == nil {
			if !a.cname(z, n, owner) {
				a.nodata(z, original)
			}
			return
		}
		a.add(secAnswer, s, owner, z)
	case a.set(z, n, t) != nil:
		a.add(secAnswer, a.set(z, n, t), owner, z)
	default:
		if !a.cname(z, n, owner) {
			a.nodata(z, original)
		}
		return
	}
	if a.q.Class != dns.ClassANY && t != dns.TypeDNSKEY && t != dns.TypeDS && t != dns.TypeANY {
		// RFC 1034 puts the zone's NS RRset in positive answers; NSD
		// leaves it out for the big DNSSEC types and for ANY.
		a.add(secOptAuthority, z.apexSetOf(dns.TypeNS), z.apex.name, z)
	}
}

// cname answers with the CNAME at n, if any, and restarts the lookup at
// its target, in whichever of our zones holds it. It reports whether n had
// a CNAME.
func (a *answerer) cname(z *Zone, n *node, owner string) bool {
	s := a.set(z, n, dns.TypeCNAME)
	if s == nil {
		return false
	}
	if !a.add(secAnswer, s, owner, z) || a.cnames >= maxCNAMEs {
		return true // already in the answer: a loop
	}
	a.cnames++
	c, ok := s.data()[0].(*dns.CNAME)
	if !ok {
		return true
	}
	target := c.Target
	lt := lower(target)
	if tz := a.zones.find(lt); tz != nil {
		a.lookupZone(tz, target, lt)
	}
	return true
}

// pickANY chooses the one RRset an ANY query gets (RFC 8482), as NSD's
// minimise-any does: the first of A, AAAA, SOA, MX or PTR; else the last
// other type; else the last of DNSKEY, NSEC and RRSIG.
func (a *answerer) pickANY(z *Zone, n *node) *rrset {
	var normal, nonpref uint16 // 0: none
	it := z.setsOf(n)
	for h, ok := it.next(); ok; h, ok = it.next() {
		if h.n == 0 {
			continue
		}
		switch h.typ {
		case dns.TypeA, dns.TypeAAAA, dns.TypeSOA, dns.TypeMX, dns.TypePTR:
			return a.set(z, n, h.typ)
		case dns.TypeDNSKEY, dns.TypeNSEC:
			nonpref = h.typ
		default:
			normal = h.typ
		}
	}
	if normal != 0 {
		return a.set(z, n, normal)
	}
	if !a.secure(z) {
		if s := a.allSigs(z, n); s != nil {
			return s
		}
	}
	if nonpref != 0 {
		return a.set(z, n, nonpref)
	}
	return nil
}

// allSigs returns the RRSIGs at n as one RRset, for queries of type RRSIG.
func (a *answerer) allSigs(z *Zone, n *node) *rrset {
	sets := z.apexSet
	if n != z.apex {
		sets = z.decodeAll(n)
	}
	var rrs []dns.RR
	for _, s := range sets {
		rrs = append(rrs, s.sigs()...)
	}
	if len(rrs) == 0 {
		return nil
	}
	return &rrset{rrs: rrs, n: int32(len(rrs)), typ: dns.TypeRRSIG}
}

// soa adds the negative-answer SOA to the authority section.
func (a *answerer) soa(z *Zone) {
	if a.q.Class != dns.ClassANY {
		a.add(secAuthority, z.soaNX, z.apex.name, z)
	}
}

// nodata says the name exists without the asked type: the SOA, and the
// NSEC or NSEC3 proving it. For a wildcard no-data, original is the
// wildcard node, not the expansion (RFC 4035 section 3.1.3.4).
func (a *answerer) nodata(z *Zone, original *node) {
	a.soa(z)
	if !a.secure(z) {
		return
	}
	if z.nsec3On() != nil {
		a.nsec3NoData(z, original)
		return
	}
	a.addNSEC(z, original.name)
}

// delegation refers the client to the servers of the child zone at cut,
// with the DS RRset or the proof that there is none when DO is set.
func (a *answerer) delegation(z *Zone, cut *node) {
	a.aa = a.cnames > 0 // after a CNAME the answer so far is ours
	a.add(secAuthority, a.set(z, cut, dns.TypeNS), cut.name, z)
	if !a.secure(z) {
		return
	}
	switch {
	case a.set(z, cut, dns.TypeDS) != nil:
		a.add(secAuthority, a.set(z, cut, dns.TypeDS), cut.name, z)
	case z.nsec3On() != nil:
		a.nsec3DSProof(z, cut)
	case a.set(z, cut, dns.TypeNSEC) != nil:
		a.add(secAuthority, a.set(z, cut, dns.TypeNSEC), cut.name, z)
	}
}
