// The differential test runs every table case against a real NSD 4.6
// (Debian package nsd) on loopback and compares full responses. It is part
// of `make test`; without nsd installed it fails, naming the package.
package authdns

import (
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/goleudy/goleudy/tools/lab"
)

// startNSD serves the test zones, as the tests load them (testdata plus
// the extras in helpers_test.go), from a real NSD on loopback.
func startNSD(t *testing.T) string {
	t.Helper()
	var zones []lab.Zone
	for origin := range testZones {
		zones = append(zones, lab.Zone{Name: origin, Text: string(testZoneText(t, origin))})
	}
	return lab.StartNSD(t, lab.Options{Zones: zones}).Addr
}

func full(rrs []dns.RR) []string {
	out := []string{}
	for _, rr := range rrs {
		if rr.Header().Rrtype == dns.TypeOPT {
			continue
		}
		out = append(out, strings.Join(strings.Fields(rr.String()), " "))
	}
	return out
}

func TestAgainstNSD(t *testing.T) {
	addr := startNSD(t)
	zs := loadTestZones(t)
	c := &dns.Client{Net: "tcp", Timeout: 2 * time.Second}
	for _, tc := range slices.Concat(plainCases, dnssecCases) {
		name := tc.qname + "/" + dns.TypeToString[tc.qtype]
		if tc.do {
			name += "/DO"
		}
		if tc.qclass != 0 {
			name += "/" + dns.ClassToString[tc.qclass]
		}
		t.Run(name, func(t *testing.T) {
			req := tc.request()
			theirs, _, err := c.Exchange(req, addr)
			if err != nil {
				t.Fatal(err)
			}
			ours := zs.Answer(req, false)
			// Compare what goes on the wire, not how it was spelled in
			// the zone file (NSEC3 hashes, say, print in either case).
			wire, err := ours.Pack()
			if err != nil {
				t.Fatal(err)
			}
			ours = new(dns.Msg)
			if err := ours.Unpack(wire); err != nil {
				t.Fatal(err)
			}
			if theirs.Rcode != ours.Rcode || theirs.Authoritative != ours.Authoritative {
				t.Errorf("nsd rcode %s aa %v; ours %s aa %v", dns.RcodeToString[theirs.Rcode], theirs.Authoritative, dns.RcodeToString[ours.Rcode], ours.Authoritative)
			}
			for _, s := range []struct {
				name         string
				theirs, ours []dns.RR
			}{{"answer", theirs.Answer, ours.Answer}, {"authority", theirs.Ns, ours.Ns}, {"additional", theirs.Extra, ours.Extra}} {
				if g, w := full(s.ours), full(s.theirs); !slices.Equal(g, w) {
					t.Errorf("%s:\n nsd: %s\nours: %s", s.name, strings.Join(w, "\n      "), strings.Join(g, "\n      "))
				}
			}
			if os.Getenv("NSD_DUMP") != "" {
				t.Logf("answer=%q\nns=%q\nextra=%q", summaries(theirs.Answer), summaries(theirs.Ns), summaries(theirs.Extra))
			}
		})
	}
}
