package dnsservice

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	"go.uber.org/goleak"

	"github.com/goleudy/goleudy/provision/config"
	"github.com/goleudy/goleudy/services/clock"
	"github.com/goleudy/goleudy/tools/lab"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// startService runs the DNS service for cfg on loopback until the test
// ends and returns it once it is bound.
func startService(t *testing.T, cfg *config.Config) *Service {
	t.Helper()
	cfg.SetDefaults()
	s, err := New(cfg, t.TempDir(), clock.Real(), nil)
	if err != nil {
		t.Fatal(err)
	}
	lab.Run(t, s.Run)
	waitFor(t, "the server to bind", func() bool { return s.Health() == nil })
	return s
}

func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func labConfig(primary string, zones ...string) *config.Config {
	c := &config.Config{Schema: 1, Serial: 1, Node: config.Node{ID: "lab"}}
	c.DNS.Listen = []string{"127.0.0.1:0"}
	for _, z := range zones {
		c.Zones = append(c.Zones, config.Zone{Name: z, Primaries: []string{primary}})
	}
	return c
}

// deliberate lists the documented differences from NSD 4.6.1 (see the
// package doc of services/dns). A mismatch is allowed only when one of
// these explains it.
var deliberate = []struct {
	why   string
	match func(m lab.Mismatch) bool
}{
	{"DNAME is served as data, not synthesised", func(m lab.Mismatch) bool {
		return m.Query.Type == dns.TypeDNAME || hasType(m.A, dns.TypeDNAME) || hasType(m.B, dns.TypeDNAME)
	}},
	{"names learnt from rdata keep the zone's spelling, not the query's", func(m lab.Mismatch) bool {
		return onlyField(m, "case")
	}},
}

func hasType(m *dns.Msg, t uint16) bool {
	if m == nil {
		return false
	}
	for _, sec := range [][]dns.RR{m.Answer, m.Ns, m.Extra} {
		for _, rr := range sec {
			if rr.Header().Rrtype == t {
				return true
			}
		}
	}
	return false
}

func onlyField(m lab.Mismatch, field string) bool {
	for _, d := range m.Diffs {
		if d.Field != field {
			return false
		}
	}
	return true
}

// TestDifferentialAgainstNSD is the differential test: NSD is the
// primary for every fixture set (plain, NSEC, NSEC3, NSEC3 opt-out), the
// service transfers the zones from it, and the whole query corpus goes to
// both over UDP and TCP, with and without EDNS and DO. Every difference
// must be one of the deliberate ones.
func TestDifferentialAgainstNSD(t *testing.T) {
	lab.Require(t, lab.ToolNSD)
	for _, f := range lab.Fixtures() {
		t.Run(f.Name, func(t *testing.T) {
			nsd := lab.StartNSD(t, lab.Options{Zones: f.Zones, XFR: true})
			var names []string
			for _, z := range f.Zones {
				names = append(names, z.Name)
			}
			svc := startService(t, labConfig(nsd.Addr, names...))
			for _, z := range f.Zones {
				waitFor(t, z.Name+" transferred", func() bool { return svc.Zones().Get(z.Name) != nil })
			}
			addr := svc.Server().Addrs()[0]
			corpus, err := lab.Corpus(f.Zones)
			if err != nil {
				t.Fatal(err)
			}
			ms := lab.Differential(context.Background(), nsd.Addr, addr, corpus, lab.Comparer{})
			var report strings.Builder
			allowed := map[string]int{}
			for _, g := range lab.Group(unexplained(ms, allowed)) {
				fmt.Fprintf(&report, "%s\n", g)
			}
			t.Logf("%d queries, %d differences, each explained: %v", len(corpus), len(ms), allowed)
			if report.Len() > 0 {
				os.WriteFile(t.TempDir()+"/report.txt", []byte(report.String()), 0o644)
				t.Errorf("undocumented differences from NSD:\n%s", report.String())
			}
		})
	}
}

func unexplained(ms []lab.Mismatch, allowed map[string]int) []lab.Mismatch {
	var out []lab.Mismatch
next:
	for _, m := range ms {
		for _, d := range deliberate {
			if d.match(m) {
				allowed[d.why]++
				continue next
			}
		}
		out = append(out, m)
	}
	return out
}
