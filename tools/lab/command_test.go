package lab

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/miekg/dns"
)

// TestCommand runs NSD through Command, as a server the lab knows only by
// its command line, and updates a zone through the SIGHUP contract.
func TestCommand(t *testing.T) {
	Require(t, ToolNSD)
	script, err := filepath.Abs(filepath.Join("testdata", "nsd-command.sh"))
	if err != nil {
		t.Fatal(err)
	}
	f, _ := FixtureByName("plain")
	s := StartTB(t, Command("nsd-command", script+" {addr} {zonesdir} {dir}"), Options{Zones: f.Zones})
	r, err := Ask(s.Addr, Query{Name: "www.other.test.", Type: dns.TypeA}.Msg(), "udp")
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Answer) != 1 {
		t.Fatalf("www.other.test. A: %v", r)
	}
	next := strings.Replace(f.Zones[1].Text, "2024010101", "2024010102", 1)
	if err := s.UpdateZone(FixtureOtherOrigin, next); err != nil {
		t.Fatal(err)
	}
}
