package dnsserver

import (
	"net/netip"
	"testing"

	"github.com/miekg/dns"
)

// FuzzRespond feeds arbitrary bytes through both paths. Nothing may panic,
// every response must unpack, and whenever the fast parser accepts a
// message, miekg/dns must read the same question and EDNS values from it.
func FuzzRespond(f *testing.F) {
	for _, m := range []*dns.Msg{
		question("www.example.com.", dns.TypeA),
		question("big.example.com.", dns.TypeTXT),
		question("nope.example.com.", dns.TypeAAAA),
		question("example.com.", dns.TypeANY),
	} {
		b, _ := m.Pack()
		f.Add(b)
		m.SetEdns0(1232, true)
		b, _ = m.Pack()
		f.Add(b)
	}
	f.Add([]byte{0xbe, 0xef, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 63, 'x'})
	b := newBackend(f, zoneText)
	s := New(Options{Identity: "fuzz", NSID: "fuzz", RRL: RRLOptions{ResponsesPerSecond: 1000, Slip: 2}}, b, nil, nil)
	src := netip.MustParseAddrPort("127.0.0.1:5353")
	f.Fuzz(func(t *testing.T, in []byte) {
		if q, ok := parseQuery(in); ok {
			var m dns.Msg
			if err := m.Unpack(in); err != nil {
				t.Fatalf("fast parser accepted what miekg refuses: %v", err)
			}
			mq := m.Question[0]
			if mq.Qtype != q.qtype || mq.Qclass != q.qclass || (m.IsEdns0() != nil) != q.edns {
				t.Fatalf("fast parser disagrees: %v vs %+v", mq, q)
			}
			if opt := m.IsEdns0(); opt != nil && (opt.Do() != q.do || opt.UDPSize() != q.udpSize || opt.Version() != q.version) {
				t.Fatalf("fast parser disagrees on EDNS: %v vs %+v", opt, q)
			}
		}
		for _, tcp := range []bool{false, true} {
			out := s.respond(in, src, tcp, nil)
			if out == nil {
				continue
			}
			var r dns.Msg
			if err := r.Unpack(out); err != nil {
				t.Fatalf("response does not unpack: %v\n%x", err, out)
			}
			if !tcp && len(out) > 1232 {
				t.Fatalf("UDP response of %d bytes", len(out))
			}
		}
	})
}
