package fleet

import (
	"errors"
	"reflect"
	"testing"

	"github.com/goleudy/goleudy/provision/config"
)

func TestRender(t *testing.T) {
	s := newStore(t)
	d := fleetDefaults()
	d.Node.State = config.StateMaintenance // every node starts in maintenance...
	d.Node.Location.Country = "United Kingdom"
	if err := s.SetDefaults("op", d); err != nil {
		t.Fatal(err)
	}
	n := nodeDoc("alban", "198.51.100.2")
	n.Config.DNS.Version = "alban-build" // ...a node overrides a scalar
	n.Config.Zones = []config.Zone{{Name: "own.example.", Primaries: []string{"192.0.2.9:53"}}}
	n.Config.TSIGKeys = []config.TSIGKey{{Name: "own", Secret: hubSecret}}
	if err := s.AddNode("op", n); err != nil {
		t.Fatal(err)
	}
	if err := s.AddZone("op", Zone{Name: "example.com.", Primaries: []string{"10.0.0.1"}, TSIG: "hub"}); err != nil {
		t.Fatal(err)
	}
	c, err := s.Render("alban")
	if err != nil {
		t.Fatal(err)
	}
	serial, _ := s.Serial()
	checks := []struct {
		field     string
		got, want any
	}{
		{"schema", c.Schema, config.Schema},
		{"serial", c.Serial, serial},
		{"node.id", c.Node.ID, "alban"},
		{"node.state (default)", c.Node.State, config.StateMaintenance},
		{"node.location (merged)", c.Node.Location, config.Location{City: "Edinburgh", Country: "United Kingdom", CountryISO: "gb"}},
		{"anycast (default)", c.Anycast, d.Anycast},
		{"dns.version (node wins)", c.DNS.Version, "alban-build"},
		{"dns.listen (config defaults)", c.DNS.Listen, []string{"192.0.2.53:53", "[2001:db8:53::53]:53"}},
		{"bgp.router_id (config defaults)", c.BGP.RouterID, "198.51.100.2"},
		{"zones (node, then customer)", c.Zones, []config.Zone{
			{Name: "own.example.", Primaries: []string{"192.0.2.9:53"}},
			{Name: "example.com.", Primaries: []string{"10.0.0.1:53"}, TSIG: "hub"}}},
		{"catalogs (default)", c.Catalogs, d.Catalogs},
		{"tsig_keys (defaults, then node)", len(c.TSIGKeys), 2},
		{"management (default)", c.Management.ConfigURL, d.Management.ConfigURL},
	}
	for _, ch := range checks {
		if !reflect.DeepEqual(ch.got, ch.want) {
			t.Errorf("%s = %#v, want %#v", ch.field, ch.got, ch.want)
		}
	}
	if err := c.Validate(); err != nil {
		t.Fatalf("rendered config does not validate: %v", err)
	}
	// What the node receives decodes strictly back to the same config.
	data, err := c.Encode()
	if err != nil {
		t.Fatal(err)
	}
	back, err := config.Parse(data)
	if err != nil || !reflect.DeepEqual(back, c) {
		t.Fatalf("rendered config does not round-trip: %v", err)
	}
	// Rendering leaves the stored documents alone.
	if got, _ := s.GetNode("alban"); len(got.Config.Zones) != 1 {
		t.Fatalf("render changed the stored node: %+v", got.Config.Zones)
	}

	// Every change bumps the serial the next render carries.
	if err := s.RemoveZone("op", "example.com."); err != nil {
		t.Fatal(err)
	}
	c2, err := s.Render("alban")
	if err != nil || c2.Serial <= c.Serial || len(c2.Zones) != 1 {
		t.Fatalf("after change: serial %d (was %d), zones %v, %v", c2.Serial, c.Serial, c2.Zones, err)
	}
}

func TestMergeNamesField(t *testing.T) {
	// A store can only hold documents that render, so exercise merge itself
	// with defaults and a node that conflict.
	d := fleetDefaults()
	n := nodeDoc("alban", "198.51.100.2").Config
	n.Catalogs = d.Catalogs // the same catalog twice once concatenated
	_, err := merge(d, n, nil, Peer{}, nil, 1)
	if !errors.Is(err, config.ErrInvalid) || !reflect.DeepEqual(fieldPaths(err), []string{"catalogs[1].name"}) {
		t.Fatalf("got %v", err)
	}
}
