package bgp

import (
	"fmt"
	"net/netip"
	"strings"
	"time"

	api "github.com/osrg/gobgp/v3/api"
	"google.golang.org/protobuf/types/known/anypb"

	"github.com/goleudy/goleudy/provision/config"
)

// Names of the GoBGP policy objects this package owns. They are stable so
// that SetPolicies can swap their contents on a live change while the
// global assignments keep pointing at them.
const (
	policyImport   = "goleudy-import"
	policyExport   = "goleudy-export"
	setAnycast4    = "goleudy-anycast4"
	setAnycast6    = "goleudy-anycast6"
	neighborSetPfx = "goleudy-peer-"
)

// GracefulShutdown is the well-known GRACEFUL_SHUTDOWN community, 65535:0
// (RFC 8326), that a draining node attaches before it withdraws.
const GracefulShutdown uint32 = 0xFFFF0000

var (
	familyIPv4 = &api.Family{Afi: api.Family_AFI_IP, Safi: api.Family_SAFI_UNICAST}
	familyIPv6 = &api.Family{Afi: api.Family_AFI_IP6, Safi: api.Family_SAFI_UNICAST}
)

func familyOf(a netip.Addr) *api.Family {
	if a.Is4() {
		return familyIPv4
	}
	return familyIPv6
}

// peerKey is how a peer is identified across config changes: its neighbor
// address, which is also GoBGP's key.
func peerKey(p config.Peer) (netip.Addr, error) {
	a, err := netip.ParseAddr(p.Neighbor)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("bgp: peer %s: neighbor %q: %w", p.Name, p.Neighbor, err)
	}
	return a.Unmap(), nil
}

// peerRequest translates one configured peer into GoBGP's peer. Each
// session carries only the address family of its neighbor, so IPv4
// prefixes go out over IPv4 sessions and IPv6 prefixes over IPv6 ones. The
// prefix limit counts what the peer sends before the import policy
// rejects it (GoBGP counts its Adj-RIB-In), so a peer that sends more than
// maxPrefixes routes gets a Cease and the session is reset: that bounds the
// memory a misconfigured host can make the node spend.
func peerRequest(p config.Peer, o Options) (*api.Peer, error) {
	addr, err := peerKey(p)
	if err != nil {
		return nil, err
	}
	if p.ASN == 0 {
		return nil, fmt.Errorf("bgp: peer %s: asn is 0", p.Name)
	}
	if p.HoldTime != 0 && p.HoldTime < 3 {
		return nil, fmt.Errorf("bgp: peer %s: hold_time %d must be 0 or at least 3", p.Name, p.HoldTime)
	}
	hold := uint64(p.HoldTime)
	fam := familyOf(addr)
	var multihop *api.EbgpMultihop
	if p.Multihop > 0 {
		multihop = &api.EbgpMultihop{Enabled: true, MultihopTtl: uint32(p.Multihop)}
	}
	return &api.Peer{
		Conf: &api.PeerConf{
			NeighborAddress: addr.String(),
			PeerAsn:         p.ASN,
			AuthPassword:    p.Password,
			Description:     p.Name,
		},
		Timers: &api.Timers{Config: &api.TimersConfig{
			HoldTime:          hold,
			KeepaliveInterval: hold / 3,
			ConnectRetry:      uint64(max(o.ConnectRetry/time.Second, 1)),
		}},
		Transport:    &api.Transport{PassiveMode: p.Passive},
		EbgpMultihop: multihop,
		AfiSafis: []*api.AfiSafi{{
			Config:       &api.AfiSafiConfig{Family: fam, Enabled: true},
			PrefixLimits: &api.PrefixLimit{Family: fam, MaxPrefixes: o.MaxPrefixes},
		}},
	}, nil
}

// listenPort is the port the speaker listens on: the one given in Options,
// else 179 when a peer is passive, else none (-1).
func listenPort(o Options, peers []config.Peer) int32 {
	if o.ListenPort > 0 {
		return o.ListenPort
	}
	for _, p := range peers {
		if p.Passive {
			return 179
		}
	}
	return -1
}

// parsePrefixes parses anycast.prefixes, masking each to its network.
func parsePrefixes(ss []string) ([]netip.Prefix, error) {
	out := make([]netip.Prefix, 0, len(ss))
	for i, s := range ss {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return nil, fmt.Errorf("bgp: anycast.prefixes[%d]: %w", i, err)
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

// policies builds the defined sets and the two policies of the node.
//
// Export: one statement per peer, matching the anycast prefix sets and that
// peer's neighbor set, adds the peer's communities and prepends, sets
// next-hop self and accepts. The assignment's default is reject, so no
// other route can ever leave the node, whatever ends up in the RIB.
//
// Import: GoBGP applies the global import policy to locally originated
// paths too, so a plain reject-all would also drop our own anycast
// prefixes. The one statement accepts route-type local; everything a peer
// sends falls through to the default reject.
func policies(asn uint32, prefixes []netip.Prefix, peers []config.Peer) (*api.SetPoliciesRequest, error) {
	var v4, v6 []*api.Prefix
	for _, p := range prefixes {
		ap := &api.Prefix{IpPrefix: p.String(), MaskLengthMin: uint32(p.Bits()), MaskLengthMax: uint32(p.Bits())}
		if p.Addr().Is4() {
			v4 = append(v4, ap)
		} else {
			v6 = append(v6, ap)
		}
	}
	req := &api.SetPoliciesRequest{
		DefinedSets: []*api.DefinedSet{
			{DefinedType: api.DefinedType_PREFIX, Name: setAnycast4, Prefixes: v4},
			{DefinedType: api.DefinedType_PREFIX, Name: setAnycast6, Prefixes: v6},
		},
	}
	export := &api.Policy{Name: policyExport}
	for _, p := range peers {
		addr, err := peerKey(p)
		if err != nil {
			return nil, err
		}
		set := neighborSetPfx + addr.String()
		req.DefinedSets = append(req.DefinedSets, &api.DefinedSet{
			DefinedType: api.DefinedType_NEIGHBOR, Name: set,
			List: []string{netip.PrefixFrom(addr, addr.BitLen()).String()},
		})
		prefixSet, n := setAnycast4, len(v4)
		if !addr.Is4() {
			prefixSet, n = setAnycast6, len(v6)
		}
		acts, err := exportActions(asn, p)
		if err != nil {
			return nil, err
		}
		if n == 0 {
			continue // nothing of this family to announce; default reject
		}
		export.Statements = append(export.Statements, &api.Statement{
			Name: "export-" + addr.String(),
			Conditions: &api.Conditions{
				PrefixSet:   &api.MatchSet{Type: api.MatchSet_ANY, Name: prefixSet},
				NeighborSet: &api.MatchSet{Type: api.MatchSet_ANY, Name: set},
			},
			Actions: acts,
		})
	}
	req.Policies = []*api.Policy{
		{Name: policyImport, Statements: []*api.Statement{{
			Name:       "accept-local",
			Conditions: &api.Conditions{RouteType: api.Conditions_ROUTE_TYPE_LOCAL},
			Actions:    &api.Actions{RouteAction: api.RouteAction_ACCEPT},
		}}},
		export,
	}
	return req, nil
}

// exportActions is what happens to an anycast prefix on its way to peer p.
func exportActions(asn uint32, p config.Peer) (*api.Actions, error) {
	a := &api.Actions{
		RouteAction: api.RouteAction_ACCEPT,
		Nexthop:     &api.NexthopAction{Self: true},
	}
	for _, c := range p.Communities {
		if _, err := parseCommunity(c); err != nil {
			return nil, fmt.Errorf("bgp: peer %s: community %q: %w", p.Name, c, err)
		}
	}
	for _, c := range p.LargeCommunities {
		if err := checkLargeCommunity(c); err != nil {
			return nil, fmt.Errorf("bgp: peer %s: large community %q: %w", p.Name, c, err)
		}
	}
	if len(p.Communities) > 0 {
		a.Community = &api.CommunityAction{Type: api.CommunityAction_ADD, Communities: p.Communities}
	}
	if len(p.LargeCommunities) > 0 {
		a.LargeCommunity = &api.CommunityAction{Type: api.CommunityAction_ADD, Communities: p.LargeCommunities}
	}
	if p.Prepend < 0 {
		return nil, fmt.Errorf("bgp: peer %s: prepend %d is negative", p.Name, p.Prepend)
	}
	if p.Prepend > 0 {
		a.AsPrepend = &api.AsPrependAction{Asn: asn, Repeat: uint32(p.Prepend)}
	}
	return a, nil
}

// assignments are the global import and export assignments. Both default to
// reject; the policies above say what gets through.
func assignments() []*api.PolicyAssignment {
	return []*api.PolicyAssignment{
		{Name: "global", Direction: api.PolicyDirection_IMPORT,
			Policies: []*api.Policy{{Name: policyImport}}, DefaultAction: api.RouteAction_REJECT},
		{Name: "global", Direction: api.PolicyDirection_EXPORT,
			Policies: []*api.Policy{{Name: policyExport}}, DefaultAction: api.RouteAction_REJECT},
	}
}

func parseCommunity(s string) (uint32, error) {
	var a, b uint32
	if _, err := fmt.Sscanf(s, "%d:%d", &a, &b); err != nil || a > 0xffff || b > 0xffff ||
		fmt.Sprintf("%d:%d", a, b) != s {
		return 0, fmt.Errorf("want ASN16:VALUE16")
	}
	return a<<16 | b, nil
}

func checkLargeCommunity(s string) error {
	var a, b, c uint32
	if _, err := fmt.Sscanf(s, "%d:%d:%d", &a, &b, &c); err != nil ||
		fmt.Sprintf("%d:%d:%d", a, b, c) != s || strings.Count(s, ":") != 2 {
		return fmt.Errorf("want ASN:VALUE:VALUE")
	}
	return nil
}

// pathFor is the locally originated path for prefix p. The next hop is
// left unspecified so that GoBGP fills in the session's local address
// (next-hop self). With drain set the path carries GRACEFUL_SHUTDOWN; the
// export policy adds each peer's own communities on top.
func pathFor(p netip.Prefix, drain bool) (*api.Path, error) {
	nlri, err := anypb.New(&api.IPAddressPrefix{PrefixLen: uint32(p.Bits()), Prefix: p.Addr().String()})
	if err != nil {
		return nil, err
	}
	origin, err := anypb.New(&api.OriginAttribute{Origin: 0}) // IGP
	if err != nil {
		return nil, err
	}
	attrs := []*anypb.Any{origin}
	fam := familyOf(p.Addr())
	var nh *anypb.Any
	if p.Addr().Is4() {
		nh, err = anypb.New(&api.NextHopAttribute{NextHop: "0.0.0.0"})
	} else {
		nh, err = anypb.New(&api.MpReachNLRIAttribute{Family: fam, NextHops: []string{"::"}, Nlris: []*anypb.Any{nlri}})
	}
	if err != nil {
		return nil, err
	}
	attrs = append(attrs, nh)
	if drain {
		c, err := anypb.New(&api.CommunitiesAttribute{Communities: []uint32{GracefulShutdown}})
		if err != nil {
			return nil, err
		}
		attrs = append(attrs, c)
	}
	return &api.Path{Family: fam, Nlri: nlri, Pattrs: attrs}, nil
}
