package server

import (
	"context"
	"fmt"
	"net/netip"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/goleudy/goleudy/provision/config"
	"github.com/goleudy/goleudy/provision/fleet"
	"github.com/goleudy/goleudy/services/clock"
	"github.com/goleudy/goleudy/services/dns/dnsservice"
	"github.com/goleudy/goleudy/services/dns/secondary"
)

// hub is the zone hub: the node's own DNS service, run as secondary for
// every customer zone, with the enrolled nodes as its downstreams. It
// pulls from the customers' primaries (who allow the server's one
// address), serves the nodes over the tunnel by AXFR/IXFR with NOTIFY and
// no TSIG (the tunnel authenticates them), and publishes the catalog zone
// that tells nodes which zones there are.
type hub struct {
	s   *Server
	dns *dnsservice.Service

	mu      sync.Mutex
	members []string // the catalog as last published
}

func newHub(s *Server) (*hub, error) {
	cfg, err := s.hubConfig(nil)
	if err != nil {
		return nil, err
	}
	svc, err := dnsservice.New(cfg, filepath.Join(s.o.DataDir, HubDir), clock.Real(), s.log.With("part", "hub"))
	if err != nil {
		return nil, fmt.Errorf("server: hub: %w", err)
	}
	return &hub{s: s, dns: svc}, nil
}

func (h *hub) run(ctx context.Context) error {
	if err := h.dns.Run(ctx); err != nil {
		return fmt.Errorf("server: hub: %w", err)
	}
	return nil
}

// hubConfig is the hub's DNS config: listen on the tunnel address (and
// HubListen), every customer zone, the fleet's TSIG keys, and the
// enrolled nodes as downstreams.
func (s *Server) hubConfig(peers []fleet.Peer) (*config.Config, error) {
	zones, err := s.store.ListZones()
	if err != nil {
		return nil, err
	}
	d, err := s.store.Defaults()
	if err != nil {
		return nil, err
	}
	c := &config.Config{
		Schema: config.Schema, Serial: 1,
		Node:     config.Node{ID: "hub"},
		TSIGKeys: d.TSIGKeys,
		DNS: config.DNS{
			Listen:   append([]string{netip.AddrPortFrom(s.HubAddress(), fleet.HubDNSPort).String()}, s.o.HubListen...),
			Identity: "hub",
		},
	}
	for _, z := range zones {
		c.Zones = append(c.Zones, config.Zone{Name: z.Name, Primaries: z.Primaries, TSIG: z.TSIG})
	}
	for _, p := range peers {
		if a, err := netip.ParsePrefix(p.Address); err == nil {
			c.DNS.Downstreams = append(c.DNS.Downstreams, config.Downstream{Address: netip.AddrPortFrom(a.Addr(), 53).String()})
		}
	}
	c.SetDefaults()
	return c, nil
}

// reconcile applies the store to the hub: zones, downstreams, and the
// catalog, which is published again only when its members change. Its
// serial is the fleet serial, which only grows.
func (h *hub) reconcile(peers []fleet.Peer) error {
	cfg, err := h.s.hubConfig(peers)
	if err != nil {
		return err
	}
	serial, err := h.s.store.Serial()
	if err != nil {
		return err
	}
	if err := h.dns.Apply(cfg); err != nil {
		return err
	}
	members := make([]string, 0, len(cfg.Zones))
	for _, z := range cfg.Zones {
		members = append(members, strings.ToLower(z.Name))
	}
	slices.Sort(members)
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.members != nil && slices.Equal(h.members, members) {
		return nil
	}
	rrs, err := secondary.BuildCatalog(fleet.CatalogName, uint32(serial), members)
	if err != nil {
		return err
	}
	if err := h.dns.Secondary().Publish(fleet.CatalogName, rrs); err != nil {
		return err
	}
	h.members = members
	h.s.log.Info("hub: catalog published", "serial", uint32(serial), "zones", len(members))
	return nil
}

// zoneSerials returns the hub's serial of every customer zone it holds.
func (h *hub) zoneSerials() map[string]uint32 {
	out := map[string]uint32{}
	for _, st := range h.dns.Secondary().Status() {
		if st.Loaded && st.Source != secondary.SourceLocal && !st.Catalog {
			out[st.Zone] = st.Serial
		}
	}
	return out
}
