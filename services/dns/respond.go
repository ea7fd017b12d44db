package authdns

import (
	"github.com/miekg/dns"
)

// Answer builds the response to req, or returns nil when req must be
// dropped (it is itself a response). It sets QR, copies ID, opcode and RD,
// and never sets RA: this is an authoritative-only server. It adds no OPT
// record and does not truncate; the network layer does both, since they
// depend on the transport. ipv6 tells whether the query came over IPv6.
//
// Like NSD, it answers FORMERR without a question section to a message
// that does not carry exactly one question or carries answer or authority
// records, NOTIMP to opcodes other than QUERY (NOTIFY belongs to the
// transfer layer), and REFUSED to classes other than IN and ANY, to zone
// transfers (also the transfer layer's) and to names outside every zone.
func (zs *Zones) Answer(req *dns.Msg, ipv6 bool) *dns.Msg {
	if req.Response {
		return nil
	}
	resp := &dns.Msg{Compress: true}
	resp.Id = req.Id
	resp.Response = true
	resp.Opcode = req.Opcode
	resp.RecursionDesired = req.RecursionDesired
	switch {
	case req.Opcode != dns.OpcodeQuery:
		resp.Rcode = dns.RcodeNotImplemented
		return resp
	case len(req.Question) != 1 || len(req.Answer) != 0 || len(req.Ns) != 0:
		resp.Rcode = dns.RcodeFormatError
		return resp
	}
	q := req.Question[0]
	switch q.Qclass {
	case dns.ClassINET, dns.ClassANY:
	case dns.ClassCHAOS:
		resp.Question = req.Question[:1:1]
		resp.Rcode = dns.RcodeRefused
		return resp
	default:
		resp.Rcode = dns.RcodeRefused
		return resp
	}
	resp.Question = req.Question[:1:1]
	if q.Qtype == dns.TypeAXFR || q.Qtype == dns.TypeIXFR {
		resp.Rcode = dns.RcodeRefused
		return resp
	}
	opt := req.IsEdns0()
	r := zs.Lookup(Question{
		Name:  q.Name,
		Type:  q.Qtype,
		Class: q.Qclass,
		DO:    opt != nil && opt.Do(),
		IPv6:  ipv6,
	})
	resp.Rcode = r.Rcode
	resp.Authoritative = r.Authoritative
	resp.Answer, resp.Ns, resp.Extra = r.Answer, r.Ns, r.Extra
	return resp
}
