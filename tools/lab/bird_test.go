package lab

import (
	"context"
	"net/netip"
	"slices"
	"strings"
	"testing"
)

// birdShowRouteAll is `birdc show route all` from BIRD 2.0.12 holding two
// BGP routes and a static one, with an alternative route for one prefix.
const birdShowRouteAll = `BIRD 2.0.12 ready.
Table master4:
192.0.2.0/24         unicast [node4 13:06:33.361] * (100) [AS64512i]
	via 198.51.100.2 on veth-b
	Type: BGP univ
	BGP.origin: IGP
	BGP.as_path: 64512 64512 64512
	BGP.next_hop: 198.51.100.2
	BGP.local_pref: 100
	BGP.community: (64500,100) (65535,0)
	BGP.large_community: (64512, 1, 2) (64512, 3, 4)
                     unicast [other 13:06:34.000] (100) [AS64999i]
	via 198.51.100.5 on veth-b
	Type: BGP univ
	BGP.as_path: 64999
10.100.0.0/24        unreachable [offer_node4 13:06:31.000] * (200)
	Type: static univ

Table master6:
2001:db8:53::/48     unicast [node6 13:06:33.421] * (100) [AS64512i]
	via 2001:db8:ffff::2 on veth-b
	Type: BGP univ
	BGP.origin: IGP
	BGP.as_path: 64512
	BGP.next_hop: 2001:db8:ffff::2 fe80::1
	BGP.local_pref: 100
`

func TestParseBIRDRoutes(t *testing.T) {
	rs, err := ParseBIRDRoutes(birdShowRouteAll)
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != 4 {
		t.Fatalf("got %d routes: %+v", len(rs), rs)
	}
	r := rs[0]
	if r.Prefix != netip.MustParsePrefix("192.0.2.0/24") || r.Protocol != "node4" || !r.BGP ||
		!slices.Equal(r.ASPath, []uint32{64512, 64512, 64512}) ||
		!slices.Equal(r.Communities, []string{"64500:100", "65535:0"}) ||
		!slices.Equal(r.LargeCommunities, []string{"64512:1:2", "64512:3:4"}) || r.NextHop != "198.51.100.2" {
		t.Errorf("route 0 = %+v", r)
	}
	if r := rs[1]; r.Prefix != rs[0].Prefix || r.Protocol != "other" || !slices.Equal(r.ASPath, []uint32{64999}) {
		t.Errorf("alternative route = %+v", r)
	}
	if r := rs[2]; r.BGP || r.Protocol != "offer_node4" {
		t.Errorf("static route = %+v", r)
	}
	if r := rs[3]; r.Prefix != netip.MustParsePrefix("2001:db8:53::/48") || !slices.Equal(r.ASPath, []uint32{64512}) || r.Communities != nil {
		t.Errorf("v6 route = %+v", r)
	}
}

func TestBIRDConfigText(t *testing.T) {
	c := BIRDConfig{RouterID: netip.MustParseAddr("198.51.100.1"), Peers: []BIRDPeer{
		{Name: "n4", Local: netip.MustParseAddr("198.51.100.1"), LocalASN: 64500,
			Neighbor: netip.MustParseAddr("198.51.100.2"), PeerASN: 64512, Password: "pw"},
		{Name: "n6", Local: netip.MustParseAddr("2001:db8::1"), LocalASN: 64500,
			Neighbor: netip.MustParseAddr("2001:db8::2"), PeerASN: 64512, Offer: 2},
	}}
	text, err := BIRDConfigText(c, "/tmp/x.log")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"router id 198.51.100.1;",
		"neighbor 198.51.100.2 as 64512;", "passive on;", `password "pw";`,
		"ipv4 {\n\t\timport all;\n\t\texport none;",
		"protocol static offer_n6", "route 2001:db8:1000::/48 unreachable;", "route 2001:db8:1001::/48 unreachable;",
		`export where proto = "offer_n6";`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("config lacks %q:\n%s", want, text)
		}
	}
}

// TestBIRDInNetns starts a real BIRD in a namespace of its own and reads
// its static routes back. It needs root and bird2.
func TestBIRDInNetns(t *testing.T) {
	n := NewNetns(t)
	peer := NewNetns(t)
	Veth(t, n, peer, []string{"198.51.100.1/30"}, []string{"198.51.100.2/30"})
	b := StartBIRD(t, n, BIRDConfig{RouterID: netip.MustParseAddr("198.51.100.1"), Peers: []BIRDPeer{
		{Name: "n4", Local: netip.MustParseAddr("198.51.100.1"), LocalASN: 64500,
			Neighbor: netip.MustParseAddr("198.51.100.2"), PeerASN: 64512, Offer: 3},
	}})
	out, err := b.Birdc(context.Background(), "show", "route", "all")
	if err != nil {
		t.Fatal(err)
	}
	all, err := ParseBIRDRoutes(out)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 3 || all[0].BGP {
		t.Errorf("static routes = %+v\n%s", all, out)
	}
	if bgp, err := b.Routes(context.Background()); err != nil || len(bgp) != 0 {
		t.Errorf("BGP routes = %v, %v", bgp, err)
	}
	if up, err := b.Established(context.Background(), "n4"); err != nil || up {
		t.Errorf("established with nobody: %v %v", up, err)
	}
}
