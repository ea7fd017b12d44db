package mgmt

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/goleudy/goleudy/provision/api"
	"github.com/goleudy/goleudy/provision/config"
	"github.com/goleudy/goleudy/services/tunnel"
)

func TestLinkForOverlaysConfig(t *testing.T) {
	k1, _ := tunnel.GenerateKey()
	k2, _ := tunnel.GenerateKey()
	e := &api.Enrollment{
		Tunnel: api.Tunnel{Address: "10.53.0.7/32", ServerPublicKey: k1.Public().String(), Endpoint: "192.0.2.1:51820",
			AllowedIPs: []string{"10.53.0.0/24"}, Keepalive: 15},
		ConfigURL: "http://10.53.0.1:8053/v1/config", Heartbeat: "http://10.53.0.1:8053/v1/heartbeat",
	}
	base, err := linkFor(e, nil)
	if err != nil {
		t.Fatal(err)
	}
	if base.address != netip.MustParsePrefix("10.53.0.7/32") || base.keepalive.Seconds() != 15 || base.heartbeatURL != e.Heartbeat {
		t.Fatalf("enrollment link: %+v", base)
	}
	same, err := linkFor(e, &config.Management{WireGuard: config.WireGuard{Address: "10.53.0.7/32", Endpoint: "192.0.2.1:51820"},
		ConfigURL: e.ConfigURL})
	if err != nil || !same.equal(base) {
		t.Fatalf("a config repeating the enrollment must not rebuild the tunnel: %+v %v", same, err)
	}
	moved, err := linkFor(e, &config.Management{WireGuard: config.WireGuard{PublicKey: k2.Public().String(),
		Endpoint: "198.51.100.9:51820", AllowedIPs: []string{"10.53.0.0/23"}}, ConfigURL: "http://10.53.1.1:8053/v1/config"})
	if err != nil {
		t.Fatal(err)
	}
	if moved.equal(base) || moved.server != k2.Public() || moved.endpoint != "198.51.100.9:51820" ||
		moved.allowed[0] != netip.MustParsePrefix("10.53.0.0/23") || moved.heartbeatURL != "http://10.53.1.1:8053/v1/heartbeat" {
		t.Fatalf("moved link: %+v", moved)
	}
	for _, m := range []config.Management{
		{WireGuard: config.WireGuard{Address: "10.53.0.7"}},
		{WireGuard: config.WireGuard{PublicKey: "nope"}},
		{WireGuard: config.WireGuard{Endpoint: "no-port"}},
		{WireGuard: config.WireGuard{AllowedIPs: []string{"x"}}},
	} {
		if _, err := linkFor(e, &m); err == nil || !strings.HasPrefix(err.Error(), "mgmt: ") {
			t.Errorf("%+v: %v", m, err)
		}
	}
}
