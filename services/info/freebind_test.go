package info

import (
	"net"
	"net/netip"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/goleudy/goleudy/tools/lab"
)

// TestFreebind starts the page on anycast addresses that no interface has
// yet, in a network namespace of its own, as a node does before it puts
// them on the loopback; then adds them and asks the page over IPv4 and
// IPv6. It needs root and iproute2.
func TestFreebind(t *testing.T) {
	if _, ok := lab.InNetns(); ok {
		freebindChild(t)
		return
	}
	if os.Geteuid() != 0 {
		t.Fatal("services/info: TestFreebind needs root for a network namespace")
	}
	lab.ExecTest(t, lab.NewNetns(t), "^TestFreebind$", time.Minute)
}

func freebindChild(t *testing.T) {
	anycast := []string{"192.0.2.53", "2001:db8:53::53"}
	s, err := New(alban("192.0.2.53:80", "[2001:db8:53::53]:80"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	run(t, s, 2) // bound, though neither address exists
	for _, a := range anycast {
		if c, err := net.DialTimeout("tcp", net.JoinHostPort(a, "80"), time.Second); err == nil {
			c.Close()
			t.Fatalf("%s answered before it was on an interface", a)
		}
	}
	for _, a := range []string{"192.0.2.53/32", "2001:db8:53::53/128"} {
		if out, err := exec.Command("ip", "addr", "add", a, "dev", "lo", "nodad").CombinedOutput(); err != nil {
			t.Fatalf("ip addr add %s dev lo (apt-get install iproute2): %v: %s", a, err, out)
		}
	}
	for i, a := range anycast {
		want := s.Addrs()[i]
		ad := do(t, newClient(t, netip.Addr{}), "GET", "http://"+want.String()+"/")
		if ad.code != 200 {
			t.Fatalf("GET on %s: %d %s", a, ad.code, ad.body)
		}
		d := decode(t, ad.body)
		if d.Server != want.String() || d.Node != "alban" {
			t.Errorf("on %s: server %q node %q", want, d.Server, d.Node)
		}
		if c, err := netip.ParseAddrPort(d.Client); err != nil || c.Addr() != want.Addr() {
			t.Errorf("on %s: client %q, want the anycast address itself (the only one here)", want, d.Client)
		}
	}
}
