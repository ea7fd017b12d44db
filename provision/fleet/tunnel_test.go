package fleet

import (
	"encoding/base64"
	"errors"
	"net/netip"
	"testing"

	"github.com/goleudy/goleudy/provision/config"
)

func netipPrefix(s string) netip.Prefix { return netip.MustParsePrefix(s) }

// wgKey is a distinct well-formed WireGuard public key per seed.
func wgKey(seed byte) string {
	var k [32]byte
	k[0] = seed
	return base64.StdEncoding.EncodeToString(k[:])
}

func TestAllocateTunnelAddress(t *testing.T) {
	s := newStore(t)
	if err := s.SetDefaults("op", fleetDefaults()); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"alban", "bede", "cuthbert", "dunstan"} {
		if err := s.AddNode("op", nodeDoc(id, "198.51.100.2")); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.AllocateTunnelAddress("op", "alban", wgKey(1)); !errors.Is(err, ErrNoPrefix) {
		t.Fatalf("without prefix: %v", err)
	}
	if err := s.SetTunnelPrefix("op", netipPrefix("10.53.0.0/31")); !errors.Is(err, config.ErrInvalid) {
		t.Fatalf("tiny prefix: %v", err)
	}
	// A /29 has .2 .. .6 for nodes: .0 is the network, .1 the server, .7 broadcast.
	if err := s.SetTunnelPrefix("op", netipPrefix("10.53.0.0/29")); err != nil {
		t.Fatal(err)
	}

	steps := []struct {
		name string
		node string
		key  string
		want string // address, or "" when err is expected
		err  error
	}{
		{"first", "alban", wgKey(1), "10.53.0.2/32", nil},
		{"second", "bede", wgKey(2), "10.53.0.3/32", nil},
		{"stable", "alban", wgKey(1), "10.53.0.2/32", nil},
		{"new key keeps address", "alban", wgKey(9), "10.53.0.2/32", nil},
		{"key of another node", "cuthbert", wgKey(2), "", ErrKeyInUse},
		{"bad key", "cuthbert", "short", "", config.ErrInvalid},
		{"unknown node", "nobody", wgKey(3), "", ErrNotFound},
		{"third", "cuthbert", wgKey(3), "10.53.0.4/32", nil},
	}
	for _, st := range steps {
		got, err := s.AllocateTunnelAddress("op", st.node, st.key)
		if st.err != nil {
			if !errors.Is(err, st.err) {
				t.Errorf("%s: got %v, want %v", st.name, err, st.err)
			}
			continue
		}
		if err != nil || got.String() != st.want {
			t.Errorf("%s: got %s, %v; want %s", st.name, got, err, st.want)
		}
	}

	if err := s.SetTunnelPrefix("op", netipPrefix("10.54.0.0/24")); !errors.Is(err, ErrPrefixInUse) {
		t.Fatalf("prefix change with peers: %v", err)
	}
	// Removing bede frees .3 for the next node.
	if err := s.RemoveNode("op", "bede"); err != nil {
		t.Fatal(err)
	}
	if got, err := s.AllocateTunnelAddress("op", "dunstan", wgKey(4)); err != nil || got.String() != "10.53.0.3/32" {
		t.Fatalf("after remove: %s, %v", got, err)
	}
	// The rendered config carries the tunnel address.
	c, err := s.Render("alban")
	if err != nil || c.Management.WireGuard.Address != "10.53.0.2/32" {
		t.Fatalf("render address = %q, %v", c.Management.WireGuard.Address, err)
	}
}

func TestTunnelPrefixFull(t *testing.T) {
	s := newStore(t)
	if err := s.SetDefaults("op", fleetDefaults()); err != nil {
		t.Fatal(err)
	}
	// A /30 has one node address: .2 (.1 is the server, .3 broadcast).
	if err := s.SetTunnelPrefix("op", netipPrefix("10.53.0.0/30")); err != nil {
		t.Fatal(err)
	}
	for i, id := range []string{"alban", "bede"} {
		if err := s.AddNode("op", nodeDoc(id, "198.51.100.2")); err != nil {
			t.Fatal(err)
		}
		_, err := s.AllocateTunnelAddress("op", id, wgKey(byte(i+1)))
		if want := []error{nil, ErrPrefixFull}[i]; !errors.Is(err, want) && err != want {
			t.Fatalf("%s: got %v, want %v", id, err, want)
		}
	}
}

func TestFreeAddressIPv6(t *testing.T) {
	p := netipPrefix("fd53::/126")
	used := map[netip.Addr]bool{netip.MustParseAddr("fd53::2"): true}
	a, err := freeAddress(p, used)
	if err != nil || a.String() != "fd53::3" {
		t.Fatalf("got %s, %v", a, err)
	}
	used[a] = true
	if _, err := freeAddress(p, used); !errors.Is(err, ErrPrefixFull) {
		t.Fatalf("full: %v", err)
	}
}
