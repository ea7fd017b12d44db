package tunnel

import (
	"net/netip"
	"strings"
	"testing"
	"time"
)

func testKey(b byte) Key {
	var k Key
	for i := range k {
		k[i] = b
	}
	return k
}

func TestDeviceConfig(t *testing.T) {
	got := deviceConfig(testKey(1), 51820, []Peer{{
		PublicKey:  testKey(0xab),
		Endpoint:   netip.MustParseAddrPort("[2001:db8::1]:51820"),
		AllowedIPs: []netip.Prefix{netip.MustParsePrefix("10.53.0.9/24")},
		Keepalive:  1500 * time.Millisecond,
	}, {
		PublicKey:  testKey(0xcd),
		AllowedIPs: []netip.Prefix{netip.MustParsePrefix("10.53.0.7/32")},
	}})
	want := "private_key=" + strings.Repeat("01", 32) + "\n" +
		"listen_port=51820\n" +
		"replace_peers=true\n" +
		"public_key=" + strings.Repeat("ab", 32) + "\n" +
		"replace_allowed_ips=true\n" +
		"allowed_ip=10.53.0.0/24\n" +
		"persistent_keepalive_interval=2\n" +
		"endpoint=[2001:db8::1]:51820\n" +
		"public_key=" + strings.Repeat("cd", 32) + "\n" +
		"replace_allowed_ips=true\n" +
		"allowed_ip=10.53.0.7/32\n" +
		"persistent_keepalive_interval=0\n"
	if got != want {
		t.Errorf("deviceConfig:\n%s\nwant:\n%s", got, want)
	}
}

func TestPeersConfig(t *testing.T) {
	have := []PeerStatus{{PublicKey: testKey(1)}, {PublicKey: testKey(2)}}
	got := peersConfig(have, []Peer{{PublicKey: testKey(2)}, {PublicKey: testKey(3)}})
	want := "public_key=" + strings.Repeat("01", 32) + "\nremove=true\n" +
		"public_key=" + strings.Repeat("02", 32) + "\nreplace_allowed_ips=true\npersistent_keepalive_interval=0\n" +
		"public_key=" + strings.Repeat("03", 32) + "\nreplace_allowed_ips=true\npersistent_keepalive_interval=0\n"
	if got != want {
		t.Errorf("peersConfig:\n%s\nwant:\n%s", got, want)
	}
}

func TestCheckPeers(t *testing.T) {
	for _, tc := range []struct {
		name  string
		peers []Peer
		err   string
	}{
		{"ok", []Peer{{PublicKey: testKey(1)}, {PublicKey: testKey(2)}}, ""},
		{"no key", []Peer{{}}, "no public key"},
		{"twice", []Peer{{PublicKey: testKey(1)}, {PublicKey: testKey(1)}}, "listed twice"},
		{"keepalive", []Peer{{PublicKey: testKey(1), Keepalive: 20 * time.Hour}}, "keepalive"},
		{"allowed ip", []Peer{{PublicKey: testKey(1), AllowedIPs: []netip.Prefix{{}}}}, "invalid allowed IP"},
	} {
		err := checkPeers(tc.peers)
		if (tc.err == "") != (err == nil) || err != nil && !strings.Contains(err.Error(), tc.err) {
			t.Errorf("%s: error %v, want %q", tc.name, err, tc.err)
		}
	}
}

// The shape of wireguard-go's IpcGet output.
func TestParseStatus(t *testing.T) {
	in := "private_key=" + strings.Repeat("01", 32) + "\n" +
		"listen_port=40000\n" +
		"public_key=" + strings.Repeat("cd", 32) + "\n" +
		"preshared_key=" + strings.Repeat("00", 32) + "\n" +
		"protocol_version=1\n" +
		"last_handshake_time_sec=0\n" +
		"last_handshake_time_nsec=0\n" +
		"tx_bytes=0\nrx_bytes=0\n" +
		"persistent_keepalive_interval=0\n" +
		"public_key=" + strings.Repeat("ab", 32) + "\n" +
		"preshared_key=" + strings.Repeat("00", 32) + "\n" +
		"protocol_version=1\n" +
		"endpoint=192.0.2.2:39999\n" +
		"last_handshake_time_sec=1700000000\n" +
		"last_handshake_time_nsec=5\n" +
		"tx_bytes=92\nrx_bytes=148\n" +
		"persistent_keepalive_interval=25\n" +
		"allowed_ip=10.53.0.0/24\n" +
		"allowed_ip=fd53::/64\n"
	st, err := parseStatus(in)
	if err != nil {
		t.Fatal(err)
	}
	if st.listenPort != 40000 || len(st.peers) != 2 {
		t.Fatalf("parseStatus = %+v", st)
	}
	a, c := st.peers[0], st.peers[1] // sorted: ab.. before cd..
	if a.PublicKey != testKey(0xab) || a.Endpoint != netip.MustParseAddrPort("192.0.2.2:39999") ||
		!a.LastHandshake.Equal(time.Unix(1700000000, 5)) || a.TxBytes != 92 || a.RxBytes != 148 ||
		a.Keepalive != 25*time.Second || len(a.AllowedIPs) != 2 || a.AllowedIPs[1] != netip.MustParsePrefix("fd53::/64") {
		t.Errorf("peer ab: %+v", a)
	}
	if c.PublicKey != testKey(0xcd) || !c.LastHandshake.IsZero() || c.Endpoint.IsValid() {
		t.Errorf("peer cd: %+v", c)
	}
	if _, err := parseStatus("public_key=abcd\n"); err == nil {
		t.Error("short public_key parsed")
	}
}

func TestCovers(t *testing.T) {
	server := netip.MustParsePrefix("10.53.0.1/24")
	node := netip.MustParsePrefix("10.53.0.7/32")
	for _, tc := range []struct {
		addr netip.Prefix
		p    string
		want bool
	}{
		{server, "10.53.0.7/32", true},
		{server, "10.53.0.0/24", true},
		{server, "10.53.0.0/16", false},
		{server, "10.54.0.0/24", false},
		{server, "fd53::/64", false},
		{node, "10.53.0.0/24", false},
		{node, "10.53.0.7/32", true},
	} {
		if got := covers(tc.addr, netip.MustParsePrefix(tc.p)); got != tc.want {
			t.Errorf("covers(%s, %s) = %v", tc.addr, tc.p, got)
		}
	}
}
