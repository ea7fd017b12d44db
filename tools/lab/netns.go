package lab

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vishvananda/netns"
)

// Netns is a network namespace a test created with NewNetns. It is named
// (ip netns add) so that ip, BIRD and a re-executed test binary can all
// find it, and it is deleted when the test ends, pass or fail.
type Netns struct {
	Name string
}

var netnsSeq atomic.Uint64

// NewNetns creates an empty namespace with a name unique to this process
// and brings its loopback up. It needs root and fails the test, naming the
// package, without it.
func NewNetns(tb testing.TB) *Netns {
	tb.Helper()
	if os.Geteuid() != 0 {
		tb.Fatal("lab: network namespaces need root")
	}
	n := &Netns{Name: fmt.Sprintf("goleudy-%d-%d", os.Getpid(), netnsSeq.Add(1))}
	if err := ip("netns", "add", n.Name); err != nil {
		tb.Fatalf("lab: %v", err)
	}
	tb.Cleanup(func() {
		if err := ip("netns", "del", n.Name); err != nil {
			tb.Errorf("lab: %v", err)
		}
	})
	if err := n.IP("link", "set", "lo", "up"); err != nil {
		tb.Fatalf("lab: %v", err)
	}
	return n
}

// OpenNetns names a namespace that a parent test created; the caller does
// not own it and nothing is cleaned up.
func OpenNetns(name string) *Netns { return &Netns{Name: name} }

// IP runs `ip -n NAME args...`.
func (n *Netns) IP(args ...string) error {
	return ip(append([]string{"-n", n.Name}, args...)...)
}

// Command returns a command that runs inside the namespace
// (ip netns exec). It inherits nothing of the caller's network.
func (n *Netns) Command(ctx context.Context, name string, args ...string) *exec.Cmd {
	return exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", n.Name, name}, args...)...)
}

// Do runs f on an OS thread switched into the namespace. Only sockets that
// f itself opens on this goroutine are in the namespace: goroutines that f
// starts run on other threads, in the caller's namespace. That is why a
// whole BGP speaker is run with ExecTest instead.
func (n *Netns) Do(f func() error) error {
	runtime.LockOSThread()
	orig, err := netns.Get()
	if err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("lab: netns %s: current: %w", n.Name, err)
	}
	defer orig.Close()
	h, err := netns.GetFromName(n.Name)
	if err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("lab: netns %s: %w", n.Name, err)
	}
	defer h.Close()
	if err := netns.Set(h); err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("lab: enter netns %s: %w", n.Name, err)
	}
	ferr := f()
	if err := netns.Set(orig); err != nil {
		// Leave the thread locked: it dies with this goroutine rather than
		// running other goroutines in the wrong namespace.
		return fmt.Errorf("lab: leave netns %s: %w", n.Name, err)
	}
	runtime.UnlockOSThread()
	return ferr
}

// Veth joins a and b with a veth pair, named after the other side's
// namespace, and gives each end its addresses (CIDR). IPv6 addresses skip
// duplicate address detection so they are usable at once.
func Veth(tb testing.TB, a, b *Netns, aAddrs, bAddrs []string) (aIf, bIf string) {
	tb.Helper()
	aIf, bIf = "veth-a", "veth-b"
	VethNamed(tb, a, b, aIf, bIf, aAddrs, bAddrs)
	return aIf, bIf
}

// VethNamed is Veth with the ends named aIf (in a) and bIf (in b), for
// labs with several links per namespace, or ports named like a real
// board's (enp1s0).
func VethNamed(tb testing.TB, a, b *Netns, aIf, bIf string, aAddrs, bAddrs []string) {
	tb.Helper()
	if err := a.IP("link", "add", aIf, "type", "veth", "peer", "name", bIf, "netns", b.Name); err != nil {
		tb.Fatalf("lab: %v", err)
	}
	for _, side := range []struct {
		ns    *Netns
		ifc   string
		addrs []string
	}{{a, aIf, aAddrs}, {b, bIf, bAddrs}} {
		for _, addr := range side.addrs {
			args := []string{"addr", "add", addr, "dev", side.ifc}
			if strings.Contains(addr, ":") {
				args = append(args, "nodad")
			}
			if err := side.ns.IP(args...); err != nil {
				tb.Fatalf("lab: %v", err)
			}
		}
		if err := side.ns.IP("link", "set", side.ifc, "up"); err != nil {
			tb.Fatalf("lab: %v", err)
		}
	}
}

// EnvNetns is set in a test binary that ExecTest re-ran inside a namespace.
const EnvNetns = "GOLEUDY_LAB_NETNS"

// InNetns reports the namespace this test binary was re-run in by
// ExecTest, if any.
func InNetns() (*Netns, bool) {
	name := os.Getenv(EnvNetns)
	if name == "" {
		return nil, false
	}
	return OpenNetns(name), true
}

// ExecTest re-runs the current test binary inside n, running only the test
// named run (a -test.run pattern), with env added. This is how a test runs
// code that makes sockets from many goroutines — an embedded BGP speaker —
// inside a namespace: every thread of the child is in n from the start.
// The child's output is logged; a failing child fails tb.
func ExecTest(tb testing.TB, n *Netns, run string, timeout time.Duration, env ...string) {
	tb.Helper()
	args := []string{"-test.run=" + run, "-test.v", "-test.count=1", "-test.timeout=" + timeout.String()}
	ctx, cancel := context.WithTimeout(context.Background(), timeout+10*time.Second)
	defer cancel()
	cmd := n.Command(ctx, os.Args[0], args...)
	cmd.Env = append(append(os.Environ(), EnvNetns+"="+n.Name), env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	tb.Logf("lab: child %s in netns %s:\n%s", run, n.Name, out.String())
	if err != nil {
		tb.Fatalf("lab: child %s in netns %s: %v", run, n.Name, err)
	}
	if !strings.Contains(out.String(), "--- PASS") {
		tb.Fatalf("lab: child %s in netns %s ran no passing test", run, n.Name)
	}
}

func ip(args ...string) error {
	out, err := exec.Command("ip", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ip %s: %w: %s", strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
	return nil
}
