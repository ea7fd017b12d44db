package netconf

import (
	"errors"
	"log/slog"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/goleudy/goleudy/provision/api"
	"github.com/goleudy/goleudy/provision/config"
)

func mustWant(t *testing.T, ifs config.Interfaces, ac config.Anycast) want {
	t.Helper()
	w, err := parseWant(ifs, ac, "", "")
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func lines(objs []object) []string {
	out := make([]string, len(objs))
	for i, o := range objs {
		out[i] = o.String()
	}
	return out
}

// The role model as data: which change goes where, in which order.
func TestPlan(t *testing.T) {
	full := mustWant(t, config.Interfaces{OOB: config.Interface{Match: "enp2s0", DHCP4: true, DHCP6: true}, IX: ixCfg}, anyCfg)
	static, err := parseStatic(&api.StaticOOB{Address4: "192.168.1.9/24", Gateway4: "192.168.9.1", Address6: "2001:db8:9::9/64", Gateway6: "fe80::1"})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		in   planInput
		want []string
	}{
		{
			name: "IX and anycast on lo",
			in:   planInput{w: full, ix: "enp1s0", anyLink: "lo", table: 100},
			want: []string{
				"sysctl net.ipv6.conf.enp1s0.accept_ra=0 net.ipv6.conf.enp1s0.autoconf=0",
				"ip link set enp1s0 up",
				"ip addr add 192.0.2.53/32 dev lo",
				"ip addr add 2001:db8:53::53/128 dev lo nodad",
				"ip addr add 198.51.100.2/30 dev enp1s0",
				"ip addr add 2001:db8:ffff::2/64 dev enp1s0",
				"ip route add 198.51.100.0/30 dev enp1s0 table 100",
				"ip route add 2001:db8:ffff::/64 dev enp1s0 table 100",
				"ip route add default via 198.51.100.1 dev enp1s0 table 100",
				"ip route add default via 2001:db8:ffff::1 dev enp1s0 table 100",
				"ip rule add from 198.51.100.2/32 lookup 100 pref 1000",
				"ip rule add from 2001:db8:ffff::2/128 lookup 100 pref 1000",
				"ip rule add from 192.0.2.0/24 lookup 100 pref 1000",
				"ip rule add from 2001:db8:53::/48 lookup 100 pref 1000",
			},
		},
		{
			name: "OOB lease in main, gateway off-link, dummy",
			in: planInput{w: full, oob: "enp2s0", anyLink: AnycastLink, dummy: true, table: 100,
				lease4: lease4("10.0.0.50/32", "10.0.0.1", time.Hour), lease6: &lease{addr: mustPrefix("2001:db8:77::190/128")}},
			want: []string{
				"ip link add anycast0 type dummy",
				"sysctl net.ipv6.conf.enp2s0.accept_ra=2 net.ipv6.conf.enp2s0.autoconf=1",
				"ip link set anycast0 up",
				"ip link set enp2s0 up",
				"ip addr add 192.0.2.53/32 dev anycast0",
				"ip addr add 2001:db8:53::53/128 dev anycast0 nodad",
				"ip addr add 10.0.0.50/32 dev enp2s0",
				"ip addr add 2001:db8:77::190/128 dev enp2s0",
				"ip route add default via 10.0.0.1 dev enp2s0 onlink table main",
			},
		},
		{
			name: "static fallback on a probed port",
			in:   planInput{w: want{}, probes: []string{"enp2s0", "enp3s0"}, staticLink: "enp3s0", static: static, table: 100},
			want: []string{
				"ip link set enp2s0 up",
				"ip link set enp3s0 up",
				"ip addr add 192.168.1.9/24 dev enp3s0",
				"ip addr add 2001:db8:9::9/64 dev enp3s0",
				"ip route add default via 192.168.9.1 dev enp3s0 onlink table main",
				"ip route add default via fe80::1 dev enp3s0 table main",
			},
		},
		{
			name: "nothing resolved",
			in:   planInput{w: full, table: 100},
			want: []string{},
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := lines(plan(c.in))
			if !slices.Equal(got, c.want) && (len(got) != 0 || len(c.want) != 0) {
				t.Errorf("plan:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(c.want, "\n"))
			}
		})
	}
}

func TestSyncKernel(t *testing.T) {
	k := newFakeKernel(ether("enp1s0", ixMAC))
	log := slog.New(slog.DiscardHandler)
	have := map[object]held{}
	a, b, c := addr("enp1s0", "198.51.100.2/30"), addr("lo", "192.0.2.53/32"), defaultVia("198.51.100.1", "enp1s0", 100)
	k.put(b) // someone else's
	bad := ruleObj{pref: RulePriority, src: mustPrefix("192.0.2.0/24"), table: 100}
	k.failAdd[bad] = errors.New("no space")
	err := syncKernel(k, log, have, []object{a, b, c, bad})
	if err == nil || !strings.Contains(err.Error(), "ip rule add from 192.0.2.0/24 lookup 100 pref 1000: no space") {
		t.Errorf("sync with a failing rule = %v", err)
	}
	if !k.has(a) || !k.has(c) || !have[a].ours || have[b].ours {
		t.Errorf("after sync: kernel %q, held %v", k.objects(), have)
	}
	// The failed rule is retried; what is in place is left alone.
	delete(k.failAdd, bad)
	k.takeOps()
	if err := syncKernel(k, log, have, []object{a, b, c, bad}); err != nil {
		t.Fatal(err)
	}
	if ops := k.takeOps(); !slices.Equal(ops, []string{"+ " + bad.String()}) {
		t.Errorf("second sync did %q", ops)
	}
	// The kernel drops the route by itself: it is put back.
	k.del(c)
	k.takeOps()
	if err := syncKernel(k, log, have, []object{a, b, c, bad}); err != nil {
		t.Fatal(err)
	}
	if ops := k.takeOps(); !slices.Equal(ops, []string{"+ " + c.String()}) {
		t.Errorf("sync after the route went did %q", ops)
	}
	// Nothing wanted: ours go, rules first; theirs stay.
	if err := syncKernel(k, log, have, nil); err != nil {
		t.Fatal(err)
	}
	want := []string{"- " + bad.String(), "- " + c.String(), "- " + a.String()}
	if ops := k.takeOps(); !slices.Equal(ops, want) {
		t.Errorf("teardown did\n%s\nwant\n%s", strings.Join(ops, "\n"), strings.Join(want, "\n"))
	}
	if !k.has(b) || len(have) != 0 {
		t.Errorf("after teardown: kernel %q, held %v", k.objects(), have)
	}
}

func TestResolvConfText(t *testing.T) {
	got := resolvConfText([]netip.Addr{netip.MustParseAddr("10.0.0.53"), netip.MustParseAddr("fe80::1"),
		netip.MustParseAddr("2001:db8::53"), netip.MustParseAddr("10.0.0.53")})
	if !strings.HasSuffix(got, "nameserver 10.0.0.53\nnameserver 2001:db8::53\n") || strings.Count(got, "nameserver") != 2 {
		t.Errorf("resolv.conf:\n%s", got)
	}
	if resolvConfText(nil) != "" {
		t.Error("resolv.conf with no servers is not empty")
	}
}

func mustPrefix(s string) netip.Prefix { return netip.MustParsePrefix(s) }
