package authdns

import (
	"slices"
	"strings"
	"testing"

	"github.com/miekg/dns"
)

// lookupCase is one query and the response it must get. Records are
// written as summary() prints them. Cases double as the query list of the
// differential test against NSD (nsd_test.go).
type lookupCase struct {
	qname  string
	qtype  uint16
	qclass uint16 // IN when 0
	do     bool
	rcode  int
	noAA   bool
	answer []string
	ns     []string
	extra  []string
}

var (
	exNS    = []string{"example.com. 3600 NS ns1.example.com.", "example.com. 3600 NS ns2.example.net."}
	exGlue  = []string{"ns1.example.com. 3600 A 192.0.2.53", "ns1.example.com. 3600 AAAA 2001:db8::53"}
	exSOANX = []string{"example.com. 300 SOA ns1.example.com. hostmaster.example.com. 2024010101 7200 3600 1209600 300"}
	subRef  = []string{"sub.example.com. 3600 NS ns.sub.example.com.", "sub.example.com. 3600 NS ns.other.net.", "sub.example.com. 3600 NS ns.sub2.example.com."}
	subGlue = []string{"ns.sub.example.com. 3600 A 192.0.2.200", "ns.sub.example.com. 3600 AAAA 2001:db8::200"}
)

func cat(lists ...[]string) []string { return slices.Concat(lists...) }

var plainCases = []lookupCase{
	// Exact matches, with the apex NS in authority and its glue.
	{qname: "www.example.com.", qtype: dns.TypeA,
		answer: []string{"www.example.com. 3600 A 192.0.2.80"}, ns: exNS, extra: exGlue},
	// Names sharing labels with the query are written in its spelling,
	// as NSD's compression into the question does.
	{qname: "WwW.ExAmple.COM.", qtype: dns.TypeA,
		answer: []string{"WwW.ExAmple.COM. 3600 A 192.0.2.80"},
		ns:     []string{"ExAmple.COM. 3600 NS ns1.ExAmple.COM.", "ExAmple.COM. 3600 NS ns2.example.net."},
		extra:  []string{"ns1.ExAmple.COM. 3600 A 192.0.2.53", "ns1.ExAmple.COM. 3600 AAAA 2001:db8::53"}},
	{qname: "mixed.example.com.", qtype: dns.TypeA,
		answer: []string{"mixed.example.com. 3600 A 192.0.2.77"}, ns: exNS, extra: exGlue},
	{qname: "NX.EXAMPLE.COM.", qtype: dns.TypeA, rcode: dns.RcodeNameError,
		ns: []string{"EXAMPLE.COM. 300 SOA ns1.EXAMPLE.COM. hostmaster.EXAMPLE.COM. 2024010101 7200 3600 1209600 300"}},
	{qname: "ns1.example.com.", qtype: dns.TypeA,
		answer: []string{"ns1.example.com. 3600 A 192.0.2.53"}, ns: exNS, extra: exGlue[1:]},
	{qname: "example.com.", qtype: dns.TypeNS, answer: exNS, extra: exGlue},
	{qname: "example.com.", qtype: dns.TypeSOA,
		answer: []string{"example.com. 3600 SOA ns1.example.com. hostmaster.example.com. 2024010101 7200 3600 1209600 300"},
		ns:     exNS, extra: exGlue},
	// MX and SRV targets get their in-zone addresses; A before AAAA.
	{qname: "example.com.", qtype: dns.TypeMX,
		answer: []string{"example.com. 3600 MX 10 mail.example.com.", "example.com. 3600 MX 20 mx.example.net."},
		ns:     exNS,
		extra:  []string{"mail.example.com. 3600 A 192.0.2.25", "ns1.example.com. 3600 A 192.0.2.53", "mail.example.com. 3600 AAAA 2001:db8::25", "ns1.example.com. 3600 AAAA 2001:db8::53"}},
	{qname: "_sip._tcp.example.com.", qtype: dns.TypeSRV,
		answer: []string{"_sip._tcp.example.com. 3600 SRV 0 5 5060 sip.example.com."}, ns: exNS,
		extra: cat([]string{"sip.example.com. 3600 A 192.0.2.60"}, exGlue)},
	// MX targets below a cut get no glue; wildcard targets are expanded.
	{qname: "mxhost.example.com.", qtype: dns.TypeMX,
		answer: []string{"mxhost.example.com. 3600 MX 5 ns.sub.example.com.", "mxhost.example.com. 3600 MX 10 www.example.com.", "mxhost.example.com. 3600 MX 20 mx.wild.example.com."},
		ns:     exNS,
		extra:  []string{"www.example.com. 3600 A 192.0.2.80", "mx.wild.example.com. 3600 A 192.0.2.99", "ns1.example.com. 3600 A 192.0.2.53", "www.example.com. 3600 AAAA 2001:db8::80", "ns1.example.com. 3600 AAAA 2001:db8::53"}},
	// NODATA and NXDOMAIN: SOA with TTL min(SOA TTL, MINIMUM).
	{qname: "www.example.com.", qtype: dns.TypeTXT, ns: exSOANX},
	{qname: "nx.example.com.", qtype: dns.TypeA, rcode: dns.RcodeNameError, ns: exSOANX},
	{qname: "deep.nx.example.com.", qtype: dns.TypeA, rcode: dns.RcodeNameError, ns: exSOANX},
	// Empty non-terminals exist: NODATA, and nothing below them matches
	// a wildcard at their parent.
	{qname: "ent.example.com.", qtype: dns.TypeA, ns: exSOANX},
	{qname: "b.ent.example.com.", qtype: dns.TypeA, ns: exSOANX},
	{qname: "x.b.ent.example.com.", qtype: dns.TypeA, rcode: dns.RcodeNameError, ns: exSOANX},
	{qname: "foo.ent.example.com.", qtype: dns.TypeA,
		answer: []string{"foo.ent.example.com. 3600 A 192.0.2.7"}, ns: exNS, extra: exGlue},
	// Wildcards: expansion keeps the query's spelling; an existing name
	// blocks the wildcard; no data at the wildcard is NODATA.
	{qname: "foo.wild.example.com.", qtype: dns.TypeA,
		answer: []string{"foo.wild.example.com. 3600 A 192.0.2.99"}, ns: exNS, extra: exGlue},
	{qname: "FoO.wild.example.com.", qtype: dns.TypeA,
		answer: []string{"FoO.wild.example.com. 3600 A 192.0.2.99"}, ns: exNS, extra: exGlue},
	{qname: "a.b.wild.example.com.", qtype: dns.TypeTXT,
		answer: []string{`a.b.wild.example.com. 3600 TXT "wild"`}, ns: exNS, extra: exGlue},
	{qname: "foo.wild.example.com.", qtype: dns.TypeMX, ns: exSOANX},
	{qname: "exists.wild.example.com.", qtype: dns.TypeTXT, ns: exSOANX},
	{qname: "wild.example.com.", qtype: dns.TypeA, ns: exSOANX},
	{qname: "*.wild.example.com.", qtype: dns.TypeA,
		answer: []string{"*.wild.example.com. 3600 A 192.0.2.99"}, ns: exNS, extra: exGlue},
	{qname: "x.cw.example.com.", qtype: dns.TypeA,
		answer: []string{"x.cw.example.com. 3600 CNAME www.example.com.", "www.example.com. 3600 A 192.0.2.80"}, ns: exNS, extra: exGlue},
	// CNAME chains: followed in the zone, into other zones we serve,
	// stopped at loops and at names we do not serve.
	{qname: "a.example.com.", qtype: dns.TypeA,
		answer: []string{"a.example.com. 3600 CNAME b.example.com.", "b.example.com. 3600 CNAME c.example.com.", "c.example.com. 3600 A 192.0.2.3"},
		ns:     exNS, extra: exGlue},
	{qname: "a.example.com.", qtype: dns.TypeCNAME,
		answer: []string{"a.example.com. 3600 CNAME b.example.com."}, ns: exNS, extra: exGlue},
	{qname: "ext.example.com.", qtype: dns.TypeA,
		answer: []string{"ext.example.com. 3600 CNAME www.example.net."}},
	{qname: "loop1.example.com.", qtype: dns.TypeA,
		answer: []string{"loop1.example.com. 3600 CNAME loop2.example.com.", "loop2.example.com. 3600 CNAME loop1.example.com."}},
	{qname: "tonx.example.com.", qtype: dns.TypeA, rcode: dns.RcodeNameError,
		answer: []string{"tonx.example.com. 3600 CNAME nothere.example.com."}, ns: exSOANX},
	{qname: "tonodata.example.com.", qtype: dns.TypeTXT,
		answer: []string{"tonodata.example.com. 3600 CNAME www.example.com."}, ns: exSOANX},
	{qname: "towild.example.com.", qtype: dns.TypeA,
		answer: []string{"towild.example.com. 3600 CNAME foo.wild.example.com.", "foo.wild.example.com. 3600 A 192.0.2.99"}, ns: exNS, extra: exGlue},
	{qname: "toother.example.com.", qtype: dns.TypeA,
		answer: []string{"toother.example.com. 3600 CNAME www.other.test.", "www.other.test. 300 CNAME web.other.test.", "web.other.test. 300 A 192.0.2.161"},
		ns:     []string{"other.test. 300 NS ns.other.test."}, extra: []string{"ns.other.test. 300 A 192.0.2.160"}},
	{qname: "tochild.example.com.", qtype: dns.TypeA,
		answer: []string{"tochild.example.com. 3600 CNAME www.child.example.com.", "www.child.example.com. 600 A 192.0.2.151"},
		ns:     []string{"child.example.com. 600 NS ns1.child.example.com."}, extra: []string{"ns1.child.example.com. 600 A 192.0.2.150"}},
	// A CNAME into a delegation ends in a referral, still authoritative.
	{qname: "tosub.example.com.", qtype: dns.TypeA,
		answer: []string{"tosub.example.com. 3600 CNAME host.sub.example.com."}, ns: subRef, extra: subGlue},
	// Referrals: AA clear, NS in authority, in-bailiwick glue only.
	{qname: "host.sub.example.com.", qtype: dns.TypeA, noAA: true, ns: subRef, extra: subGlue},
	{qname: "sub.example.com.", qtype: dns.TypeNS, noAA: true, ns: subRef, extra: subGlue},
	{qname: "ns.sub.example.com.", qtype: dns.TypeA, noAA: true, ns: subRef, extra: subGlue},
	{qname: "x.sub.example.com.", qtype: dns.TypeDS, noAA: true, ns: subRef, extra: subGlue},
	// DS belongs to the parent side of a cut.
	{qname: "sub.example.com.", qtype: dns.TypeDS, ns: exSOANX},
	{qname: "sec.example.com.", qtype: dns.TypeDS,
		answer: []string{"sec.example.com. 3600 DS 12345 13 2 0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF"}},
	{qname: "example.com.", qtype: dns.TypeDS, ns: exSOANX},
	{qname: "child.example.com.", qtype: dns.TypeDS,
		answer: []string{"child.example.com. 3600 DS 54321 13 2 ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789"}},
	{qname: "child.example.com.", qtype: dns.TypeNS,
		answer: []string{"child.example.com. 600 NS ns1.child.example.com."}, extra: []string{"ns1.child.example.com. 600 A 192.0.2.150"}},
	{qname: "x.sec.example.com.", qtype: dns.TypeA, noAA: true,
		ns: []string{"sec.example.com. 3600 NS ns.sec.example.com."}, extra: []string{"ns.sec.example.com. 3600 A 192.0.2.210"}},
	// ANY gets one RRset (RFC 8482), chosen like NSD.
	{qname: "example.com.", qtype: dns.TypeANY,
		answer: []string{"example.com. 3600 SOA ns1.example.com. hostmaster.example.com. 2024010101 7200 3600 1209600 300"}},
	{qname: "types.example.com.", qtype: dns.TypeANY, answer: []string{"types.example.com. 3600 AAAA 2001:db8::1"}},
	{qname: "_sip._tcp.example.com.", qtype: dns.TypeANY,
		answer: []string{"_sip._tcp.example.com. 3600 SRV 0 5 5060 sip.example.com."}, extra: []string{"sip.example.com. 3600 A 192.0.2.60"}},
	{qname: "ent.example.com.", qtype: dns.TypeANY, ns: exSOANX},
	// QCLASS ANY: no AA, no SOA; other classes and other names refused.
	{qname: "www.example.com.", qtype: dns.TypeA, qclass: dns.ClassANY, noAA: true,
		answer: []string{"www.example.com. 3600 A 192.0.2.80"}},
	{qname: "nx.example.com.", qtype: dns.TypeA, qclass: dns.ClassANY, noAA: true, rcode: dns.RcodeNameError},
	{qname: "www.example.com.", qtype: dns.TypeA, qclass: dns.ClassCHAOS, noAA: true, rcode: dns.RcodeRefused},
	{qname: "www.example.com.", qtype: dns.TypeA, qclass: dns.ClassHESIOD, noAA: true, rcode: dns.RcodeRefused},
	{qname: "www.example.org.", qtype: dns.TypeA, noAA: true, rcode: dns.RcodeRefused},
	{qname: "com.", qtype: dns.TypeNS, noAA: true, rcode: dns.RcodeRefused},
}

// runCases sends each case through Zones.Answer and compares sections.
func runCases(t *testing.T, zs *Zones, cases []lookupCase) {
	t.Helper()
	for _, tc := range cases {
		name := tc.qname + "/" + dns.TypeToString[tc.qtype]
		if tc.do {
			name += "/DO"
		}
		if tc.qclass != 0 {
			name += "/" + dns.ClassToString[tc.qclass]
		}
		t.Run(name, func(t *testing.T) {
			resp := zs.Answer(tc.request(), false)
			if resp.Rcode != tc.rcode {
				t.Errorf("rcode %s, want %s", dns.RcodeToString[resp.Rcode], dns.RcodeToString[tc.rcode])
			}
			if resp.Authoritative == tc.noAA {
				t.Errorf("AA %v, want %v", resp.Authoritative, !tc.noAA)
			}
			check := func(sec string, got []dns.RR, want []string) {
				g, w := summaries(got), resolveNSEC3(zs, want)
				if !slices.Equal(g, w) {
					t.Errorf("%s section:\n got: %s\nwant: %s", sec, strings.Join(g, "\n      "), strings.Join(w, "\n      "))
				}
			}
			check("answer", resp.Answer, tc.answer)
			check("authority", resp.Ns, tc.ns)
			check("additional", resp.Extra, tc.extra)
		})
	}
}

func (tc lookupCase) request() *dns.Msg {
	m := new(dns.Msg)
	m.SetQuestion(tc.qname, tc.qtype)
	m.RecursionDesired = false
	if tc.qclass != 0 {
		m.Question[0].Qclass = tc.qclass
	}
	if tc.do {
		m.SetEdns0(1232, true)
	}
	return m
}

func TestLookupPlain(t *testing.T) {
	runCases(t, loadTestZones(t), plainCases)
}
