package dnsserver

import (
	"github.com/miekg/dns"
)

// pack packs resp with opt (may be nil) as the last additional record into
// at most limit bytes, appending to out.
//
// When the response does not fit, it is filled as NSD fills it: section by
// section, RRset by RRset, each RRset together with its signatures, until
// one does not fit. If that happens in the answer section, or in an
// authority section that is the point of the response (a referral, a
// negative answer, a proof), TC is set. The apex NS that accompanies a
// positive answer and the additional section are hints: what does not fit
// of them is left out without TC. The OPT record always goes in.
func pack(resp *dns.Msg, opt *dns.OPT, limit int, out []byte) ([]byte, error) {
	resp.Compress = true
	answer, ns, extra := resp.Answer, resp.Ns, resp.Extra
	// Sizes come from packing for real: Msg.Len overestimates compressed
	// messages, which would truncate responses NSD sends whole.
	var scratch []byte
	fit := func(a, n, e []dns.RR) bool {
		resp.Answer, resp.Ns, resp.Extra = a, n, e
		if opt != nil {
			resp.Extra = append(e[:len(e):len(e)], opt)
		}
		b, err := resp.PackBuffer(scratch)
		scratch = b[:cap(b)]
		return err == nil && len(b) <= limit
	}
	if !fit(answer, ns, extra) {
		a := fitSets(answer, func(rrs []dns.RR) bool { return fit(rrs, nil, nil) })
		var n, e []dns.RR
		if len(a) == len(answer) {
			n = fitSets(ns, func(rrs []dns.RR) bool { return fit(answer, rrs, nil) })
		}
		if len(n) == len(ns) {
			e = fitSets(extra, func(rrs []dns.RR) bool { return fit(answer, ns, rrs) })
		}
		optionalNS := len(answer) > 0 && onlyNS(ns)
		resp.Truncated = len(a) < len(answer) || (len(n) < len(ns) && !optionalNS)
		fit(a, n, e)
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

// fitSets returns the longest prefix of rrs made of whole units for which
// fits holds. A unit is an RRset with the RRSIGs after it that cover it;
// all RRSIGs of a name asked for as type RRSIG are one unit.
func fitSets(rrs []dns.RR, fits func([]dns.RR) bool) []dns.RR {
	best := 0
	for start := 0; start < len(rrs); {
		end := start + 1
		for end < len(rrs) && sameUnit(rrs[start], rrs[end]) {
			end++
		}
		if !fits(rrs[:end]) {
			break
		}
		best, start = end, end
	}
	return rrs[:best]
}

// sameUnit reports whether rr belongs to the unit that first starts.
func sameUnit(first, rr dns.RR) bool {
	hf, h := first.Header(), rr.Header()
	if hf.Class != h.Class || !equalFold(hf.Name, h.Name) {
		return false
	}
	if h.Rrtype == hf.Rrtype {
		return true
	}
	sig, ok := rr.(*dns.RRSIG)
	return ok && sig.TypeCovered == hf.Rrtype
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
