package authdns

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/miekg/dns"
)

// testZones are the zones under testdata, by origin.
var testZones = map[string]string{
	"example.com.":       "example.com.zone",
	"child.example.com.": "child.example.com.zone",
	"other.test.":        "other.test.zone",
	"nsec.example.":      "nsec.example.signed",
	"nsec3.example.":     "nsec3.example.signed",
	"optout.example.":    "optout.example.signed",
}

// testZoneExtra holds records appended to a fixture when the tests load
// it, here and in NSD alike (nsd_test.go). They need no signatures: opt-out
// lets an insecure delegation have neither NSEC3 nor RRSIG, and the NSEC3
// chain stays as it was signed.
var testZoneExtra = map[string]string{
	// An insecure delegation below an empty non-terminal that has no NSEC3
	// either. Unlike d.ent2, the NSEC3 covering sub differs from the one
	// covering deleg.sub, so the proofs show which name was covered.
	"optout.example.": "deleg.sub.optout.example. 3600 IN NS ns.other.net.\n",
}

// testZoneText returns the zone file of a test zone, extras included.
func testZoneText(t testing.TB, origin string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", testZones[origin]))
	if err != nil {
		t.Fatal(err)
	}
	if extra := testZoneExtra[origin]; extra != "" {
		b = append(append(b, '\n'), extra...)
	}
	return b
}

func loadTestZones(t testing.TB) *Zones {
	t.Helper()
	zs := NewZones()
	for origin, file := range testZones {
		z, err := ParseZone(bytes.NewReader(testZoneText(t, origin)), origin, file)
		if err != nil {
			t.Fatal(err)
		}
		if err := zs.Add(z); err != nil {
			t.Fatal(err)
		}
	}
	return zs
}

// summary writes a record the way the test tables spell it: the
// presentation format without class, with single spaces; DNSSEC records,
// whose rdata changes with every signing, shortened to what a test checks.
func summary(rr dns.RR) string {
	h := rr.Header()
	switch rr := rr.(type) {
	case *dns.RRSIG:
		if rr.TypeCovered == dns.TypeNSEC3 {
			return "RRSIG NSEC3" // the owner is a hash; it follows its NSEC3
		}
		return h.Name + " RRSIG " + dns.TypeToString[rr.TypeCovered]
	case *dns.NSEC:
		return h.Name + " NSEC " + rr.NextDomain
	case *dns.NSEC3:
		return h.Name + " NSEC3"
	case *dns.DNSKEY:
		return h.Name + " DNSKEY"
	}
	f := strings.Fields(rr.String())
	if len(f) > 2 && f[2] == "IN" {
		f = slices.Delete(f, 2, 3)
	}
	return strings.Join(f, " ")
}

func summaries(rrs []dns.RR) []string {
	out := []string{}
	for _, rr := range rrs {
		out = append(out, summary(rr))
	}
	return out
}

// resolveNSEC3 turns "NSEC3 =name" (the NSEC3 matching name) and
// "NSEC3 ~name" (the one covering it) into the summary of that record, so
// that tables can say what a proof must contain without spelling hashes.
func resolveNSEC3(zs *Zones, want []string) []string {
	out := []string{}
	for _, w := range want {
		if rest, ok := strings.CutPrefix(w, "NSEC3 "); ok {
			name := rest[1:]
			c := zs.Find(name).nsec3
			s, owner, exact := c.lookup(name)
			if s == nil || (rest[0] == '=') != exact {
				w = "no NSEC3 " + rest
			} else {
				w = owner + " NSEC3"
			}
		}
		out = append(out, w)
	}
	return out
}
