package dnsserver

import (
	"encoding/binary"
	"net/netip"

	"github.com/miekg/dns"
)

// respond answers one request, appending the response to out. A nil result
// means no response is sent.
func (s *Server) respond(b []byte, src netip.AddrPort, tcp bool, out []byte) []byte {
	s.Stats.Queries.Add(1)
	ipv6 := src.Addr().Is6() && !src.Addr().Is4In6()
	q, ok := parseQuery(b)
	if !ok || (q.edns && q.version != 0) || q.qclass == dns.ClassCHAOS ||
		q.qtype == dns.TypeAXFR || q.qtype == dns.TypeIXFR {
		return s.slow(b, src, tcp, ipv6, out)
	}
	o := s.opts.Load()
	limit := responseLimit(q.edns, q.udpSize, tcp, o.UDPSize)
	var kb [keyMax]byte
	key := cacheKey(kb[:0], &q, ipv6, limit)
	gen := s.backend.Generation()
	e := s.cache.get(gen, key)
	if e == nil {
		req := new(dns.Msg)
		if err := req.Unpack(b); err != nil {
			return s.slow(b, src, tcp, ipv6, out)
		}
		resp := s.backend.Answer(req, ipv6)
		if resp == nil {
			return nil
		}
		wire, err := s.finish(resp, req, limit, o, nil)
		if err != nil {
			s.log.Error("dns: pack response", "qname", req.Question[0].Name, "qtype", dns.TypeToString[q.qtype], "err", err)
			return nil
		}
		e = &entry{wire: wire, rcode: uint8(resp.Rcode), nxdomain: resp.Rcode == dns.RcodeNameError}
		s.cache.put(gen, key, e)
	} else {
		s.Stats.CacheHits.Add(1)
	}
	out = append(out, e.wire...)
	binary.BigEndian.PutUint16(out, q.id)
	flags := binary.BigEndian.Uint16(out[2:])&^(bitRD|bitCD) | q.flags&(bitRD|bitCD)
	binary.BigEndian.PutUint16(out[2:], flags)
	s.Stats.countRcode(int(e.rcode))
	if !tcp {
		return s.limitRate(out, src, q.qname, e.nxdomain)
	}
	return out
}

// slow handles everything the fast path does not: unusual messages, NOTIFY,
// EDNS versions other than 0, CHAOS, transfers asked for over UDP.
func (s *Server) slow(b []byte, src netip.AddrPort, tcp, ipv6 bool, out []byte) []byte {
	s.Stats.SlowPath.Add(1)
	o := s.opts.Load()
	req := new(dns.Msg)
	if err := req.Unpack(b); err != nil {
		return s.formErr(b, out)
	}
	if req.Response {
		return nil
	}
	opt := req.IsEdns0()
	limit := responseLimit(opt != nil, udpSizeOf(opt), tcp, o.UDPSize)
	var resp *dns.Msg
	switch {
	case req.Opcode == dns.OpcodeNotify:
		if s.transfers == nil {
			resp = reply(req, dns.RcodeRefused)
			break
		}
		wire := s.transfers.Notify(b, req, src)
		if wire == nil {
			return nil
		}
		return append(out, wire...)
	case countOPT(req) > 1:
		resp = reply(req, dns.RcodeFormatError)
		resp.Question = nil
		opt = nil
	case opt != nil && opt.Version() != 0:
		// RFC 6891: BADVERS, with an OPT of the version we speak.
		resp = reply(req, dns.RcodeBadVers)
		resp.Question = nil
	case req.Opcode == dns.OpcodeQuery && len(req.Question) == 1 && req.Question[0].Qclass == dns.ClassCHAOS:
		resp = s.chaos(req, o)
	case req.Opcode == dns.OpcodeQuery && len(req.Question) == 1 &&
		(req.Question[0].Qtype == dns.TypeAXFR || req.Question[0].Qtype == dns.TypeIXFR):
		// Transfers go over TCP, to the transfer handler, or nowhere.
		resp = reply(req, dns.RcodeRefused)
	default:
		resp = s.backend.Answer(req, ipv6)
		if resp == nil {
			return nil
		}
	}
	wire, err := s.finish(resp, req, limit, o, out)
	if err != nil {
		s.log.Error("dns: pack response", "err", err)
		return nil
	}
	s.Stats.countRcode(resp.Rcode)
	if !tcp && len(resp.Question) == 1 {
		return s.limitRate(wire, src, []byte(resp.Question[0].Name), resp.Rcode == dns.RcodeNameError)
	}
	return wire
}

// reply starts a response to req with rcode.
func reply(req *dns.Msg, rcode int) *dns.Msg {
	resp := new(dns.Msg)
	resp.Id = req.Id
	resp.Response = true
	resp.Opcode = req.Opcode
	resp.RecursionDesired = req.RecursionDesired
	resp.CheckingDisabled = req.CheckingDisabled
	resp.Rcode = rcode
	if len(req.Question) > 0 {
		resp.Question = req.Question[:1:1]
	}
	return resp
}

// formErr answers a message that does not parse with FORMERR and the
// request's header only, as NSD does; a message too short for a header, or
// a response, is dropped.
func (s *Server) formErr(b []byte, out []byte) []byte {
	if len(b) < headerLen || b[2]&0x80 != 0 {
		return nil
	}
	s.Stats.countRcode(dns.RcodeFormatError)
	out = append(out, b[:headerLen]...)
	flags := binary.BigEndian.Uint16(b[2:])
	flags = flags&(0x7800|bitRD|bitCD) | bitQR | dns.RcodeFormatError
	binary.BigEndian.PutUint16(out[2:], flags)
	clear(out[4:headerLen])
	return out
}

// finish adds the OPT record for an EDNS request and packs resp into at most
// limit bytes, appending to out.
func (s *Server) finish(resp, req *dns.Msg, limit int, o *Options, out []byte) ([]byte, error) {
	resp.CheckingDisabled = req.CheckingDisabled
	resp.RecursionAvailable = false
	var opt *dns.OPT
	if ropt := req.IsEdns0(); ropt != nil {
		opt = &dns.OPT{Hdr: dns.RR_Header{Name: ".", Rrtype: dns.TypeOPT}}
		opt.SetUDPSize(o.UDPSize)
		opt.SetDo(ropt.Do())
		if o.NSID != "" && hasNSID(ropt) {
			opt.Option = append(opt.Option, &dns.EDNS0_NSID{Code: dns.EDNS0NSID, Nsid: hexString(o.NSID)})
		}
		// RFC 8914: say why a query for a name outside our zones is
		// refused, as NSD does.
		if resp.Rcode == dns.RcodeRefused && req.Opcode == dns.OpcodeQuery && len(req.Question) == 1 &&
			req.Question[0].Qclass == dns.ClassINET && !isTransferType(req.Question[0].Qtype) {
			opt.Option = append(opt.Option, &dns.EDNS0_EDE{InfoCode: dns.ExtendedErrorCodeNotAuthoritative})
		}
	}
	return pack(resp, opt, limit, out)
}

// responseLimit is the largest response the client can take: 512 without
// EDNS, its advertised size (at least 512) capped by ours, or 64 KiB on TCP.
func responseLimit(edns bool, size uint16, tcp bool, ours uint16) int {
	switch {
	case tcp:
		return dns.MaxMsgSize
	case !edns:
		return dns.MinMsgSize
	}
	return int(min(max(size, dns.MinMsgSize), ours))
}

func isTransferType(t uint16) bool { return t == dns.TypeAXFR || t == dns.TypeIXFR }

func udpSizeOf(opt *dns.OPT) uint16 {
	if opt == nil {
		return 0
	}
	return opt.UDPSize()
}

func countOPT(m *dns.Msg) int {
	n := 0
	for _, rr := range m.Extra {
		if rr.Header().Rrtype == dns.TypeOPT {
			n++
		}
	}
	return n
}

func hasNSID(opt *dns.OPT) bool {
	for _, o := range opt.Option {
		if o.Option() == dns.EDNS0NSID {
			return true
		}
	}
	return false
}

func hexString(s string) string {
	const digits = "0123456789abcdef"
	b := make([]byte, 0, 2*len(s))
	for i := 0; i < len(s); i++ {
		b = append(b, digits[s[i]>>4], digits[s[i]&15])
	}
	return string(b)
}
