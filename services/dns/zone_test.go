package authdns

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

const soaLine = "@ 3600 IN SOA ns1 hostmaster 42 7200 900 1209600 300\n"

func TestZoneRejects(t *testing.T) {
	for _, tc := range []struct {
		name, zone string
		err        error
		names      string // text the error must contain: the offending record
	}{
		{"no SOA", "www 60 IN A 192.0.2.1\n", ErrNoSOA, ""},
		{"two SOAs", soaLine + "@ 3600 IN SOA ns2 hostmaster 43 7200 900 1209600 300\n", ErrMultipleSOA, "ns2.example.com."},
		{"SOA below apex", soaLine + "sub 3600 IN SOA ns1 hostmaster 1 1 1 1 1\n", ErrSOANotApex, "sub.example.com."},
		{"out of zone", soaLine + "www.example.net. 60 IN A 192.0.2.1\n", ErrOutOfZone, "www.example.net."},
		{"suffix is not a parent", soaLine + "wwwexample.com. 60 IN A 192.0.2.1\n", ErrOutOfZone, "wwwexample.com."},
		{"CNAME and data", soaLine + "www 60 IN CNAME a\nwww 60 IN A 192.0.2.1\n", ErrCNAMEAndData, "www.example.com."},
		{"data and CNAME", soaLine + "www 60 IN TXT x\nwww 60 IN CNAME a\n", ErrCNAMEAndData, "www.example.com."},
		{"two CNAMEs", soaLine + "www 60 IN CNAME a\nwww 60 IN CNAME b\n", ErrMultiCNAME, "b.example.com."},
		{"two DNAMEs", soaLine + "d 60 IN DNAME a.\nd 60 IN DNAME b.\n", ErrMultiDNAME, "b."},
		{"class", soaLine + "www 60 CH A 192.0.2.1\n", ErrClass, "www.example.com."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseZone(strings.NewReader(tc.zone), "example.com.", "test.zone")
			if !errors.Is(err, tc.err) {
				t.Fatalf("err = %v, want %v", err, tc.err)
			}
			if !strings.Contains(err.Error(), tc.names) || !strings.Contains(err.Error(), "zone example.com.") {
				t.Errorf("error %q does not name the zone and %q", err, tc.names)
			}
		})
	}
}

func TestParseZoneSyntaxErrorNamesLine(t *testing.T) {
	_, err := ParseZone(strings.NewReader(soaLine+"www 60 IN A 192.0.2.1\nbad 60 IN A 300.1.1.1\n"), "example.com.", "test.zone")
	if err == nil || !strings.Contains(err.Error(), "line: 3") || !strings.Contains(err.Error(), "test.zone") {
		t.Fatalf("err = %v, want file and line 3", err)
	}
}

func TestZoneAccessors(t *testing.T) {
	z, err := ParseZone(strings.NewReader(soaLine+
		"www 60 IN A 192.0.2.1\nwww 60 IN A 192.0.2.1\nWWW 60 IN A 192.0.2.2\n"), "Example.COM", "test.zone")
	if err != nil {
		t.Fatal(err)
	}
	if z.Origin() != "example.com." || z.Serial() != 42 || z.Refresh() != 2*time.Hour ||
		z.Retry() != 15*time.Minute || z.Expire() != 14*24*time.Hour || z.NegativeTTL() != 5*time.Minute {
		t.Errorf("origin %s serial %d refresh %v retry %v expire %v negative %v",
			z.Origin(), z.Serial(), z.Refresh(), z.Retry(), z.Expire(), z.NegativeTTL())
	}
	// The duplicate is dropped; the differently spelt owner joins the node.
	if z.Len() != 3 {
		t.Errorf("Len = %d, want 3", z.Len())
	}
	var got []string
	for rr := range z.All() {
		got = append(got, summary(rr))
	}
	want := []string{"example.com. 3600 SOA ns1.example.com. hostmaster.example.com. 42 7200 900 1209600 300",
		"www.example.com. 60 A 192.0.2.1", "www.example.com. 60 A 192.0.2.2"}
	if !slices.Equal(got, want) {
		t.Errorf("All = %q, want %q", got, want)
	}
}

func TestCanonicalOrder(t *testing.T) {
	// RFC 4034 section 6.1, example list, in order.
	names := []string{"example.", "a.example.", "yljkjljk.a.example.", "Z.a.example.",
		"zABC.a.EXAMPLE.", "z.example.", "\\001.z.example.", "*.z.example.", "\\200.z.example."}
	for i := 1; i < len(names); i++ {
		if !(canonicalKey(names[i-1]) < canonicalKey(names[i])) {
			t.Errorf("%s does not sort before %s", names[i-1], names[i])
		}
	}
}

func TestIPv6GlueOrder(t *testing.T) {
	zs := loadTestZones(t)
	m := new(dns.Msg)
	m.SetQuestion("host.sub.example.com.", dns.TypeA)
	r := zs.Answer(m, true)
	got := summaries(r.Extra)
	want := []string{"ns.sub.example.com. 3600 AAAA 2001:db8::200", "ns.sub.example.com. 3600 A 192.0.2.200"}
	if !slices.Equal(got, want) {
		t.Errorf("glue over IPv6 = %q, want %q", got, want)
	}
}

func TestAnswerHeader(t *testing.T) {
	zs := loadTestZones(t)
	q := func(f func(m *dns.Msg)) *dns.Msg {
		m := new(dns.Msg)
		m.SetQuestion("www.example.com.", dns.TypeA)
		m.Id = 4711
		f(m)
		return zs.Answer(m, false)
	}
	if r := q(func(m *dns.Msg) { m.Response = true }); r != nil {
		t.Errorf("answered a response: %v", r)
	}
	r := q(func(m *dns.Msg) { m.Opcode = dns.OpcodeNotify })
	if r.Rcode != dns.RcodeNotImplemented || len(r.Question) != 0 || r.Id != 4711 || r.Opcode != dns.OpcodeNotify {
		t.Errorf("NOTIFY: %v", r)
	}
	r = q(func(m *dns.Msg) { m.Question = append(m.Question, m.Question[0]) })
	if r.Rcode != dns.RcodeFormatError || len(r.Question) != 0 {
		t.Errorf("two questions: %v", r)
	}
	r = q(func(m *dns.Msg) { m.Question[0].Qtype = dns.TypeAXFR })
	if r.Rcode != dns.RcodeRefused || len(r.Question) != 1 {
		t.Errorf("AXFR: %v", r)
	}
	r = q(func(m *dns.Msg) { m.RecursionDesired = true; m.CheckingDisabled = true })
	if !r.Response || !r.RecursionDesired || r.RecursionAvailable || r.CheckingDisabled || r.AuthenticatedData || !r.Authoritative {
		t.Errorf("flags: %v", r.MsgHdr)
	}
}

// TestAllYieldsEveryRecord checks that transfers out of a zone (All) see
// every record the zone counts, DNSSEC ones included.
func TestAllYieldsEveryRecord(t *testing.T) {
	zs := loadTestZones(t)
	for origin := range testZones {
		z := zs.Get(origin)
		n := 0
		for range z.All() {
			n++
		}
		if n != z.Len() {
			t.Errorf("%s: All yields %d records, Len is %d", origin, n, z.Len())
		}
	}
}
