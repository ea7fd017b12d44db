package health

import (
	"fmt"
	"net/netip"
	"slices"

	"github.com/miekg/dns"

	"github.com/goleudy/goleudy/provision/config"
)

// plan is what the config asks the gate to check: the prefixes in config
// order, each with its probe targets, and the question to ask.
type plan struct {
	prefixes []netip.Prefix
	targets  map[netip.Prefix][]netip.AddrPort
	query    Query
}

// planFor derives the plan from cfg. zone, if set, overrides the zone to
// ask for.
func planFor(cfg *config.Config, zone string) (plan, error) {
	p := plan{targets: make(map[netip.Prefix][]netip.AddrPort), query: queryFor(cfg, zone)}
	listen := make([]netip.AddrPort, 0, len(cfg.DNS.Listen))
	for _, s := range cfg.DNS.Listen {
		ap, err := netip.ParseAddrPort(s)
		if err != nil {
			return plan{}, fmt.Errorf("health: dns.listen %q: %w", s, err)
		}
		listen = append(listen, netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()))
	}
	anycast := make([]netip.Addr, 0, len(cfg.Anycast.Addresses))
	for _, s := range cfg.Anycast.Addresses {
		a, err := netip.ParseAddr(s)
		if err != nil {
			return plan{}, fmt.Errorf("health: anycast.addresses %q: %w", s, err)
		}
		anycast = append(anycast, a.Unmap())
	}
	for _, s := range cfg.Anycast.Prefixes {
		pfx, err := netip.ParsePrefix(s)
		if err != nil {
			return plan{}, fmt.Errorf("health: anycast.prefixes %q: %w", s, err)
		}
		pfx = pfx.Masked()
		if _, dup := p.targets[pfx]; dup {
			continue
		}
		p.prefixes = append(p.prefixes, pfx)
		p.targets[pfx] = targetsIn(pfx, listen, anycast)
	}
	return p, nil
}

// targetsIn returns the listen addresses inside pfx. A wildcard listen
// address (0.0.0.0, or :: which Go binds dual-stack) serves every anycast
// address on the host, so it stands for the anycast addresses inside pfx
// at its port.
func targetsIn(pfx netip.Prefix, listen []netip.AddrPort, anycast []netip.Addr) []netip.AddrPort {
	var out []netip.AddrPort
	for _, l := range listen {
		switch {
		case pfx.Contains(l.Addr()):
			out = append(out, l)
		case l.Addr().IsUnspecified():
			for _, a := range anycast {
				if pfx.Contains(a) && (l.Addr().Is6() || a.Is4()) {
					out = append(out, netip.AddrPortFrom(a, l.Port()))
				}
			}
		}
	}
	slices.SortFunc(out, netip.AddrPort.Compare)
	return slices.Compact(out)
}

// queryFor picks the question: the SOA of zone, else of the first
// configured zone, else the node's CHAOS identity (dns.identity, which
// defaults to node.id as config.SetDefaults does).
func queryFor(cfg *config.Config, zone string) Query {
	if zone == "" && len(cfg.Zones) > 0 {
		zone = cfg.Zones[0].Name
	}
	if zone != "" {
		return Query{Zone: dns.Fqdn(zone)}
	}
	id := cfg.DNS.Identity
	if id == "" {
		id = cfg.Node.ID
	}
	return Query{Identity: id}
}
