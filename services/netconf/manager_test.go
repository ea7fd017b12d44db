package netconf

import (
	"context"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/goleudy/goleudy/provision/api"
	"github.com/goleudy/goleudy/provision/config"
)

// These run the whole Manager (Run loop, workers, reconcile) against the
// fake kernel and a fake clock: the timing rules are exact and need no
// root. TestLab proves the same against the real kernel and dnsmasq.

var (
	ixCfg = config.Interface{Match: "enp1s0", Addresses: []string{"198.51.100.2/30", "2001:db8:ffff::2/64"},
		Gateway4: "198.51.100.1", Gateway6: "2001:db8:ffff::1"}
	anyCfg = config.Anycast{Prefixes: []string{"192.0.2.0/24", "2001:db8:53::/48"},
		Addresses: []string{"192.0.2.53", "2001:db8:53::53"}}
	staticSeed = &api.StaticOOB{Address4: "192.168.1.9/24", Gateway4: "192.168.1.1", DNS: []string{"192.168.1.53"}}
)

func twoPorts() *fakeKernel {
	return newFakeKernel(ether("enp1s0", ixMAC), ether("enp2s0", oobMAC))
}

func addr(link, p string) addrObj { return addrObj{link: link, prefix: netip.MustParsePrefix(p)} }

func defaultVia(gw, link string, table int) routeObj {
	g := netip.MustParseAddr(gw)
	dst := default4
	if g.Is6() {
		dst = default6
	}
	return routeObj{table: table, dst: dst, gw: g, link: link}
}

func TestStaticFallbackThenLease(t *testing.T) {
	k := twoPorts()
	resolv := filepath.Join(t.TempDir(), "resolv.conf")
	var ch changes
	m, clk := newFakeManager(t, k, Options{
		Interfaces: config.Interfaces{OOB: config.Interface{Match: "enp2s0", DHCP4: true}, IX: ixCfg},
		Static:     staticSeed, StaticAfter: 15 * time.Second, ResolvConf: resolv, OnChange: ch.record,
	})
	runManager(t, m)
	c4 := k.cli(t, SourceDHCP4, "enp2s0")
	c4.expect(t, "acquire") // and no server answers
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := clk.BlockUntil(ctx, 1); err != nil { // the static timer
		t.Fatal(err)
	}
	static := addr("enp2s0", "192.168.1.9/24")
	clk.Advance(15*time.Second - time.Millisecond)
	time.Sleep(20 * time.Millisecond)
	if k.has(static) {
		t.Fatal("static address before StaticAfter")
	}
	if err := m.Health(); !errors.Is(err, ErrNoAddress) {
		t.Errorf("Health with no OOB address = %v, want ErrNoAddress", err)
	}
	clk.Advance(time.Millisecond)
	eventually(t, "static address and route", func() bool {
		return k.has(static) && k.has(defaultVia("192.168.1.1", "enp2s0", mainTable))
	})
	st, err := m.WaitOOB(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if a := st.OOB.Addresses; len(a) != 1 || a[0].Source != SourceStatic || st.OOB.Gateway4.String() != "192.168.1.1" {
		t.Errorf("status %+v", st.OOB)
	}
	if b, _ := os.ReadFile(resolv); !strings.Contains(string(b), "nameserver 192.168.1.53\n") {
		t.Errorf("resolv.conf with the static DNS: %q", b)
	}
	if err := m.Health(); err != nil {
		t.Errorf("Health with the static address: %v", err)
	}

	// A lease, later: it replaces the static settings.
	c4.answer(t, c4.acquireC, lease4("10.0.0.50/24", "10.0.0.1", time.Hour), nil)
	eventually(t, "lease in place of the static address", func() bool {
		return k.has(addr("enp2s0", "10.0.0.50/24")) && !k.has(static) &&
			k.has(defaultVia("10.0.0.1", "enp2s0", mainTable)) && !k.has(defaultVia("192.168.1.1", "enp2s0", mainTable))
	})
	eventually(t, "OnChange with the lease", func() bool {
		return slices.Equal(ch.last(), []netip.Prefix{netip.MustParsePrefix("10.0.0.50/24")})
	})
	a := m.Status().OOB.Addresses
	// A lease runs from when it was asked for (RFC 2131 4.4.1), here
	// the DISCOVER at the start.
	if len(a) != 1 || a[0].Source != SourceDHCP4 || !a[0].Expires.Equal(epoch.Add(time.Hour)) {
		t.Errorf("OOB addresses %+v, want the lease expiring an hour after it was asked for", a)
	}

	// The lease runs out with no server: the address goes, and
	// StaticAfter later the static settings are back.
	clk.Set(epoch.Add(15*time.Second + 30*time.Minute))
	c4.expect(t, "renew")
	c4.answer(t, c4.renewC, nil, errNak)
	eventually(t, "leased address removed after the NAK", func() bool { return !k.has(addr("enp2s0", "10.0.0.50/24")) })
	c4.expect(t, "acquire")
	if err := clk.BlockUntil(ctx, 1); err != nil {
		t.Fatal(err)
	}
	clk.Advance(15 * time.Second)
	eventually(t, "static address again", func() bool { return k.has(static) })
}

func TestCarrierFlapRedoesDHCP(t *testing.T) {
	k := twoPorts()
	var ch changes
	m, _ := newFakeManager(t, k, Options{
		Interfaces: config.Interfaces{OOB: config.Interface{Match: "enp2s0", DHCP4: true}, IX: ixCfg},
		OnChange:   ch.record,
	})
	runManager(t, m)
	c4 := k.cli(t, SourceDHCP4, "enp2s0")
	c4.expect(t, "acquire")
	c4.answer(t, c4.acquireC, lease4("10.0.0.50/24", "10.0.0.1", time.Hour), nil)
	eventually(t, "first lease", func() bool { return k.has(addr("enp2s0", "10.0.0.50/24")) })

	k.carrier(t, "enp2s0", false)
	k.carrier(t, "enp2s0", true)
	c4.expect(t, "acquire") // at once, though T1 is half an hour away
	c4.answer(t, c4.acquireC, lease4("10.9.0.7/16", "10.9.0.1", time.Hour), nil)
	eventually(t, "new address alone", func() bool {
		return k.has(addr("enp2s0", "10.9.0.7/16")) && !k.has(addr("enp2s0", "10.0.0.50/24")) &&
			k.has(defaultVia("10.9.0.1", "enp2s0", mainTable)) && !k.has(defaultVia("10.0.0.1", "enp2s0", mainTable))
	})
	eventually(t, "OnChange with the new address", func() bool {
		return slices.Equal(ch.last(), []netip.Prefix{netip.MustParsePrefix("10.9.0.7/16")})
	})
	// A carrier change on IX redoes nothing.
	k.carrier(t, "enp1s0", false)
	k.carrier(t, "enp1s0", true)
	select {
	case got := <-c4.calls:
		t.Errorf("IX carrier flap caused OOB %s", got)
	case <-time.After(30 * time.Millisecond):
	}
}

func TestApplyChangesOnlyWhatChanged(t *testing.T) {
	k := twoPorts()
	cfg := &config.Config{Interfaces: config.Interfaces{OOB: config.Interface{Match: "enp2s0", DHCP4: true}, IX: ixCfg}, Anycast: anyCfg}
	m, _ := newFakeManager(t, k, Options{Interfaces: cfg.Interfaces, Anycast: cfg.Anycast})
	stop := runManager(t, m)
	c4 := k.cli(t, SourceDHCP4, "enp2s0")
	c4.expect(t, "acquire")
	c4.answer(t, c4.acquireC, lease4("10.0.0.50/24", "10.0.0.1", time.Hour), nil)
	eventually(t, "lease", func() bool { return k.has(addr("enp2s0", "10.0.0.50/24")) })
	k.takeOps()

	for _, c := range []struct {
		name string
		edit func(c *config.Config)
		want []string
	}{
		{"same config", func(*config.Config) {}, nil},
		{"anycast address", func(c *config.Config) {
			c.Anycast.Addresses = []string{"192.0.2.54", "2001:db8:53::53"}
		}, []string{"- ip addr add 192.0.2.53/32 dev lo", "+ ip addr add 192.0.2.54/32 dev lo"}},
		{"IX gateway", func(c *config.Config) { c.Interfaces.IX.Gateway6 = "2001:db8:ffff::3" },
			[]string{"- ip route add default via 2001:db8:ffff::1 dev enp1s0 table 100",
				"+ ip route add default via 2001:db8:ffff::3 dev enp1s0 table 100"}},
		{"drop IPv6 anycast prefix", func(c *config.Config) {
			c.Anycast = config.Anycast{Prefixes: []string{"192.0.2.0/24"}, Addresses: []string{"192.0.2.54"}}
		}, []string{"- ip rule add from 2001:db8:53::/48 lookup 100 pref 1000", "- ip addr add 2001:db8:53::53/128 dev lo nodad"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			c.edit(cfg)
			if err := m.Apply(cfg); err != nil {
				t.Fatal(err)
			}
			got := k.takeOps()
			if !slices.Equal(got, c.want) {
				t.Errorf("kernel changes\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(c.want, "\n"))
			}
		})
	}
	// A config that does not parse changes nothing and names the field.
	bad := *cfg
	bad.Interfaces.IX.Addresses = []string{"198.51.100.300/30"}
	if err := m.Apply(&bad); err == nil || !strings.Contains(err.Error(), "interfaces.ix.addresses[0]") {
		t.Errorf("Apply(bad) = %v, want an error naming interfaces.ix.addresses[0]", err)
	}
	if ops := k.takeOps(); len(ops) != 0 {
		t.Errorf("a bad config changed %q", ops)
	}
	// Dropping DHCPv4 on OOB stops the client and removes the lease.
	noDHCP := *cfg
	noDHCP.Interfaces.OOB = config.Interface{Match: "enp2s0", Addresses: []string{"10.5.0.2/24"}, Gateway4: "10.5.0.1"}
	if err := m.Apply(&noDHCP); err != nil {
		t.Fatal(err)
	}
	if k.has(addr("enp2s0", "10.0.0.50/24")) || !k.has(addr("enp2s0", "10.5.0.2/24")) || !c4.closed {
		t.Errorf("after turning DHCP off: %q", k.objects())
	}
	stop()
	if left := k.objects(); len(left) != 0 {
		t.Errorf("after Run: %q", left)
	}
}

func TestOnlyOwnObjectsRemoved(t *testing.T) {
	k := twoPorts()
	theirs := []object{
		addr("lo", "192.0.2.53/32"),
		defaultVia("198.51.100.1", "enp1s0", 100),
	}
	for _, o := range theirs {
		k.put(o)
	}
	m, _ := newFakeManager(t, k, Options{Interfaces: config.Interfaces{OOB: config.Interface{Match: "enp2s0", DHCP6: true}, IX: ixCfg}, Anycast: anyCfg})
	stop := runManager(t, m)
	eventually(t, "IX configured", func() bool {
		return k.has(ruleObj{pref: RulePriority, src: netip.MustParsePrefix("192.0.2.0/24"), table: 100})
	})
	if a, b := k.get("net/ipv6/conf/enp2s0/accept_ra"), k.get("net/ipv6/conf/enp1s0/accept_ra"); a != "2" || b != "0" {
		t.Errorf("accept_ra on OOB, IX = %s, %s; want 2, 0", a, b)
	}
	if err := m.Apply(&config.Config{Interfaces: config.Interfaces{OOB: config.Interface{Match: "enp2s0", DHCP6: true}}}); err != nil {
		t.Fatal(err)
	}
	for _, o := range theirs {
		if !k.has(o) {
			t.Errorf("Apply removed %s, which was there before", o)
		}
	}
	stop()
	var want []string
	for _, o := range theirs {
		want = append(want, o.String())
	}
	slices.Sort(want)
	if got := k.objects(); !slices.Equal(got, want) {
		t.Errorf("after Run:\n%s\nwant only what was there before:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	for key, v := range k.sysctls {
		if v != "1" {
			t.Errorf("%s = %s after Run, want 1 as before", key, v)
		}
	}
	// accept_ra went 1 → 2, but autoconf was 1 already: SLAAC was not
	// the Manager's to clean up.
	if slices.Contains(k.takeOps(), "flush slaac enp2s0") {
		t.Error("flushed SLAAC that the Manager had not turned on")
	}
}

func TestProbeChoosesOOB(t *testing.T) {
	k := newFakeKernel(ether("enp1s0", ixMAC), ether("enp2s0", oobMAC), ether("enp3s0", "52:54:00:00:00:03"),
		port{name: "wg0", arphrd: 65534}, port{name: "br0", mac: "52:54:00:00:00:09", arphrd: arphrdEther})
	var ch changes
	m, _ := newFakeManager(t, k, Options{Interfaces: config.Interfaces{IX: ixCfg}, OnChange: ch.record})
	runManager(t, m)
	c2, c3 := k.cli(t, SourceDHCP4, "enp2s0"), k.cli(t, SourceDHCP4, "enp3s0")
	c2.expect(t, "acquire")
	c3.expect(t, "acquire")
	if st := m.Status(); !slices.Equal(st.Probing, []string{"enp2s0", "enp3s0"}) || st.OOB.Name != "" {
		t.Errorf("probing %v, OOB %q", st.Probing, st.OOB.Name)
	}
	c3.answer(t, c3.acquireC, lease4("10.0.0.50/24", "10.0.0.1", time.Hour), nil)
	eventually(t, "enp3s0 as OOB", func() bool { return m.Status().OOB.Name == "enp3s0" })
	st := m.Status()
	if len(st.Probing) != 0 || !c2.closed || !k.has(addr("enp3s0", "10.0.0.50/24")) {
		t.Errorf("after the lease: probing %v, enp2s0 client closed %v, kernel %q", st.Probing, c2.closed, k.objects())
	}
	c6 := k.cli(t, SourceDHCP6, "enp3s0") // the defaults: IPv6 too
	c6.expect(t, "acquire")
	if a, b := k.get("net/ipv6/conf/enp3s0/accept_ra"), k.get("net/ipv6/conf/enp2s0/accept_ra"); a != "2" || b != "1" {
		t.Errorf("accept_ra on enp3s0, enp2s0 = %s, %s; want 2 on the OOB port only", a, b)
	}
	if got := ch.last(); len(got) != 1 || got[0].String() != "10.0.0.50/24" {
		t.Errorf("OnChange %v", got)
	}
}

func TestHealth(t *testing.T) {
	k := twoPorts()
	m, _ := newFakeManager(t, k, Options{Interfaces: config.Interfaces{
		OOB: config.Interface{Match: "enp2s0", DHCP4: true},
		IX:  config.Interface{Match: "driver:igb", Addresses: []string{"198.51.100.2/30"}},
	}})
	if err := m.Health(); !errors.Is(err, ErrNotRunning) {
		t.Errorf("Health before Run = %v", err)
	}
	runManager(t, m)
	c4 := k.cli(t, SourceDHCP4, "enp2s0")
	err := m.Health()
	if !errors.Is(err, ErrNoPort) || !strings.Contains(err.Error(), `"driver:igb"`) {
		t.Errorf("Health with the IX port missing = %v, want ErrNoPort naming the match", err)
	}
	if st := m.Status(); !strings.Contains(st.IX.Error, "driver:igb") {
		t.Errorf("IX status %+v", st.IX)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := m.Run(ctx); !errors.Is(err, ErrRunning) {
		t.Errorf("second Run = %v, want ErrRunning", err)
	}
	if _, err := m.WaitOOB(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("WaitOOB with a done ctx = %v", err)
	}
	if err := m.Apply(&config.Config{Interfaces: config.Interfaces{OOB: config.Interface{Match: "enp2s0", DHCP4: true}}}); err != nil {
		t.Fatal(err)
	}
	c4.expect(t, "acquire")
	c4.answer(t, c4.acquireC, lease4("10.0.0.50/24", "", time.Hour), nil)
	eventually(t, "healthy", func() bool { return m.Health() == nil })
}

func TestAnycastOnDummy(t *testing.T) {
	k := twoPorts()
	k.dummyErr = nil
	m, _ := newFakeManager(t, k, Options{Anycast: anyCfg, Interfaces: config.Interfaces{OOB: config.Interface{Match: "enp2s0", DHCP4: true}}})
	stop := runManager(t, m)
	eventually(t, "anycast on anycast0", func() bool { return k.has(addr(AnycastLink, "192.0.2.53/32")) })
	if st := m.Status(); st.AnycastLink != AnycastLink || len(st.Anycast) != 2 {
		t.Errorf("status %+v", st)
	}
	stop()
	if _, err := k.link(AnycastLink); err == nil {
		t.Error("anycast0 left behind")
	}
}

func TestNewRejects(t *testing.T) {
	for _, c := range []struct {
		o    Options
		want string
	}{
		{Options{OOBMatch: "eth 0"}, "interfaces.oob.match"},
		{Options{Interfaces: config.Interfaces{IX: config.Interface{Match: "eth0", DHCP4: true}}}, "DHCP is not supported on IX"},
		{Options{Interfaces: config.Interfaces{IX: config.Interface{Match: "eth0", Gateway4: "2001:db8::1"}}}, "interfaces.ix.gateway4"},
		{Options{Interfaces: config.Interfaces{OOB: config.Interface{Match: "eth0"}, IX: config.Interface{Match: "eth0"}}}, `both match "eth0"`},
		{Options{Anycast: config.Anycast{Prefixes: []string{"192.0.2.1/24"}}}, "anycast.prefixes[0]"},
		{Options{Anycast: config.Anycast{Addresses: []string{"ff02::1"}}}, "anycast.addresses[0]"},
		{Options{IXTable: 254}, "IXTable 254"},
		{Options{StaticAfter: -time.Second}, "negative"},
		{Options{Static: &api.StaticOOB{Address4: "10.0.0.1"}}, "static.address4"},
		{Options{Static: &api.StaticOOB{Gateway4: "10.0.0.1"}}, "static.gateway4"},
	} {
		if _, err := New(c.o); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("New(%+v) = %v, want an error about %s", c.o, err, c.want)
		}
	}
	m, err := New(Options{})
	if err != nil || m.Name() != "network" {
		t.Fatalf("New(zero Options) = %v, %v", m, err)
	}
	if !m.want.oob.dhcp4 || !m.want.oob.dhcp6 || m.o.IXTable != 100 || m.o.StaticAfter != 15*time.Second {
		t.Errorf("defaults: %+v %+v", m.want.oob, m.o)
	}
}

// A supervisor restarts a failed service: a second Run after the first
// ended starts from the same config and cleans up after itself again.
func TestRunAgain(t *testing.T) {
	k := twoPorts()
	m, _ := newFakeManager(t, k, Options{Interfaces: config.Interfaces{OOB: config.Interface{Match: "enp2s0", DHCP4: true}, IX: ixCfg}, Anycast: anyCfg})
	rule := ruleObj{pref: RulePriority, src: mustPrefix("192.0.2.0/24"), table: 100}
	for range 2 {
		stop := runManager(t, m)
		eventually(t, "IX rules", func() bool { return k.has(rule) })
		k.cli(t, SourceDHCP4, "enp2s0").expect(t, "acquire")
		stop()
		if left := k.objects(); len(left) != 0 {
			t.Fatalf("after Run: %q", left)
		}
	}
}

// A managed port set down loses its routes in the kernel; the Manager sets
// it up and puts them back.
func TestPortSetDownHeals(t *testing.T) {
	k := twoPorts()
	m, _ := newFakeManager(t, k, Options{Interfaces: config.Interfaces{OOB: config.Interface{Match: "enp2s0", DHCP4: true}, IX: ixCfg}})
	runManager(t, m)
	gw := defaultVia("198.51.100.1", "enp1s0", 100)
	eventually(t, "IX default route", func() bool { return k.has(gw) })
	k.carrier(t, "enp1s0", true) // Run learns the port's index
	k.mu.Lock()
	k.links["enp1s0"].up = false
	delete(k.objs, gw)
	k.mu.Unlock()
	k.carrier(t, "enp1s0", true) // an event for the port, now down
	eventually(t, "IX up with its default route", func() bool {
		li, _ := k.link("enp1s0")
		return li.up && k.has(gw)
	})
}
