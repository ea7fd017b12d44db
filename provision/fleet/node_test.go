package fleet

import (
	"errors"
	"reflect"
	"slices"
	"testing"

	"github.com/goleudy/goleudy/provision/config"
)

func TestAddNode(t *testing.T) {
	tests := []struct {
		name   string
		edit   func(*Node)
		want   error    // sentinel, or nil
		fields []string // config.Errors paths, if a validation error
	}{
		{name: "valid"},
		{name: "duplicate id", want: ErrExists},
		{name: "missing id", edit: func(n *Node) { n.Config.Node.ID = "" }, fields: []string{"node.id"}},
		{name: "bad id", edit: func(n *Node) { n.Config.Node.ID = "Alban_1" }, fields: []string{"node.id"}},
		{name: "bad state and neighbor", edit: func(n *Node) {
			n.Config.Node.ID = "bede"
			n.Config.Node.State = "asleep"
			n.Config.BGP.Peers[0].Neighbor = "nope"
		}, fields: []string{"node.state", "bgp.peers[0].neighbor"}},
		{name: "zone tsig key unknown", edit: func(n *Node) {
			n.Config.Node.ID = "cuthbert"
			n.Config.Zones = []config.Zone{{Name: "own.example.", Primaries: []string{"192.0.2.9:53"}, TSIG: "nokey"}}
		}, fields: []string{"zones[0].tsig"}},
	}
	s := newStore(t)
	if err := s.SetDefaults("op", fleetDefaults()); err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := nodeDoc("alban", "198.51.100.2")
			if tt.edit != nil {
				tt.edit(&n)
			}
			before, _ := s.Serial()
			err := s.AddNode("op", n)
			switch {
			case tt.want == nil && tt.fields == nil:
				if err != nil {
					t.Fatal(err)
				}
				return
			case tt.want != nil && !errors.Is(err, tt.want):
				t.Fatalf("got %v, want %v", err, tt.want)
			case tt.fields != nil:
				if !errors.Is(err, config.ErrInvalid) || !reflect.DeepEqual(fieldPaths(err), tt.fields) {
					t.Fatalf("got %v (paths %q), want paths %q", err, fieldPaths(err), tt.fields)
				}
			}
			if after, _ := s.Serial(); after != before {
				t.Errorf("refused add moved the serial")
			}
		})
	}
	nodes, err := s.ListNodes()
	if err != nil || len(nodes) != 1 {
		t.Fatalf("ListNodes = %v, %v; want only alban", nodes, err)
	}
}

func TestNodeLifecycle(t *testing.T) {
	s := newStore(t)
	if err := s.SetDefaults("op", fleetDefaults()); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"cuthbert", "alban", "bede"} {
		if err := s.AddNode("op", nodeDoc(id, "198.51.100.2")); err != nil {
			t.Fatal(err)
		}
	}
	nodes, _ := s.ListNodes()
	var ids []string
	for _, n := range nodes {
		ids = append(ids, n.ID())
	}
	if !slices.Equal(ids, []string{"alban", "bede", "cuthbert"}) {
		t.Fatalf("ListNodes ids = %v", ids)
	}

	upd := nodeDoc("bede", "198.51.100.6")
	upd.Notes = "moved"
	upd.Config.Serial = 99 // owned by the store; cleared
	if err := s.UpdateNode("op", upd); err != nil {
		t.Fatal(err)
	}
	got, err := s.GetNode("bede")
	if err != nil || got.Notes != "moved" || got.Config.Serial != 0 || got.Config.Interfaces.IX.Addresses[0] != "198.51.100.6/30" {
		t.Fatalf("GetNode after update = %+v, %v", got, err)
	}

	bad := nodeDoc("bede", "198.51.100.6")
	bad.Config.Interfaces.IX.Addresses = []string{"nonsense"}
	if err := s.UpdateNode("op", bad); !reflect.DeepEqual(fieldPaths(err), []string{"interfaces.ix.addresses[0]", "bgp.router_id"}) {
		t.Fatalf("bad update: %v", err)
	}
	if got2, _ := s.GetNode("bede"); !reflect.DeepEqual(got2, got) {
		t.Fatal("refused update changed the node")
	}

	errCases := []struct {
		name string
		err  error
		want error
	}{
		{"update missing", s.UpdateNode("op", nodeDoc("dunstan", "198.51.100.2")), ErrNotFound},
		{"remove missing", s.RemoveNode("op", "dunstan"), ErrNotFound},
		{"get missing", func() error { _, err := s.GetNode("dunstan"); return err }(), ErrNotFound},
		{"render missing", func() error { _, err := s.Render("dunstan"); return err }(), ErrNotFound},
	}
	for _, c := range errCases {
		if !errors.Is(c.err, c.want) {
			t.Errorf("%s: got %v, want %v", c.name, c.err, c.want)
		}
	}

	if err := s.RemoveNode("op", "alban"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetNode("alban"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("removed node still there: %v", err)
	}
}

func TestSetDefaults(t *testing.T) {
	s := newStore(t)
	if err := s.SetDefaults("op", fleetDefaults()); err != nil {
		t.Fatal(err)
	}
	if err := s.AddNode("op", nodeDoc("alban", "198.51.100.2")); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		edit   func(*config.Config)
		fields []string
	}{
		{"names a node", func(c *config.Config) { c.Node.ID = "alban" }, []string{"node.id"}},
		{"sets a serial", func(c *config.Config) { c.Serial = 5 }, []string{"serial"}},
		{"breaks every node", func(c *config.Config) { c.Anycast.Addresses = []string{"203.0.113.1"} },
			[]string{"anycast.addresses[0]"}},
		{"drops a key a zone needs", func(c *config.Config) { c.TSIGKeys = nil }, nil},
	}
	if err := s.AddZone("op", Zone{Name: "example.com.", Primaries: []string{"192.0.2.1"}, TSIG: "hub"}); err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := fleetDefaults()
			tt.edit(&d)
			err := s.SetDefaults("op", d)
			if !errors.Is(err, config.ErrInvalid) {
				t.Fatalf("got %v, want a validation error", err)
			}
			if tt.fields != nil && !reflect.DeepEqual(fieldPaths(err), tt.fields) {
				t.Fatalf("paths %q, want %q (%v)", fieldPaths(err), tt.fields, err)
			}
			if got, _ := s.Defaults(); !reflect.DeepEqual(got, fleetDefaults()) {
				t.Fatal("refused defaults were stored")
			}
		})
	}
}
