package fleet

import (
	"errors"
	"reflect"
	"testing"

	"github.com/goleudy/goleudy/provision/config"
)

func TestZones(t *testing.T) {
	s := newStore(t)
	if err := s.SetDefaults("op", fleetDefaults()); err != nil {
		t.Fatal(err)
	}
	own := nodeDoc("alban", "198.51.100.2")
	own.Config.Zones = []config.Zone{{Name: "own.example.", Primaries: []string{"192.0.2.9:53"}}}
	if err := s.AddNode("op", own); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		zone   Zone
		want   error
		fields []string
	}{
		{"valid", Zone{Name: "example.com.", Primaries: []string{"192.0.2.1", "[2001:db8::1]:5353"}, TSIG: "hub"}, nil, nil},
		{"duplicate", Zone{Name: "example.com.", Primaries: []string{"192.0.2.1"}}, ErrExists, nil},
		{"duplicate other case", Zone{Name: "EXAMPLE.com.", Primaries: []string{"192.0.2.1"}}, ErrExists, nil},
		{"not fully qualified", Zone{Name: "example.org", Primaries: []string{"192.0.2.1"}}, nil, []string{"name"}},
		{"no primaries", Zone{Name: "example.org."}, nil, []string{"primaries"}},
		{"bad primary", Zone{Name: "example.org.", Primaries: []string{"192.0.2.1", "primary.example"}}, nil, []string{"primaries[1]"}},
		{"unknown key", Zone{Name: "example.org.", Primaries: []string{"192.0.2.1"}, TSIG: "nokey"}, nil, []string{"tsig"}},
		{"clashes with a node's zone", Zone{Name: "own.example.", Primaries: []string{"192.0.2.1"}}, nil, []string{"zones[2].name"}}, // own zone, example.com., then this
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := s.AddZone("op", tt.zone)
			switch {
			case tt.want == nil && tt.fields == nil:
				if err != nil {
					t.Fatal(err)
				}
			case tt.want != nil:
				if !errors.Is(err, tt.want) {
					t.Fatalf("got %v, want %v", err, tt.want)
				}
			default:
				if !reflect.DeepEqual(fieldPaths(err), tt.fields) {
					t.Fatalf("got %v (paths %q), want paths %q", err, fieldPaths(err), tt.fields)
				}
			}
		})
	}
	zones, err := s.ListZones()
	want := []Zone{{Name: "example.com.", Primaries: []string{"192.0.2.1:53", "[2001:db8::1]:5353"}, TSIG: "hub"}}
	if err != nil || !reflect.DeepEqual(zones, want) {
		t.Fatalf("ListZones = %+v, %v; want %+v", zones, err, want)
	}
	if err := s.RemoveZone("op", "Example.COM."); err != nil {
		t.Fatal(err)
	}
	if err := s.RemoveZone("op", "example.com."); !errors.Is(err, ErrNotFound) {
		t.Fatalf("second remove: %v", err)
	}
	if zones, _ := s.ListZones(); len(zones) != 0 {
		t.Fatalf("zones left: %v", zones)
	}
}
