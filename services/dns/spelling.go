package authdns

import (
	"github.com/miekg/dns"
)

// NSD writes every name that ends in the query name's closest encloser as
// a compression pointer into the question, so those names come out in the
// query's spelling: "WwW.ExAmple.COM" is answered with owner
// "WwW.ExAmple.COM", NS "ExAmple.COM" and glue "ns1.ExAmple.COM". Names in
// the rdata of the types NSD compresses follow the same rule. We do the
// same, so that a differential test sees identical bytes; it costs a copy
// only for the records whose spelling changes.

// respell returns name with the labels it shares with qsuf (the query's
// spelling of its closest encloser) written as in qsuf, and whether that
// changed anything. NSD registers the closest encloser and all its
// ancestors for compression, so the shared part is the longest common
// label suffix.
func respell(name, qsuf string) (string, bool) {
	i, j := len(name), len(qsuf)
	for i > 0 && j > 0 && lowerByte(name[i-1]) == lowerByte(qsuf[j-1]) {
		i, j = i-1, j-1
	}
	// Move to the first label boundary common to both.
	for i < len(name) && !((i == 0 || name[i-1] == '.' && !escapedAt(name, i-1)) && (j == 0 || qsuf[j-1] == '.' && !escapedAt(qsuf, j-1))) {
		i, j = i+1, j+1
	}
	if len(name)-i <= 1 || name[i:] == qsuf[j:] {
		return name, false
	}
	return name[:i] + qsuf[j:], true
}

func lowerByte(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// respellRR returns rr, or a copy with owner and compressible rdata names
// in the query's spelling. Stored records are never modified.
func respellRR(rr dns.RR, qsuf string) dns.RR {
	var buf [3]*string
	change := false
	for _, p := range nameFields(rr, buf[:0]) {
		if _, ok := respell(*p, qsuf); ok {
			change = true
			break
		}
	}
	if !change {
		return rr
	}
	c := dns.Copy(rr)
	for _, p := range nameFields(c, buf[:0]) {
		*p, _ = respell(*p, qsuf)
	}
	return c
}

// nameFields appends pointers to the owner name and to the rdata names NSD
// compresses (RFC 1035 types; RFC 3597 forbids compressing newer ones).
func nameFields(rr dns.RR, out []*string) []*string {
	out = append(out, &rr.Header().Name)
	switch r := rr.(type) {
	case *dns.NS:
		out = append(out, &r.Ns)
	case *dns.CNAME:
		out = append(out, &r.Target)
	case *dns.MX:
		out = append(out, &r.Mx)
	case *dns.PTR:
		out = append(out, &r.Ptr)
	case *dns.SOA:
		out = append(out, &r.Ns, &r.Mbox)
	case *dns.MB:
		out = append(out, &r.Mb)
	case *dns.MG:
		out = append(out, &r.Mg)
	case *dns.MR:
		out = append(out, &r.Mr)
	case *dns.MINFO:
		out = append(out, &r.Rmail, &r.Email)
	case *dns.MD:
		out = append(out, &r.Md)
	case *dns.MF:
		out = append(out, &r.Mf)
	}
	return out
}
