package admin

import (
	"net/netip"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/goleudy/goleudy/tools/lab"
)

// TestFreebind starts the API on the tunnel address before the tunnel
// exists, in a network namespace of its own, as a node does at boot; then
// brings the address up (on lo, standing in for wg0) and calls from a hub
// address inside the tunnel prefix and from one outside it. It needs root
// and iproute2.
func TestFreebind(t *testing.T) {
	if _, ok := lab.InNetns(); ok {
		freebindChild(t)
		return
	}
	if os.Geteuid() != 0 {
		t.Fatal("services/admin: TestFreebind needs root for a network namespace")
	}
	lab.ExecTest(t, lab.NewNetns(t), "^TestFreebind$", time.Minute)
}

func freebindChild(t *testing.T) {
	tunnelListen = "10.53.0.7:9053"
	allowed = []netip.Prefix{netip.MustParsePrefix("10.53.0.0/24")}
	h := newHarness(t, nil) // bound, though 10.53.0.7 is on no interface
	for _, a := range []string{"10.53.0.7/32", "10.53.0.1/32", "192.0.2.9/32"} {
		if out, err := exec.Command("ip", "addr", "add", a, "dev", "lo").CombinedOutput(); err != nil {
			t.Fatalf("ip addr add %s dev lo (apt-get install iproute2): %v: %s", a, err, out)
		}
	}
	hubClient := newClient(t, netip.MustParseAddr("10.53.0.1"))
	if a := h.do(hubClient, "GET", "/v1/status"); a.code != 200 {
		t.Errorf("from the hub: %d %s", a.code, a.body)
	}
	if a := h.do(hubClient, "POST", "/v1/drain"); a.code != 200 {
		t.Errorf("drain from the hub: %d %s", a.code, a.body)
	}
	outside := newClient(t, netip.MustParseAddr("192.0.2.9"))
	if a := h.do(outside, "GET", "/v1/status"); a.code != 403 || errorText(t, a) != "forbidden: 192.0.2.9 is not in the management network" {
		t.Errorf("from outside the tunnel prefix: %d %s", a.code, a.body)
	}
}
