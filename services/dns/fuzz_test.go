package authdns

import (
	"strings"
	"testing"

	"github.com/miekg/dns"
)

// FuzzAnswer feeds arbitrary bytes to the query path: whatever unpacks
// must be answered without panicking, and the answer must pack.
func FuzzAnswer(f *testing.F) {
	for _, tc := range append(plainCases, dnssecCases...) {
		if b, err := tc.request().Pack(); err == nil {
			f.Add(b, false)
		}
	}
	zs := loadTestZones(f)
	f.Fuzz(func(t *testing.T, b []byte, v6 bool) {
		m := new(dns.Msg)
		if err := m.Unpack(b); err != nil {
			return
		}
		r := zs.Answer(m, v6)
		if r == nil {
			return
		}
		if _, err := r.Pack(); err != nil {
			t.Fatalf("response to %v does not pack: %v\n%v", m, err, r)
		}
	})
}

// FuzzParseZone feeds arbitrary zone file text to the parser and the zone
// builder; whatever builds is then queried for each of its own names.
func FuzzParseZone(f *testing.F) {
	f.Add(soaLine + "www 60 IN A 192.0.2.1\n*.w 60 IN CNAME www\nsub 60 IN NS ns.sub\nns.sub 60 IN A 192.0.2.2\n")
	f.Add(soaLine + "a.b.c 60 IN TXT x\nc 60 IN DNAME example.net.\nx 60 IN MX 10 *.w\n")
	f.Add(soaLine + "@ 60 IN NSEC3PARAM 1 0 0 -\nabc 60 IN NSEC3 1 0 0 - abd A\n")
	f.Fuzz(func(t *testing.T, text string) {
		z, err := ParseZone(strings.NewReader(text), "example.com.", "fuzz")
		if err != nil {
			return
		}
		zs := NewZones()
		if err := zs.Add(z); err != nil {
			t.Fatal(err)
		}
		n := 0
		for rr := range z.All() {
			if n++; n > 50 {
				break
			}
			for _, do := range []bool{false, true} {
				for _, qt := range []uint16{rr.Header().Rrtype, dns.TypeA, dns.TypeANY, dns.TypeDS} {
					zs.Lookup(Question{Name: "x." + rr.Header().Name, Type: qt, Class: dns.ClassINET, DO: do})
					zs.Lookup(Question{Name: rr.Header().Name, Type: qt, Class: dns.ClassINET, DO: do})
				}
			}
		}
	})
}
