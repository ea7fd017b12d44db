package fleet

import (
	"encoding/base64"
	"errors"
	"testing"
	"time"

	"github.com/goleudy/goleudy/provision/config"
)

func idKey(seed byte) string {
	k := make([]byte, 32)
	k[0] = seed
	return base64.StdEncoding.EncodeToString(k)
}

func TestEnroll(t *testing.T) {
	s := newStore(t)
	if err := s.SetDefaults("op", fleetDefaults()); err != nil {
		t.Fatal(err)
	}
	if err := s.SetTunnelPrefix("op", netipPrefix("10.53.0.0/24")); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"alban", "bede"} {
		if err := s.AddNode("op", nodeDoc(id, "198.51.100.2")); err != nil {
			t.Fatal(err)
		}
	}
	expires := epoch.Add(time.Hour)
	alban, _ := s.NewToken("op", "alban", expires)
	bede, _ := s.NewToken("op", "bede", expires)

	enr := func(node, token string, id, wg byte) Enrollment {
		return Enrollment{NodeID: node, Token: token, IdentityKey: idKey(id), WireGuard: wgKey(wg), Facts: []byte(`{"board":"rpi"}`)}
	}
	refusals := []struct {
		name string
		e    Enrollment
		at   time.Time
		want error
	}{
		{"unknown token", enr("alban", "nope", 1, 1), epoch, ErrTokenUnknown},
		{"token of another node", enr("alban", bede, 1, 1), epoch, ErrTokenOtherNode},
		{"expired", enr("bede", bede, 2, 2), expires, ErrTokenExpired},
		{"bad identity key", Enrollment{NodeID: "alban", Token: alban, IdentityKey: "xx", WireGuard: wgKey(1)}, epoch, config.ErrInvalid},
		{"bad wireguard key", Enrollment{NodeID: "alban", Token: alban, IdentityKey: idKey(1), WireGuard: "xx"}, epoch, config.ErrInvalid},
	}
	before, _ := s.Serial()
	for _, r := range refusals {
		if _, _, err := s.Enroll(r.e, r.at); !errors.Is(err, r.want) {
			t.Errorf("%s: got %v, want %v", r.name, err, r.want)
		}
	}
	if after, _ := s.Serial(); after != before {
		t.Fatalf("refusals changed the serial %d → %d", before, after)
	}
	if peers, _ := s.Peers(); len(peers) != 0 {
		t.Fatalf("refusals stored peers: %v", peers)
	}

	p, retried, err := s.Enroll(enr("alban", alban, 1, 1), epoch)
	if err != nil || retried {
		t.Fatalf("first enrollment: %v retried=%v", err, retried)
	}
	if p.Address != "10.53.0.2/32" || p.Identity != idKey(1) || p.PublicKey != wgKey(1) || string(p.Facts) != `{"board":"rpi"}` {
		t.Fatalf("peer = %+v", p)
	}
	// The same keys again: a retry after a lost answer gets the same peer.
	p2, retried, err := s.Enroll(enr("alban", alban, 1, 1), epoch.Add(time.Minute))
	if err != nil || !retried || p2.Address != p.Address {
		t.Fatalf("retry: %+v retried=%v err=%v", p2, retried, err)
	}
	// Anyone else replaying the used token is refused, even before expiry.
	for _, e := range []Enrollment{enr("alban", alban, 9, 1), enr("alban", alban, 1, 9), enr("alban", alban, 9, 9)} {
		if _, _, err := s.Enroll(e, epoch.Add(time.Minute)); !errors.Is(err, ErrTokenUsed) {
			t.Errorf("replay with other keys: %v", err)
		}
	}
	got, err := s.PeerByAddress(netipPrefix("10.53.0.2/32").Addr())
	if err != nil || got.NodeID != "alban" {
		t.Fatalf("PeerByAddress = %+v, %v", got, err)
	}
	if _, err := s.PeerByAddress(netipPrefix("10.53.0.3/32").Addr()); !errors.Is(err, ErrNotFound) {
		t.Fatalf("PeerByAddress of a stranger: %v", err)
	}
}

func TestRenderWithHub(t *testing.T) {
	s := newStore(t)
	if err := s.SetDefaults("op", fleetDefaults()); err != nil {
		t.Fatal(err)
	}
	if err := s.AddNode("op", nodeDoc("alban", "198.51.100.2")); err != nil {
		t.Fatal(err)
	}
	if err := s.AddZone("op", Zone{Name: "example.com.", Primaries: []string{"192.0.2.1"}}); err != nil {
		t.Fatal(err)
	}
	if err := s.SetTunnelPrefix("op", netipPrefix("10.53.0.0/24")); err != nil {
		t.Fatal(err)
	}
	c, err := s.Render("alban")
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Zones) != 1 || len(c.Catalogs) != 1 {
		t.Fatalf("without server settings the zones are listed: %+v %+v", c.Zones, c.Catalogs)
	}
	if err := s.SetServer("op", Server{PublicKey: wgKey(7), Endpoint: "bad"}); !errors.Is(err, config.ErrInvalid) {
		t.Fatalf("bad endpoint: %v", err)
	}
	if err := s.SetServer("op", Server{PublicKey: wgKey(7), Endpoint: "203.0.113.10:51820"}); err != nil {
		t.Fatal(err)
	}
	serial, _ := s.Serial()
	if err := s.SetServer("op", Server{PublicKey: wgKey(7), Endpoint: "203.0.113.10:51820"}); err != nil {
		t.Fatal(err)
	}
	if again, _ := s.Serial(); again != serial {
		t.Fatal("setting the same server settings bumped the serial")
	}
	if _, _, err := s.Enroll(Enrollment{}, epoch); err == nil {
		t.Fatal("empty enrollment accepted")
	}
	tok, _ := s.NewToken("op", "alban", epoch.Add(time.Hour))
	if _, _, err := s.Enroll(Enrollment{NodeID: "alban", Token: tok, IdentityKey: idKey(1), WireGuard: wgKey(1)}, epoch); err != nil {
		t.Fatal(err)
	}
	c, err = s.Render("alban")
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Zones) != 0 || len(c.Catalogs) != 1 || c.Catalogs[0].Name != CatalogName || c.Catalogs[0].Primaries[0] != "10.53.0.1:53" {
		t.Fatalf("with a hub the catalog replaces the zones: %+v %+v", c.Zones, c.Catalogs)
	}
	m := c.Management
	if m.WireGuard.Address != "10.53.0.2/32" || m.WireGuard.PublicKey != wgKey(7) || m.WireGuard.Endpoint != "203.0.113.10:51820" ||
		m.ConfigURL != "http://10.53.0.1:8053/v1/config" || m.AdminListen != "10.53.0.2:9053" || m.WireGuard.AllowedIPs[0] != "10.53.0.0/24" {
		t.Fatalf("management = %+v", m)
	}
}
