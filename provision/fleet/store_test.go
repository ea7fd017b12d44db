package fleet

import (
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/goleudy/goleudy/provision/config"
)

var epoch = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// fakeClock ticks one second per reading, so audit times are distinct and
// deterministic without sleeping.
type fakeClock struct{ n atomic.Int64 }

func (c *fakeClock) Now() time.Time { return epoch.Add(time.Duration(c.n.Add(1)) * time.Second) }

const hubSecret = "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3I="

func openStore(t *testing.T, path string) *Store {
	t.Helper()
	clock := &fakeClock{}
	s, err := Open(path, WithClock(clock.Now))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func newStore(t *testing.T) *Store {
	return openStore(t, filepath.Join(t.TempDir(), "fleet.db"))
}

func fleetDefaults() config.Config {
	return config.Config{
		Anycast: config.Anycast{ASN: 64512,
			Prefixes:  []string{"192.0.2.0/24", "2001:db8:53::/48"},
			Addresses: []string{"192.0.2.53", "2001:db8:53::53"}},
		DNS:      config.DNS{Version: "goleudy"},
		Catalogs: []config.Zone{{Name: "catalog.goleudy.invalid.", Primaries: []string{"10.53.0.1:53"}}},
		TSIGKeys: []config.TSIGKey{{Name: "hub", Algorithm: "hmac-sha256", Secret: hubSecret}},
		Management: config.Management{
			WireGuard: config.WireGuard{Endpoint: "203.0.113.10:51820", AllowedIPs: []string{"10.53.0.0/24"}},
			ConfigURL: "http://10.53.0.1:8053/v1/config"},
	}
}

func nodeDoc(id, ix string) Node {
	return Node{
		Config: config.Config{
			Node: config.Node{ID: id, FQDN: id + ".nodes.example.net", Board: "rpi",
				Location: config.Location{City: "Edinburgh", CountryISO: "gb"}},
			Interfaces: config.Interfaces{IX: config.Interface{Match: "eth0",
				Addresses: []string{ix + "/30"}}},
			BGP: config.BGP{Peers: []config.Peer{{Name: "transit", ASN: 64500, Neighbor: "198.51.100.1"}}},
		},
		InService: time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC),
		Notes:     "rack 4",
	}
}

// fieldPaths returns the paths of the config.Errors inside err.
func fieldPaths(err error) []string {
	var errs config.Errors
	if !errors.As(err, &errs) {
		return nil
	}
	var out []string
	for _, e := range errs {
		out = append(out, e.Path)
	}
	return out
}

func TestOpenTwiceIsRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "fleet.db")
	s := openStore(t, path)
	if _, err := Open(path, WithLockTimeout(100*time.Millisecond)); err == nil {
		t.Fatal("second Open of a locked store succeeded")
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

func TestNoActor(t *testing.T) {
	s := newStore(t)
	if err := s.AddNode("", nodeDoc("alban", "198.51.100.2")); !errors.Is(err, ErrNoActor) {
		t.Fatalf("got %v, want ErrNoActor", err)
	}
}

func TestSerialIncreasesAcrossReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "fleet.db")
	var seen []uint64
	for round := range 3 {
		s, err := Open(path)
		if err != nil {
			t.Fatal(err)
		}
		for i := range 3 {
			if err := s.AddZone("op", Zone{Name: zoneName(round*3 + i), Primaries: []string{"192.0.2.1"}}); err != nil {
				t.Fatal(err)
			}
			n, err := s.Serial()
			if err != nil {
				t.Fatal(err)
			}
			seen = append(seen, n)
		}
		// A refused change must not bump the serial.
		before, _ := s.Serial()
		if err := s.AddZone("op", Zone{Name: zoneName(0), Primaries: []string{"192.0.2.1"}}); !errors.Is(err, ErrExists) {
			t.Fatalf("duplicate zone: %v", err)
		}
		if after, _ := s.Serial(); after != before {
			t.Fatalf("refused change moved serial %d -> %d", before, after)
		}
		s.Close()
	}
	for i := 1; i < len(seen); i++ {
		if seen[i] <= seen[i-1] {
			t.Fatalf("serials not strictly increasing: %v", seen)
		}
	}
}

func zoneName(i int) string { return "z" + string(rune('a'+i)) + ".example.com." }

func TestEveryChangeIsAudited(t *testing.T) {
	s := newStore(t)
	steps := []struct {
		action string
		do     func() error
	}{
		{"defaults set", func() error { return s.SetDefaults("ann", fleetDefaults()) }},
		{"node add", func() error { return s.AddNode("ann", nodeDoc("alban", "198.51.100.2")) }},
		{"node update", func() error { return s.UpdateNode("ann", nodeDoc("alban", "198.51.100.6")) }},
		{"zone add", func() error { return s.AddZone("bob", Zone{Name: "example.com.", Primaries: []string{"192.0.2.1"}}) }},
		{"zone remove", func() error { return s.RemoveZone("bob", "example.com.") }},
		{"token new", func() error { _, err := s.NewToken("ann", "alban", epoch.Add(time.Hour)); return err }},
		{"tunnel prefix set", func() error { return s.SetTunnelPrefix("ann", netipPrefix("10.53.0.0/24")) }},
		{"tunnel allocate", func() error { _, err := s.AllocateTunnelAddress("ann", "alban", wgKey(1)); return err }},
		{"release add", func() error { return s.AddRelease("ci", release("rpi", 1)) }},
		{"node remove", func() error { return s.RemoveNode("ann", "alban") }},
	}
	for i, st := range steps {
		if err := st.do(); err != nil {
			t.Fatalf("%s: %v", st.action, err)
		}
		log, err := s.Audit(0, 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(log) != i+1 {
			t.Fatalf("after %s: %d audit entries, want %d", st.action, len(log), i+1)
		}
		e := log[i]
		if e.Action != st.action || e.Seq != uint64(i+1) || e.Time.IsZero() || e.Actor == "" {
			t.Errorf("entry %d = %+v, want action %q", i, e, st.action)
		}
		if n, _ := s.Serial(); n != uint64(i+1) {
			t.Errorf("after %s: serial %d, want %d", st.action, n, i+1)
		}
	}
	page, err := s.Audit(3, 2)
	if err != nil || len(page) != 2 || page[0].Seq != 4 || page[1].Seq != 5 {
		t.Fatalf("Audit(3, 2) = %+v, %v", page, err)
	}
}

func TestConcurrentWriters(t *testing.T) {
	s := newStore(t)
	if err := s.SetDefaults("op", fleetDefaults()); err != nil {
		t.Fatal(err)
	}
	if err := s.SetTunnelPrefix("op", netipPrefix("10.53.0.0/24")); err != nil {
		t.Fatal(err)
	}
	const n = 20
	var wg sync.WaitGroup
	errs := make(chan error, 3*n)
	for i := range n {
		wg.Go(func() {
			id := "node" + string(rune('a'+i))
			if err := s.AddNode("op", nodeDoc(id, "198.51.100.2")); err != nil {
				errs <- err
				return
			}
			if _, err := s.AllocateTunnelAddress("op", id, wgKey(byte(i+1))); err != nil {
				errs <- err
			}
			if _, err := s.Render(id); err != nil {
				errs <- err
			}
		})
		wg.Go(func() {
			if err := s.AddZone("op", Zone{Name: zoneName(i), Primaries: []string{"192.0.2.1"}}); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	peers, err := s.Peers()
	if err != nil {
		t.Fatal(err)
	}
	addrs := map[string]bool{}
	for _, p := range peers {
		if addrs[p.Address] {
			t.Errorf("address %s allocated twice", p.Address)
		}
		addrs[p.Address] = true
	}
	if len(peers) != n {
		t.Errorf("%d peers, want %d", len(peers), n)
	}
	if got, _ := s.Serial(); got != 2+3*n {
		t.Errorf("serial %d, want %d", got, 2+3*n)
	}
	log, _ := s.Audit(0, 0)
	if len(log) != 2+3*n {
		t.Errorf("%d audit entries, want %d", len(log), 2+3*n)
	}
	zones, _ := s.ListZones()
	if !slices.IsSortedFunc(zones, func(a, b Zone) int { return strings.Compare(a.Name, b.Name) }) || len(zones) != n {
		t.Errorf("zones: %v", zones)
	}
}
