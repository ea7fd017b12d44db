package lab

import (
	"net"
	"path/filepath"
	"testing"

	"github.com/miekg/dns"
)

// TestServeFixtures starts NSD and Knot on every fixture set and checks
// each zone answers, with signatures in the signed sets.
func TestServeFixtures(t *testing.T) {
	for _, d := range []Daemon{NSD, Knot} {
		for _, f := range Fixtures() {
			t.Run(d.Name()+"/"+f.Name, func(t *testing.T) {
				t.Parallel()
				s := StartTB(t, d, Options{Zones: f.Zones, IPv6: true})
				for _, addr := range []string{s.Addr, s.Addr6} {
					for _, network := range []string{"udp", "tcp"} {
						q := Query{Name: "www." + FixtureOrigin, Type: dns.TypeA, Net: network, DO: true}
						r, err := Ask(addr, q.Msg(), network)
						if err != nil {
							t.Fatal(err)
						}
						if r.Rcode != dns.RcodeSuccess || !r.Authoritative || len(r.Answer) == 0 {
							t.Fatalf("%s: %s", q, r)
						}
						signed := hasType(r.Answer, dns.TypeRRSIG)
						if signed != (f.Name != "plain") {
							t.Errorf("%s on %s: RRSIG in answer = %v", q, f.Name, signed)
						}
					}
				}
			})
		}
	}
}

func hasType(rrs []dns.RR, t uint16) bool {
	for _, rr := range rrs {
		if rr.Header().Rrtype == t {
			return true
		}
	}
	return false
}

// TestPortClash hands the server a port someone else holds: Start must
// notice and retry on another.
func TestPortClash(t *testing.T) {
	script, err := filepath.Abs(filepath.Join("testdata", "nsd-command.sh"))
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range []Daemon{NSD, Knot, Command("nsd-command", script+" {addr} {zonesdir} {dir}")} {
		t.Run(d.Name(), func(t *testing.T) {
			busy, err := net.ListenPacket("udp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer busy.Close()
			taken := busy.LocalAddr().(*net.UDPAddr).Port
			first := true
			pickPort = func(v6 bool) (int, error) {
				if first {
					first = false
					return taken, nil
				}
				return freePort(v6)
			}
			defer func() { pickPort = freePort }()
			f, _ := FixtureByName("plain")
			s := StartTB(t, d, Options{Zones: f.Zones})
			if first || s.Port() == taken {
				t.Errorf("served on port %d; the taken port was %d", s.Port(), taken)
			}
		})
	}
}
