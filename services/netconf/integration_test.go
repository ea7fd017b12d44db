package netconf

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/goleudy/goleudy/provision/api"
	"github.com/goleudy/goleudy/provision/config"
	"github.com/goleudy/goleudy/tools/lab"
)

// The lab: a node namespace with two board-like ports, enp2s0 (OOB, to a
// site namespace where dnsmasq serves DHCP and RAs) and enp1s0 (IX, to an
// ixp namespace holding the IX router's addresses). The test binary is
// re-run inside the node namespace (lab.ExecTest), so every netlink and
// DHCP socket the Manager opens, from any goroutine, is there.
const (
	oobMAC  = "52:54:00:12:34:56"
	ixMAC   = "52:54:00:ab:cd:01"
	envCase = "GOLEUDY_NETCONF_CASE"
	envSite = "GOLEUDY_NETCONF_SITE"
)

var (
	siteV4   = netip.MustParseAddr("10.77.0.1")
	siteV6   = netip.MustParseAddr("2001:db8:77::1")
	siteDNS  = netip.MustParseAddr("10.77.0.53")
	leaseA   = netip.MustParseAddr("10.77.0.50")
	leaseB   = netip.MustParseAddr("10.77.0.60")
	ixRouter = netip.MustParseAddr("198.51.100.1")
)

// TestLab runs each namespace case in a fresh lab, in parallel; each needs
// root, ip(8) and dnsmasq, and fails without them.
func TestLab(t *testing.T) {
	if _, ok := lab.InNetns(); ok {
		site := lab.OpenNetns(os.Getenv(envSite))
		switch c := os.Getenv(envCase); c {
		case "roles":
			labRoles(t, site)
		case "static":
			labStatic(t, site)
		case "flap":
			labFlap(t, site)
		default:
			t.Fatalf("unknown case %q", c)
		}
		return
	}
	if os.Geteuid() != 0 {
		t.Fatal("services/netconf: TestLab needs root for network namespaces")
	}
	lab.Require(t, lab.ToolDnsmasq)
	for _, c := range []string{"roles", "static", "flap"} {
		t.Run(c, func(t *testing.T) {
			t.Parallel()
			node, site := newLab(t)
			lab.ExecTest(t, node, "^TestLab$", 50*time.Second, envCase+"="+c, envSite+"="+site.Name)
		})
	}
}

// newLab makes the three namespaces and their links.
func newLab(t *testing.T) (node, site *lab.Netns) {
	node, site, ixp := lab.NewNetns(t), lab.NewNetns(t), lab.NewNetns(t)
	lab.Veth(t, site, node, []string{siteV4.String() + "/24", siteV6.String() + "/64"}, nil)
	rename(t, node, "veth-b", "enp2s0", oobMAC)
	lab.Veth(t, ixp, node, []string{ixRouter.String() + "/29", "2001:db8:ffff::1/64"}, nil)
	rename(t, node, "veth-b", "enp1s0", ixMAC)
	return node, site
}

func rename(t *testing.T, n *lab.Netns, from, to, mac string) {
	for _, args := range [][]string{
		{"link", "set", from, "down"},
		{"link", "set", from, "name", to},
		{"link", "set", to, "address", mac},
	} {
		if err := n.IP(args...); err != nil {
			t.Fatal(err)
		}
	}
}

// dnsmasqConfig serves the site LAN, pinning the OOB MAC to addr.
func dnsmasqConfig(addr netip.Addr, v6 bool) lab.DnsmasqConfig {
	c := lab.DnsmasqConfig{
		Interface: "veth-a",
		Range4:    lab.DnsmasqRange{Start: netip.MustParseAddr("10.77.0.100"), End: netip.MustParseAddr("10.77.0.150")},
		Hosts:     map[string]netip.Addr{oobMAC: addr},
		DNS:       []netip.Addr{siteDNS},
	}
	if v6 {
		c.Range6 = lab.DnsmasqRange{Start: netip.MustParseAddr("2001:db8:77::100"), End: netip.MustParseAddr("2001:db8:77::1ff")}
		c.RA = true
	}
	return c
}

// sh runs a command in the node namespace (where the child runs) and
// returns its standard output. Standard error is left out: ip(8) warns
// there when other tests' namespaces come and go.
func sh(t *testing.T, name string, args ...string) string {
	t.Helper()
	var stderr bytes.Buffer
	cmd := exec.Command(name, args...)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %s: %v: %s", name, strings.Join(args, " "), err, stderr.Bytes())
	}
	return string(out)
}

// state is everything of the node's network the Manager might touch.
func state(t *testing.T) string {
	var b strings.Builder
	for _, args := range [][]string{
		{"-4", "addr", "show"}, {"-6", "addr", "show", "scope", "global"},
		{"-4", "route", "show", "table", "all"}, {"-6", "route", "show", "table", "all"},
		{"-4", "rule"}, {"-6", "rule"},
	} {
		b.WriteString(sh(t, "ip", args...))
	}
	// Lifetimes count down; the set of things is what matters.
	return regexp.MustCompile(`(valid|preferred)_lft \S+|expires \S+`).ReplaceAllString(b.String(), "")
}

func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > d {
			t.Fatalf("%s: not within %s", what, d)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return time.Since(start)
}

// changes records OnChange calls.
type changes struct {
	mu   sync.Mutex
	seen [][]netip.Prefix
}

func (c *changes) record(st Status) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seen = append(c.seen, st.OOB.Prefixes())
}

func (c *changes) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.seen)
}

func (c *changes) last() []netip.Prefix {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.seen) == 0 {
		return nil
	}
	return c.seen[len(c.seen)-1]
}

type tWriter struct{ t *testing.T }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(io.MultiWriter(tWriter{t}), &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// runManager runs m until stop is called or the test ends.
func runManager(t *testing.T, m *Manager) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Run: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

func sysctl(t *testing.T, key string) string {
	b, err := os.ReadFile("/proc/sys/" + key)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

func setSysctl(t *testing.T, key, v string) {
	if err := os.WriteFile("/proc/sys/"+key, []byte(v), 0o644); err != nil {
		t.Fatal(err)
	}
}

func hasAddr(st Port, source string, in netip.Prefix) (Address, bool) {
	for _, a := range st.Addresses {
		if a.Source == source && in.Contains(a.Prefix.Addr()) {
			return a, true
		}
	}
	return Address{}, false
}

var (
	site6 = netip.MustParsePrefix("2001:db8:77::/64")
	all4  = netip.MustParsePrefix("0.0.0.0/0")
)

// labRoles proves the role model end to end: DHCPv4, DHCPv6 and SLAAC on
// OOB; IX addresses, its table and rules, and routing by source; anycast on
// lo; Apply changing only what changed; Run's end removing what it added.
func labRoles(t *testing.T, site *lab.Netns) {
	d := lab.StartDnsmasq(t, site, dnsmasqConfig(leaseA, true))
	t.Cleanup(func() { t.Logf("dnsmasq log:\n%s", d.LogText()) })
	// A node whose kernel does not do SLAAC by default, and an address on
	// lo that is not the Manager's: both must be as they were at the end.
	setSysctl(t, "net/ipv6/conf/enp2s0/accept_ra", "0")
	setSysctl(t, "net/ipv6/conf/enp2s0/autoconf", "0")
	sh(t, "ip", "addr", "add", "192.0.2.99/32", "dev", "lo")
	// The ports are up before, as the Manager leaves them up after.
	sh(t, "ip", "link", "set", "enp2s0", "up")
	sh(t, "ip", "link", "set", "enp1s0", "up")
	waitFor(t, 10*time.Second, "link-local addresses", func() bool {
		for _, port := range []string{"enp1s0", "enp2s0"} {
			out := sh(t, "ip", "-6", "addr", "show", "dev", port, "scope", "link")
			if !strings.Contains(out, "fe80::") || strings.Contains(out, "tentative") {
				return false
			}
		}
		return true
	})
	before := state(t)

	resolv := filepath.Join(t.TempDir(), "resolv.conf")
	var ch changes
	cfg := &config.Config{
		Interfaces: config.Interfaces{
			OOB: config.Interface{Match: "enp2s0", DHCP4: true, DHCP6: true},
			IX: config.Interface{Match: ixMAC, Addresses: []string{"198.51.100.2/29", "2001:db8:ffff::2/64"},
				Gateway4: "198.51.100.1", Gateway6: "2001:db8:ffff::1"},
		},
		Anycast: config.Anycast{Prefixes: []string{"192.0.2.0/24", "2001:db8:53::/48"},
			Addresses: []string{"192.0.2.53", "2001:db8:53::53", "192.0.2.99"}},
	}
	m, err := New(Options{Interfaces: cfg.Interfaces, Anycast: cfg.Anycast, ResolvConf: resolv,
		Log: testLogger(t), OnChange: ch.record})
	if err != nil {
		t.Fatal(err)
	}
	stop := runManager(t, m)
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	st, err := m.WaitOOB(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("DHCPv4 lease after %s", time.Since(start))
	if a, ok := hasAddr(st.OOB, SourceDHCP4, all4); !ok || a.Prefix != netip.PrefixFrom(leaseA, 24) || a.Expires.IsZero() {
		t.Fatalf("OOB status %+v, want %s/24 from dhcp4 with an expiry", st.OOB, leaseA)
	}
	if st.OOB.Gateway4 != siteV4 || st.OOB.Name != "enp2s0" || st.OOB.MAC != oobMAC || !st.OOB.Carrier {
		t.Errorf("OOB status %+v", st.OOB)
	}
	if got := sh(t, "ip", "-4", "route", "show", "table", "main", "default"); !strings.Contains(got, "default via 10.77.0.1 dev enp2s0") {
		t.Errorf("main table default: %q", got)
	}
	waitFor(t, 20*time.Second, "DHCPv6 and SLAAC addresses on OOB", func() bool {
		st := m.Status()
		_, dhcp6 := hasAddr(st.OOB, SourceDHCP6, site6)
		_, slaac := hasAddr(st.OOB, SourceSLAAC, site6)
		return dhcp6 && slaac
	})
	st = m.Status()
	t.Logf("OOB addresses %+v after %s", st.OOB.Addresses, time.Since(start))
	waitFor(t, 2*time.Second, "OnChange with every OOB address", func() bool { return slices.Equal(ch.last(), st.OOB.Prefixes()) })
	a6, _ := hasAddr(st.OOB, SourceDHCP6, site6)
	if lo, hi := netip.MustParseAddr("2001:db8:77::100"), netip.MustParseAddr("2001:db8:77::1ff"); a6.Prefix.Bits() != 128 || a6.Prefix.Addr().Less(lo) || hi.Less(a6.Prefix.Addr()) {
		t.Errorf("DHCPv6 address %s is not a /128 from dnsmasq's range", a6.Prefix)
	}
	if got := sh(t, "ip", "-6", "addr", "show", "dev", "enp2s0"); !strings.Contains(got, a6.Prefix.String()) {
		t.Errorf("enp2s0 lacks %s:\n%s", a6.Prefix, got)
	}
	if got := sysctl(t, "net/ipv6/conf/enp2s0/accept_ra") + sysctl(t, "net/ipv6/conf/enp2s0/autoconf"); got != "21" {
		t.Errorf("OOB accept_ra, autoconf = %s, want 2, 1", got)
	}
	if got := sysctl(t, "net/ipv6/conf/enp1s0/accept_ra") + sysctl(t, "net/ipv6/conf/enp1s0/autoconf"); got != "00" {
		t.Errorf("IX accept_ra, autoconf = %s, want 0, 0", got)
	}
	if b, err := os.ReadFile(resolv); err != nil || !strings.Contains(string(b), "nameserver 10.77.0.53\n") {
		t.Errorf("resolv.conf: %q, %v", b, err)
	}

	// IX: addresses, table 100, rules, and routing by source.
	ixAddrs := sh(t, "ip", "addr", "show", "dev", "enp1s0")
	for _, a := range []string{"198.51.100.2/29", "2001:db8:ffff::2/64"} {
		if !strings.Contains(ixAddrs, a) {
			t.Errorf("enp1s0 lacks %s:\n%s", a, ixAddrs)
		}
	}
	if got := sh(t, "ip", "-4", "route", "show", "table", "100"); !strings.Contains(got, "default via 198.51.100.1 dev enp1s0") {
		t.Errorf("table 100: %q", got)
	}
	if got := sh(t, "ip", "-6", "route", "show", "table", "100"); !strings.Contains(got, "default via 2001:db8:ffff::1 dev enp1s0") {
		t.Errorf("IPv6 table 100: %q", got)
	}
	rules := sh(t, "ip", "-4", "rule") + sh(t, "ip", "-6", "rule")
	for _, r := range []string{"1000:\tfrom 198.51.100.2 lookup 100", "1000:\tfrom 192.0.2.0/24 lookup 100",
		"1000:\tfrom 2001:db8:ffff::2 lookup 100", "1000:\tfrom 2001:db8:53::/48 lookup 100"} {
		if !strings.Contains(rules, r) {
			t.Errorf("no rule %q in:\n%s", r, rules)
		}
	}
	for _, c := range []struct{ from, want string }{
		{"192.0.2.53", "via 198.51.100.1 dev enp1s0 table 100"},
		{"198.51.100.2", "via 198.51.100.1 dev enp1s0 table 100"},
		{leaseA.String(), "via 10.77.0.1 dev enp2s0"},
		{"", "via 10.77.0.1 dev enp2s0"},
	} {
		args := []string{"-4", "route", "get", "203.0.113.7"}
		if c.from != "" {
			args = append(args, "from", c.from)
		}
		if got := sh(t, "ip", args...); !strings.Contains(got, c.want) {
			t.Errorf("ip route get 203.0.113.7 from %q = %q, want %q", c.from, got, c.want)
		}
	}
	if got := sh(t, "ip", "-6", "route", "get", "2001:db8:9999::1", "from", "2001:db8:53::53"); !strings.Contains(got, "via 2001:db8:ffff::1 dev enp1s0 table 100") {
		t.Errorf("ip -6 route get from the anycast address = %q", got)
	}
	if got := sh(t, "ip", "-6", "route", "get", "2001:db8:9999::1", "from", a6.Prefix.Addr().String()); !strings.Contains(got, "dev enp2s0") {
		t.Errorf("ip -6 route get from the OOB address = %q", got)
	}

	// Anycast: this kernel cannot make a dummy, so they are on lo.
	if st.AnycastLink != "lo" {
		t.Errorf("anycast link %q, want lo (dummy links are not available here)", st.AnycastLink)
	}
	loAddrs := sh(t, "ip", "addr", "show", "dev", "lo")
	for _, a := range []string{"192.0.2.53/32", "2001:db8:53::53/128", "192.0.2.99/32"} {
		if !strings.Contains(loAddrs, a) {
			t.Errorf("lo lacks %s:\n%s", a, loAddrs)
		}
	}
	if err := m.Health(); err != nil {
		t.Errorf("Health: %v", err)
	}

	// Apply: move the IX address, drop IPv6 anycast, add an address, and
	// drop 192.0.2.99, which was on lo before and must stay.
	calls := ch.count()
	cfg2 := *cfg
	cfg2.Interfaces.IX.Addresses = []string{"198.51.100.3/29", "2001:db8:ffff::2/64"}
	cfg2.Anycast = config.Anycast{Prefixes: []string{"192.0.2.0/24"}, Addresses: []string{"192.0.2.53", "192.0.2.54"}}
	if err := m.Apply(&cfg2); err != nil {
		t.Fatal(err)
	}
	ixAddrs, loAddrs = sh(t, "ip", "addr", "show", "dev", "enp1s0"), sh(t, "ip", "addr", "show", "dev", "lo")
	rules = sh(t, "ip", "-4", "rule") + sh(t, "ip", "-6", "rule")
	for _, c := range []struct {
		text, what string
		want       bool
	}{
		{ixAddrs, "198.51.100.3/29", true}, {ixAddrs, "198.51.100.2/29", false}, {ixAddrs, "2001:db8:ffff::2/64", true},
		{loAddrs, "192.0.2.54/32", true}, {loAddrs, "192.0.2.53/32", true}, {loAddrs, "2001:db8:53::53", false},
		{loAddrs, "192.0.2.99/32", true},
		{rules, "from 198.51.100.3 lookup 100", true}, {rules, "from 198.51.100.2 lookup 100", false},
		{rules, "from 2001:db8:53::/48", false}, {rules, "from 192.0.2.0/24 lookup 100", true},
	} {
		if strings.Contains(c.text, c.what) != c.want {
			t.Errorf("after Apply: has %q = %v, want %v:\n%s", c.what, !c.want, c.want, c.text)
		}
	}
	if got := sh(t, "ip", "-4", "route", "get", "203.0.113.7", "from", "192.0.2.54"); !strings.Contains(got, "dev enp1s0 table 100") {
		t.Errorf("after Apply, from the new anycast address: %q", got)
	}
	if n := ch.count(); n != calls {
		t.Errorf("Apply of IX and anycast changes called OnChange %d times; OOB did not change: %v", n-calls, ch.seen)
	}
	// Idempotent: the same config again changes nothing.
	same := state(t)
	if err := m.Apply(&cfg2); err != nil {
		t.Fatal(err)
	}
	if again := state(t); again != same {
		t.Errorf("second Apply of the same config changed the kernel:\n%s\n---\n%s", same, again)
	}

	// Run's end takes away everything it added, and only that.
	stop()
	after := state(t)
	for _, s := range []string{"10.77.0.50", "198.51.100.3", "2001:db8:ffff::2", "192.0.2.53", "192.0.2.54", "lookup 100", "2001:db8:77:"} {
		if strings.Contains(after, s) {
			t.Errorf("after Run: %q is still there:\n%s", s, after)
		}
	}
	if !strings.Contains(after, "192.0.2.99/32") {
		t.Errorf("after Run: 192.0.2.99, which was not the Manager's, is gone")
	}
	if got := sysctl(t, "net/ipv6/conf/enp2s0/accept_ra") + sysctl(t, "net/ipv6/conf/enp2s0/autoconf") + sysctl(t, "net/ipv6/conf/enp1s0/accept_ra"); got != "001" {
		t.Errorf("sysctls after Run: OOB accept_ra, autoconf, IX accept_ra = %s, want 0, 0, 1 as before", got)
	}
	if after != before {
		t.Errorf("kernel state after Run differs from before:\n%s\n---\n%s", before, after)
	}
}

// labStatic proves the fallback: with no DHCP server the seed's static
// address is in place within StaticAfter (on the one port there is to
// probe, as no match names OOB), and a lease that comes later replaces it.
func labStatic(t *testing.T, site *lab.Netns) {
	var ch changes
	m, err := New(Options{
		Interfaces:  config.Interfaces{IX: config.Interface{Match: "enp1s0", Addresses: []string{"198.51.100.2/29"}}},
		Static:      &api.StaticOOB{Address4: "10.77.0.9/24", Gateway4: siteV4.String(), DNS: []string{"10.77.0.53"}},
		StaticAfter: 2 * time.Second,
		Log:         testLogger(t), OnChange: ch.record,
	})
	if err != nil {
		t.Fatal(err)
	}
	runManager(t, m)
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st, err := m.WaitOOB(ctx)
	if err != nil {
		t.Fatal(err)
	}
	took := time.Since(start)
	t.Logf("static fallback after %s", took)
	if took < 2*time.Second || took > 4*time.Second {
		t.Errorf("static fallback after %s, want 2s (StaticAfter) and soon after", took)
	}
	if a, ok := hasAddr(st.OOB, SourceStatic, all4); !ok || a.Prefix.String() != "10.77.0.9/24" || st.OOB.Name != "enp2s0" {
		t.Fatalf("OOB %+v, want 10.77.0.9/24 static on enp2s0", st.OOB)
	}
	if got := sh(t, "ip", "-4", "route", "show", "default"); !strings.Contains(got, "default via 10.77.0.1 dev enp2s0") {
		t.Errorf("main default with static: %q", got)
	}
	if err := m.Health(); err != nil {
		t.Errorf("Health with static address: %v", err)
	}

	d := lab.StartDnsmasq(t, site, dnsmasqConfig(leaseA, false))
	t.Cleanup(func() { t.Logf("dnsmasq log:\n%s", d.LogText()) })
	took = waitFor(t, 20*time.Second, "a lease to replace the static address", func() bool {
		_, ok := hasAddr(m.Status().OOB, SourceDHCP4, all4)
		return ok
	})
	t.Logf("lease replaced the static address %s after dnsmasq started", took)
	st = m.Status()
	if got := st.OOB.Prefixes(); len(got) != 1 || got[0] != netip.PrefixFrom(leaseA, 24) {
		t.Errorf("OOB addresses %v, want only %s/24", got, leaseA)
	}
	if got := sh(t, "ip", "-4", "addr", "show", "dev", "enp2s0"); strings.Contains(got, "10.77.0.9") || !strings.Contains(got, "10.77.0.50/24") {
		t.Errorf("enp2s0 after the lease:\n%s", got)
	}
	waitFor(t, 2*time.Second, "OnChange with the lease", func() bool {
		return slices.Equal(ch.last(), []netip.Prefix{netip.PrefixFrom(leaseA, 24)})
	})
}

// labFlap proves that a carrier loss and return redoes DHCP at once: the
// host's DHCP server now pins the node's MAC to another address, and the
// node ends up with that one alone, telling OnChange.
func labFlap(t *testing.T, site *lab.Netns) {
	d := lab.StartDnsmasq(t, site, dnsmasqConfig(leaseA, false))
	var ch changes
	m, err := New(Options{
		Interfaces: config.Interfaces{OOB: config.Interface{Match: "enp2s0", DHCP4: true},
			IX: config.Interface{Match: "enp1s0", Addresses: []string{"198.51.100.2/29"}}},
		Log: testLogger(t), OnChange: ch.record,
	})
	if err != nil {
		t.Fatal(err)
	}
	runManager(t, m)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	st, err := m.WaitOOB(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got := st.OOB.Prefixes(); len(got) != 1 || got[0].Addr() != leaseA {
		t.Fatalf("first lease %v, want %s", got, leaseA)
	}
	// The host re-plans its LAN: a new server pins the node to leaseB.
	if err := d.Stop(); err != nil {
		t.Fatal(err)
	}
	d2 := lab.StartDnsmasq(t, site, dnsmasqConfig(leaseB, false))
	t.Cleanup(func() { t.Logf("dnsmasq log:\n%s", d2.LogText()) })
	if err := site.IP("link", "set", "veth-a", "down"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "carrier loss seen", func() bool { return !m.Status().OOB.Carrier })

	if err := site.IP("link", "set", "veth-a", "up"); err != nil {
		t.Fatal(err)
	}
	want := []netip.Prefix{netip.PrefixFrom(leaseB, 24)}
	took := waitFor(t, 15*time.Second, "the new address alone on OOB", func() bool {
		return slices.Equal(m.Status().OOB.Prefixes(), want)
	})
	t.Logf("new lease %s after carrier returned, %s (the 2-minute lease's T1 is 60s away)", leaseB, took)
	if got := sh(t, "ip", "-4", "addr", "show", "dev", "enp2s0"); strings.Contains(got, leaseA.String()) || !strings.Contains(got, leaseB.String()+"/24") {
		t.Errorf("enp2s0 after the flap:\n%s", got)
	}
	if got := sh(t, "ip", "-4", "route", "show", "default"); !strings.Contains(got, "default via 10.77.0.1 dev enp2s0") {
		t.Errorf("default route after the flap: %q", got)
	}
	waitFor(t, 2*time.Second, "OnChange with the new address", func() bool { return slices.Equal(ch.last(), want) })
	if !bytes.Contains([]byte(d2.LogText()), []byte("DHCPDISCOVER(veth-a) "+oobMAC)) {
		t.Errorf("no fresh DISCOVER at the new server:\n%s", d2.LogText())
	}
}
