package dnsserver

import (
	"net/netip"
	"testing"

	"github.com/miekg/dns"
)

// BenchmarkRespond measures the work per query between the socket read and
// the socket write: parse, cache lookup or answer, pack, patch.
func BenchmarkRespond(b *testing.B) {
	for _, bc := range []struct {
		name  string
		qname string
		qtype uint16
		miss  bool
	}{
		{"hit/A", "www.example.com.", dns.TypeA, false},
		{"hit/NXDOMAIN", "nope.example.com.", dns.TypeA, false},
		{"miss/A", "www.example.com.", dns.TypeA, true},
	} {
		b.Run(bc.name, func(b *testing.B) {
			zs := newBackend(b, zoneText)
			s := New(Options{}, zs, nil, nil)
			m := question(bc.qname, dns.TypeA)
			m.SetEdns0(1232, false)
			in, _ := m.Pack()
			src := netip.MustParseAddrPort("127.0.0.1:5353")
			out := make([]byte, 0, 65535)
			b.ReportAllocs()
			for b.Loop() {
				if bc.miss {
					s.cache.flush()
				}
				if s.respond(in, src, false, out[:0]) == nil {
					b.Fatal("no response")
				}
			}
		})
	}
}
