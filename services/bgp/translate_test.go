package bgp

import (
	"errors"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	api "github.com/osrg/gobgp/v3/api"

	"github.com/goleudy/goleudy/provision/config"
)

func testPeers() []config.Peer {
	return []config.Peer{
		{Name: "v4", ASN: 64500, Neighbor: "198.51.100.1", Password: "pw", HoldTime: 9,
			Communities: []string{"64500:100"}, LargeCommunities: []string{"64512:1:2"}, Prepend: 2},
		{Name: "v6", ASN: 64501, Neighbor: "2001:db8:ffff::1", HoldTime: 90},
	}
}

func TestPassiveAndMultihop(t *testing.T) {
	o := Options{ConnectRetry: time.Second, MaxPrefixes: 1, ListenPort: -1}
	active := config.Peer{Name: "a", ASN: 1, Neighbor: "192.0.2.1", HoldTime: 9}
	passive := config.Peer{Name: "p", ASN: 1, Neighbor: "192.0.2.2", HoldTime: 9, Passive: true, Multihop: 3}
	r, err := peerRequest(passive, o)
	if err != nil {
		t.Fatal(err)
	}
	if !r.Transport.PassiveMode || r.EbgpMultihop == nil || !r.EbgpMultihop.Enabled || r.EbgpMultihop.MultihopTtl != 3 {
		t.Errorf("passive multihop peer: transport %v, multihop %v", r.Transport, r.EbgpMultihop)
	}
	if r, _ := peerRequest(active, o); r.Transport.PassiveMode || r.EbgpMultihop != nil {
		t.Errorf("active peer: transport %v, multihop %v", r.Transport, r.EbgpMultihop)
	}
	if got := listenPort(o, []config.Peer{active}); got != -1 {
		t.Errorf("listen port with no passive peer = %d, want -1 (no listener)", got)
	}
	if got := listenPort(o, []config.Peer{active, passive}); got != 179 {
		t.Errorf("listen port with a passive peer = %d, want 179", got)
	}
	if d := diffPeers([]config.Peer{active, passive}, []config.Peer{active, {Name: "p", ASN: 1, Neighbor: "192.0.2.2", HoldTime: 9}}, false); len(d.changed) != 1 {
		t.Errorf("turning passive off is not a peer change: %+v", d)
	}
}

func TestPeerRequest(t *testing.T) {
	o := Options{ConnectRetry: 3 * time.Second, MaxPrefixes: 1}
	for _, tc := range []struct {
		peer      config.Peer
		afi       api.Family_Afi
		hold, ka  uint64
		neighbor  string
		password  string
		wantError string
	}{
		{peer: testPeers()[0], afi: api.Family_AFI_IP, hold: 9, ka: 3, neighbor: "198.51.100.1", password: "pw"},
		{peer: testPeers()[1], afi: api.Family_AFI_IP6, hold: 90, ka: 30, neighbor: "2001:db8:ffff::1"},
		{peer: config.Peer{Name: "mapped", ASN: 1, Neighbor: "::ffff:192.0.2.1", HoldTime: 3}, afi: api.Family_AFI_IP, hold: 3, ka: 1, neighbor: "192.0.2.1"},
		{peer: config.Peer{Name: "bad", ASN: 1, Neighbor: "198.51.100.300"}, wantError: "peer bad: neighbor"},
		{peer: config.Peer{Name: "noasn", Neighbor: "192.0.2.1"}, wantError: "asn is 0"},
		{peer: config.Peer{Name: "hold", ASN: 1, Neighbor: "192.0.2.1", HoldTime: 2}, wantError: "hold_time 2"},
	} {
		t.Run(tc.peer.Name, func(t *testing.T) {
			r, err := peerRequest(tc.peer, o)
			if tc.wantError != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantError) {
					t.Fatalf("err = %v, want %q", err, tc.wantError)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if r.Conf.NeighborAddress != tc.neighbor || r.Conf.PeerAsn != tc.peer.ASN || r.Conf.AuthPassword != tc.password {
				t.Errorf("conf = %v", r.Conf)
			}
			if r.Timers.Config.HoldTime != tc.hold || r.Timers.Config.KeepaliveInterval != tc.ka || r.Timers.Config.ConnectRetry != 3 {
				t.Errorf("timers = %v", r.Timers.Config)
			}
			if r.Transport.PassiveMode {
				t.Error("passive")
			}
			if len(r.AfiSafis) != 1 || r.AfiSafis[0].Config.Family.Afi != tc.afi || !r.AfiSafis[0].Config.Enabled ||
				r.AfiSafis[0].Config.Family.Safi != api.Family_SAFI_UNICAST || r.AfiSafis[0].PrefixLimits.MaxPrefixes != 1 {
				t.Errorf("afisafis = %v", r.AfiSafis)
			}
		})
	}
}

func TestPolicies(t *testing.T) {
	pfx, err := parsePrefixes([]string{"192.0.2.0/24", "2001:db8:53::/48"})
	if err != nil {
		t.Fatal(err)
	}
	req, err := policies(64512, pfx, testPeers())
	if err != nil {
		t.Fatal(err)
	}
	sets := map[string]*api.DefinedSet{}
	for _, d := range req.DefinedSets {
		sets[d.Name] = d
	}
	if p := sets[setAnycast4].Prefixes; len(p) != 1 || p[0].IpPrefix != "192.0.2.0/24" || p[0].MaskLengthMin != 24 || p[0].MaskLengthMax != 24 {
		t.Errorf("anycast4 = %v (must match exactly the /24, no more-specifics)", p)
	}
	if p := sets[setAnycast6].Prefixes; len(p) != 1 || p[0].IpPrefix != "2001:db8:53::/48" {
		t.Errorf("anycast6 = %v", p)
	}
	if l := sets[neighborSetPfx+"198.51.100.1"].List; !slices.Equal(l, []string{"198.51.100.1/32"}) {
		t.Errorf("neighbor set = %v", l)
	}
	if l := sets[neighborSetPfx+"2001:db8:ffff::1"].List; !slices.Equal(l, []string{"2001:db8:ffff::1/128"}) {
		t.Errorf("neighbor set = %v", l)
	}

	imp, exp := req.Policies[0], req.Policies[1]
	if imp.Name != policyImport || len(imp.Statements) != 1 ||
		imp.Statements[0].Conditions.RouteType != api.Conditions_ROUTE_TYPE_LOCAL ||
		imp.Statements[0].Actions.RouteAction != api.RouteAction_ACCEPT {
		t.Errorf("import policy must accept local paths only: %v", imp)
	}
	if exp.Name != policyExport || len(exp.Statements) != 2 {
		t.Fatalf("export policy = %v", exp)
	}
	s4, s6 := exp.Statements[0], exp.Statements[1]
	if s4.Conditions.PrefixSet.Name != setAnycast4 || s4.Conditions.NeighborSet.Name != neighborSetPfx+"198.51.100.1" {
		t.Errorf("v4 conditions = %v", s4.Conditions)
	}
	if s6.Conditions.PrefixSet.Name != setAnycast6 {
		t.Errorf("v6 statement must match only IPv6 prefixes: %v", s6.Conditions)
	}
	a := s4.Actions
	if a.RouteAction != api.RouteAction_ACCEPT || !a.Nexthop.Self ||
		!slices.Equal(a.Community.Communities, []string{"64500:100"}) || a.Community.Type != api.CommunityAction_ADD ||
		!slices.Equal(a.LargeCommunity.Communities, []string{"64512:1:2"}) ||
		a.AsPrepend.Asn != 64512 || a.AsPrepend.Repeat != 2 {
		t.Errorf("v4 actions = %v", a)
	}
	if a := s6.Actions; a.Community != nil || a.LargeCommunity != nil || a.AsPrepend != nil {
		t.Errorf("v6 actions = %v", a)
	}
	for _, as := range assignments() {
		if as.Name != "global" || as.DefaultAction != api.RouteAction_REJECT || len(as.Policies) != 1 {
			t.Errorf("assignment %v must default to reject", as)
		}
	}
}

func TestPoliciesNoPrefixesOfFamily(t *testing.T) {
	pfx, _ := parsePrefixes([]string{"192.0.2.0/24"})
	req, err := policies(64512, pfx, testPeers())
	if err != nil {
		t.Fatal(err)
	}
	if n := len(req.Policies[1].Statements); n != 1 {
		t.Errorf("an IPv6 peer with no IPv6 prefix must have no accept statement; got %d statements", n)
	}
}

func TestPolicyErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		mod  func(*config.Peer)
		want string
	}{
		{"community", func(p *config.Peer) { p.Communities = []string{"70000:1"} }, `community "70000:1"`},
		{"large", func(p *config.Peer) { p.LargeCommunities = []string{"1:2"} }, `large community "1:2"`},
		{"prepend", func(p *config.Peer) { p.Prepend = -1 }, "prepend -1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			peers := testPeers()
			tc.mod(&peers[0])
			_, err := policies(64512, nil, peers)
			if err == nil || !strings.Contains(err.Error(), "peer v4: "+tc.want) {
				t.Errorf("err = %v, want %q", err, tc.want)
			}
		})
	}
}

func TestPathFor(t *testing.T) {
	for _, tc := range []struct {
		prefix string
		drain  bool
		afi    api.Family_Afi
		attrs  int
	}{
		{"192.0.2.0/24", false, api.Family_AFI_IP, 2},
		{"192.0.2.0/24", true, api.Family_AFI_IP, 3},
		{"2001:db8:53::/48", false, api.Family_AFI_IP6, 2},
	} {
		p, err := pathFor(netip.MustParsePrefix(tc.prefix), tc.drain)
		if err != nil {
			t.Fatal(err)
		}
		var nlri api.IPAddressPrefix
		if err := p.Nlri.UnmarshalTo(&nlri); err != nil {
			t.Fatal(err)
		}
		if p.Family.Afi != tc.afi || len(p.Pattrs) != tc.attrs || netip.MustParsePrefix(tc.prefix) !=
			netip.PrefixFrom(netip.MustParseAddr(nlri.Prefix), int(nlri.PrefixLen)) {
			t.Errorf("%s drain=%v: %v", tc.prefix, tc.drain, p)
		}
		if tc.drain {
			var c api.CommunitiesAttribute
			if err := p.Pattrs[2].UnmarshalTo(&c); err != nil || !slices.Equal(c.Communities, []uint32{GracefulShutdown}) {
				t.Errorf("drain communities = %v, %v", c.Communities, err)
			}
		}
	}
	if GracefulShutdown != 65535<<16 {
		t.Error("GRACEFUL_SHUTDOWN is 65535:0")
	}
}

func TestDiffPeers(t *testing.T) {
	old := testPeers()
	cur := testPeers()
	cur[0].Prepend = 5      // export change only
	cur[1].Password = "new" // session change
	cur = append(cur, config.Peer{Name: "new", ASN: 1, Neighbor: "192.0.2.9"})
	d := diffPeers(old, cur[1:], false)
	if !slices.Equal(d.removed, []netip.Addr{netip.MustParseAddr("198.51.100.1")}) ||
		!slices.Equal(d.changed, []netip.Addr{netip.MustParseAddr("2001:db8:ffff::1")}) || len(d.exportChanged) != 0 {
		t.Errorf("diff = %+v", d)
	}
	d = diffPeers(old, cur, false)
	if !slices.Equal(d.exportChanged, []netip.Addr{netip.MustParseAddr("198.51.100.1")}) {
		t.Errorf("diff = %+v", d)
	}
	d = diffPeers(old, old, false)
	if len(d.removed)+len(d.changed)+len(d.exportChanged) != 0 {
		t.Errorf("no change touched sessions: %+v", d)
	}
	if d = diffPeers(old, old, true); len(d.exportChanged) != 2 {
		t.Errorf("a prefix change must refresh every session: %+v", d)
	}
}

func TestNewRefusesBadConfig(t *testing.T) {
	good := func() *config.Config {
		return &config.Config{Anycast: config.Anycast{ASN: 64512, Prefixes: []string{"192.0.2.0/24"}},
			BGP: config.BGP{RouterID: "198.51.100.2", Peers: testPeers()}}
	}
	if _, err := New(good(), Options{}); err != nil {
		t.Fatal(err)
	}
	for name, mod := range map[string]func(*config.Config){
		"router id": func(c *config.Config) { c.BGP.RouterID = "2001:db8::1" },
		"asn":       func(c *config.Config) { c.Anycast.ASN = 0 },
		"prefix":    func(c *config.Config) { c.Anycast.Prefixes = []string{"192.0.2.0"} },
		"duplicate": func(c *config.Config) { c.BGP.Peers = append(c.BGP.Peers, c.BGP.Peers[0]) },
	} {
		c := good()
		mod(c)
		if _, err := New(c, Options{}); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestGateWithoutSpeaker(t *testing.T) {
	s, err := New(&config.Config{Anycast: config.Anycast{ASN: 64512, Prefixes: []string{"192.0.2.0/24"}}}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.SetHealthy(netip.MustParsePrefix("198.51.100.0/24"), true); !errors.Is(err, ErrUnknownPrefix) {
		t.Errorf("unknown prefix: %v", err)
	}
	if err := s.SetHealthy(netip.MustParsePrefix("192.0.2.7/24"), true); err != nil {
		t.Errorf("a prefix is matched by its network: %v", err)
	}
	if st := s.Status(); st.Running || !slices.Equal(st.Healthy, []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")}) {
		t.Errorf("status = %+v", st)
	}
	if !errors.Is(s.Health(), ErrNotRunning) {
		t.Errorf("Health = %v", s.Health())
	}
}
