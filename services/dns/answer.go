package authdns

import (
	"github.com/miekg/dns"
)

// section orders the parts of a response as NSD's encode_answer does. The
// apex NS of a positive answer has its own section because it is optional:
// a server that has to truncate drops it, and then the additional records,
// before it sets TC.
type section uint8

const (
	secAnswer section = iota
	secAuthority
	secOptAuthority
	secAddA
	secAddAAAA
)

// entry is one RRset placed in a response, written with owner name owner
// (a wildcard expansion or the query's spelling) when it differs from the
// records' own.
type entry struct {
	set   *rrset
	owner string
	sec   section
	z     *Zone
}

// answerer collects the RRsets of one response. An RRset is added at most
// once, in the most important section it was asked for; that is also what
// stops CNAME loops.
type answerer struct {
	zones   *zoneMap
	q       Question
	entries []entry
	buf     [12]entry
	sets    []decoded // the RRsets decoded so far, see set
	setBuf  [6]decoded
	rcode   int
	aa      bool
	cnames  int
	qsuf    string // the query's spelling of its closest encloser, see respell
}

// decoded is an RRset that a lookup turned back into records, or nil when
// the node has no such RRset.
type decoded struct {
	n   *node
	typ uint16
	s   *rrset
}

// set returns the RRset of type t at n with at least one record, or nil.
// Each RRset is decoded at most once per lookup, so that the same RRset
// is the same *rrset wherever the lookup meets it.
func (a *answerer) set(z *Zone, n *node, t uint16) *rrset {
	if n == z.apex {
		return z.apexSetOf(t)
	}
	for _, d := range a.sets {
		if d.n == n && d.typ == t {
			return d.s
		}
	}
	var s *rrset
	if h, ok := z.findSet(n, t); ok && h.n > 0 {
		s = decodeSet(n, h)
	}
	if a.sets == nil {
		a.sets = a.setBuf[:0]
	}
	a.sets = append(a.sets, decoded{n: n, typ: t, s: s})
	return s
}

// add places s in sec and, for the types that have them, adds the
// addresses of its targets to the additional section. It reports whether
// s was new or moved to a more important section.
func (a *answerer) add(sec section, s *rrset, owner string, z *Zone) bool {
	if s == nil {
		return false
	}
	added := a.place(sec, s, owner, z)
	switch s.typ {
	case dns.TypeNS:
		a.additional(z, s, true)
	case dns.TypeMX, dns.TypeKX, dns.TypeSRV, dns.TypeMB, dns.TypeRT:
		a.additional(z, s, false)
	}
	return added
}

func (a *answerer) place(sec section, s *rrset, owner string, z *Zone) bool {
	if s == nil {
		return false
	}
	for i := range a.entries {
		e := &a.entries[i]
		if e.set == s && e.owner == owner {
			if sec < e.sec {
				e.sec = sec
				return true
			}
			return false
		}
	}
	if a.entries == nil {
		a.entries = a.buf[:0]
	}
	a.entries = append(a.entries, entry{set: s, owner: owner, sec: sec, z: z})
	return true
}

// additional adds the in-zone A and AAAA RRsets of the names an NS, MX, SRV
// and similar RRset points to. Only NS may use glue (addresses below a zone
// cut); wildcards are expanded, as in NSD's add_additional_rrsets.
func (a *answerer) additional(z *Zone, s *rrset, glue bool) {
	secA, secAAAA := secAddA, secAddAAAA
	if a.q.IPv6 && s.typ == dns.TypeNS {
		secA, secAAAA = secAddAAAA, secAddA // NSD puts AAAA glue first for IPv6 clients
	}
	for _, rr := range s.data() {
		target := additionalTarget(rr)
		lt := lower(target)
		if target == "" || !z.contains(lt) {
			continue
		}
		n, exact := z.closest(lt)
		if !glue && z.cutOf(n) != nil {
			continue
		}
		owner := n.name
		if !exact {
			w := z.wild[n]
			if w == nil {
				continue
			}
			n, owner = w, target
		}
		a.place(secA, a.set(z, n, dns.TypeA), owner, z)
		a.place(secAAAA, a.set(z, n, dns.TypeAAAA), owner, z)
	}
}

func additionalTarget(rr dns.RR) string {
	switch rr := rr.(type) {
	case *dns.NS:
		return rr.Ns
	case *dns.MX:
		return rr.Mx
	case *dns.KX:
		return rr.Exchanger
	case *dns.SRV:
		return rr.Target
	case *dns.MB:
		return rr.Mb
	case *dns.RT:
		return rr.Host
	}
	return ""
}

// Result is the outcome of a lookup, ready to go into a response.
type Result struct {
	Rcode         int
	Authoritative bool
	Answer        []dns.RR
	Ns            []dns.RR
	Extra         []dns.RR
}

// result writes the collected RRsets out, each followed by its RRSIGs when
// the query has DO and the zone is signed.
func (a *answerer) result() Result {
	r := Result{Rcode: a.rcode, Authoritative: a.aa}
	var counts [secAddAAAA + 1]int
	for _, e := range a.entries {
		counts[e.sec] += len(e.set.data())
		if a.secure(e.z) && e.set.typ != dns.TypeRRSIG {
			counts[e.sec] += len(e.set.sigs())
		}
	}
	if counts[secAnswer] > 0 {
		r.Answer = make([]dns.RR, 0, counts[secAnswer])
	}
	if n := counts[secAuthority] + counts[secOptAuthority]; n > 0 {
		r.Ns = make([]dns.RR, 0, n)
	}
	if n := counts[secAddA] + counts[secAddAAAA]; n > 0 {
		r.Extra = make([]dns.RR, 0, n)
	}
	for sec := secAnswer; sec <= secAddAAAA; sec++ {
		for _, e := range a.entries {
			if e.sec != sec {
				continue
			}
			out := &r.Answer
			switch sec {
			case secAuthority, secOptAuthority:
				out = &r.Ns
			case secAddA, secAddAAAA:
				out = &r.Extra
			}
			*out = a.appendOwned(*out, e.set.data(), e.owner)
			if a.secure(e.z) && e.set.typ != dns.TypeRRSIG {
				*out = a.appendOwned(*out, e.set.sigs(), e.owner)
			}
		}
	}
	return r
}

// appendOwned appends rrs, copying those whose names have to be written
// differently: a wildcard expansion's owner, or the query's spelling.
// Stored records are never modified.
func (a *answerer) appendOwned(out []dns.RR, rrs []dns.RR, owner string) []dns.RR {
	for _, rr := range rrs {
		if owner != "" && rr.Header().Name != owner {
			rr = dns.Copy(rr)
			rr.Header().Name = owner
		}
		if a.qsuf != "" {
			rr = respellRR(rr, a.qsuf)
		}
		out = append(out, rr)
	}
	return out
}
