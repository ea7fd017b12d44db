package dnsserver

import (
	"github.com/miekg/dns"
)

// pack packs resp with opt (may be nil) as the last additional record into
// at most limit bytes, appending to out.
//
// When the response does not fit, it sheds what NSD sheds, in NSD's order:
// first the apex NS RRset that accompanies a positive answer, then
// additional RRsets from the end; neither sets TC, since the client needs
// them only as hints. Only when the answer (or the authority of a referral
// or negative answer) itself does not fit is TC set, keeping the whole
// RRsets that fit. The OPT record always goes in.
func pack(resp *dns.Msg, opt *dns.OPT, limit int, out []byte) ([]byte, error) {
	resp.Compress = true
	answer, ns, extra := resp.Answer, resp.Ns, resp.Extra
	fit := func(a, n, e []dns.RR) bool {
		resp.Answer, resp.Ns, resp.Extra = a, n, e
		if opt != nil {
			resp.Extra = append(e[:len(e):len(e)], opt)
		}
		return resp.Len() <= limit
	}
	switch {
	case fit(answer, ns, extra):
	case len(answer) > 0 && onlyNS(ns) && fit(answer, nil, extra):
	default:
		n := ns
		if len(answer) > 0 && onlyNS(ns) {
			n = nil
		}
		if fit(answer, n, nil) {
			fit(answer, n, fitSets(extra, func(rrs []dns.RR) bool { return fit(answer, n, rrs) }))
			break
		}
		a := fitSets(answer, func(rrs []dns.RR) bool { return fit(rrs, nil, nil) })
		n = nil
		if len(a) == len(answer) {
			n = fitSets(ns, func(rrs []dns.RR) bool { return fit(answer, rrs, nil) })
		}
		fit(a, n, nil)
		resp.Truncated = true
	}
	wire, err := resp.PackBuffer(out[len(out):cap(out)])
	resp.Answer, resp.Ns, resp.Extra = answer, ns, extra
	return wire, err
}

// onlyNS reports whether an authority section is just an NS RRset (with its
// signatures): the optional kind NSD adds to positive answers.
func onlyNS(rrs []dns.RR) bool {
	for _, rr := range rrs {
		switch rr := rr.(type) {
		case *dns.NS:
		case *dns.RRSIG:
			if rr.TypeCovered != dns.TypeNS {
				return false
			}
		default:
			return false
		}
	}
	return len(rrs) > 0
}

// fitSets returns the longest prefix of rrs made of whole RRsets for which
// fits holds.
func fitSets(rrs []dns.RR, fits func([]dns.RR) bool) []dns.RR {
	best := 0
	for end := 1; end <= len(rrs); end++ {
		if end < len(rrs) && sameSet(rrs[end-1], rrs[end]) {
			continue
		}
		if !fits(rrs[:end]) {
			break
		}
		best = end
	}
	return rrs[:best]
}

func sameSet(a, b dns.RR) bool {
	ha, hb := a.Header(), b.Header()
	if ha.Rrtype != hb.Rrtype || ha.Class != hb.Class || !equalFold(ha.Name, hb.Name) {
		return false
	}
	if ha.Rrtype == dns.TypeRRSIG {
		return a.(*dns.RRSIG).TypeCovered == b.(*dns.RRSIG).TypeCovered
	}
	return true
}

func equalFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}
