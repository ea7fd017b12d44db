package server

import (
	"context"
	"errors"
	"net/http"
	"net/netip"
	"strings"

	"github.com/goleudy/goleudy/provision/api"
	"github.com/goleudy/goleudy/provision/fleet"
	"github.com/goleudy/goleudy/provision/noc"
)

// fleetView is one consistent look at the fleet for the status calls.
type fleetView struct {
	serial uint64
	nodes  []fleet.Node
	peers  map[string]fleet.Peer
	beats  map[string]beat
	hub    map[string]uint32 // zone → serial at the hub
	zones  []string          // customer zones, lowercased
	// rollout is the current rollout, nil if none was started.
	rollout *fleet.Rollout
}

func (s *Server) view() (fleetView, error) {
	var v fleetView
	var err error
	if v.serial, err = s.store.Serial(); err != nil {
		return v, err
	}
	if v.nodes, err = s.store.ListNodes(); err != nil {
		return v, err
	}
	peers, err := s.store.Peers()
	if err != nil {
		return v, err
	}
	v.peers = map[string]fleet.Peer{}
	for _, p := range peers {
		v.peers[p.NodeID] = p
	}
	zs, err := s.store.ListZones()
	if err != nil {
		return v, err
	}
	for _, z := range zs {
		v.zones = append(v.zones, strings.ToLower(z.Name))
	}
	if r, err := s.store.Rollout(); err == nil {
		v.rollout = &r
	} else if !errors.Is(err, fleet.ErrNotFound) {
		return v, err
	}
	v.hub = map[string]uint32{}
	if s.hub != nil {
		v.hub = s.hub.zoneSerials()
	}
	s.mu.Lock()
	v.beats = make(map[string]beat, len(s.beats))
	for k, b := range s.beats {
		v.beats[k] = b
	}
	s.mu.Unlock()
	return v, nil
}

// zoneLag counts the customer zones a node is behind the hub on, and those
// it does not hold at all.
func (v fleetView) zoneLag(hb *api.Heartbeat) (behind, missing int) {
	have := map[string]api.ZoneSerial{}
	if hb != nil {
		for _, z := range hb.Zones {
			have[strings.ToLower(z.Name)] = z
		}
	}
	for _, name := range v.zones {
		z, ok := have[name]
		switch {
		case !ok || z.Pending:
			missing++
		case z.Expired:
			behind++
		default:
			if hs, ok := v.hub[name]; ok && hs != z.Serial {
				behind++
			}
		}
	}
	return behind, missing
}

func (s *Server) classify(v fleetView, n fleet.Node) noc.State {
	in := noc.Input{DocState: n.Config.Node.State, WantSerial: v.serial, Now: s.o.Now()}
	_, in.Enrolled = v.peers[n.ID()]
	if b, ok := v.beats[n.ID()]; ok {
		in.LastHeartbeat = b.at
		in.Ready, in.Healthy, in.ConfigSerial = b.hb.Ready, b.hb.Healthy, b.hb.ConfigSerial
	}
	return noc.Classify(in)
}

// Status is the fleet as the NOC sees it.
func (s *Server) Status() (api.Status, error) {
	v, err := s.view()
	if err != nil {
		return api.Status{}, err
	}
	st := api.Status{Serial: v.serial, Generated: s.o.Now().UTC(), Zones: []api.ZoneSerial{}, Nodes: []api.NodeStatus{}}
	for _, name := range v.zones {
		hs, ok := v.hub[name]
		st.Zones = append(st.Zones, api.ZoneSerial{Name: name, Serial: hs, Pending: !ok})
	}
	for _, n := range v.nodes {
		ns := api.NodeStatus{ID: n.ID(), State: string(s.classify(v, n))}
		if p, ok := v.peers[n.ID()]; ok {
			ns.Enrolled, ns.TunnelAddress = true, p.Address
		}
		if b, ok := v.beats[n.ID()]; ok {
			hb := b.hb
			ns.Heartbeat = &hb
		}
		ns.ZonesBehind, ns.ZonesMissing = v.zoneLag(ns.Heartbeat)
		st.Nodes = append(st.Nodes, ns)
	}
	return st, nil
}

func (s *Server) statusJSON(w http.ResponseWriter, r *http.Request) error {
	st, err := s.Status()
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, st)
	return nil
}

// nocPage builds the NOC page.
func (s *Server) nocPage(context.Context) (noc.Page, error) {
	v, err := s.view()
	if err != nil {
		return noc.Page{}, err
	}
	p := noc.Page{Generated: s.o.Now(), Serial: v.serial, Zones: len(v.zones)}
	if r := v.rollout; r != nil {
		p.Rollout = &noc.Rollout{Version: r.Version, Phase: r.Phase, Targets: len(r.Targets), Committed: r.Committed()}
		if h := r.Halt; h != nil {
			p.Rollout.HaltNode, p.Rollout.HaltReason = h.Node, h.Reason
			if h.State != "" {
				p.Rollout.HaltReason = strings.ReplaceAll(h.State, "_", " ") + ": " + h.Reason
			}
		}
	}
	for _, n := range v.nodes {
		c := n.Config.Node
		row := noc.Node{
			ID: n.ID(), FQDN: c.FQDN, Board: c.Board,
			Location: c.Location.Display, CountryISO: c.Location.CountryISO,
			State: s.classify(v, n), InService: n.InService,
			WantSerial: v.serial, Note: n.Notes,
		}
		if row.Location == "" {
			row.Location = strings.Trim(c.Location.City+", "+c.Location.Country, ", ")
		}
		var hb *api.Heartbeat
		if b, ok := v.beats[n.ID()]; ok {
			hb = &b.hb
			row.LastHeartbeat = b.at
			row.Version, row.Build, row.Slot, row.ConfigSerial = hb.Version, hb.Build, hb.Slot, hb.ConfigSerial
			row.BGP4, row.BGP6 = bgpSummary(hb.BGP, "ipv4"), bgpSummary(hb.BGP, "ipv6")
		}
		row.Update = v.updateOf(n.ID(), hb)
		row.ZonesBehind, row.ZonesMissing = v.zoneLag(hb)
		p.Nodes = append(p.Nodes, row)
	}
	return p, nil
}

func (s *Server) nocHandler() http.Handler { return noc.Handler(s.nocPage) }

// bgpSummary sums up the sessions of one family.
func bgpSummary(sessions []api.BGPSession, family string) noc.BGP {
	var b noc.BGP
	for _, ss := range sessions {
		fam := ss.Family
		if fam == "" {
			if a, err := netip.ParseAddr(ss.Neighbor); err == nil && a.Is6() && !a.Is4In6() {
				fam = "ipv6"
			} else {
				fam = "ipv4"
			}
		}
		if fam != family {
			continue
		}
		b.Peers++
		if ss.State == "established" {
			b.Up++
		}
	}
	switch {
	case b.Peers == 0:
		b.State = "none"
	case b.Up == b.Peers:
		b.State = "established"
	case b.Up > 0:
		b.State = "partial"
	default:
		b.State = "down"
	}
	return b
}

// updateOf is a node's last word on an update: its heartbeat's, or, when
// the server has not heard from it since it started, what the rollout
// recorded.
func (v fleetView) updateOf(id string, hb *api.Heartbeat) *noc.Update {
	if hb != nil && hb.Update != nil {
		u := hb.Update
		return &noc.Update{Version: u.Version, Build: u.Build, State: u.State, Reason: u.Reason, Done: u.Done, Total: u.Total}
	}
	if v.rollout == nil {
		return nil
	}
	for _, t := range v.rollout.Targets {
		if t.Node == id && t.State != "" {
			return &noc.Update{Version: v.rollout.Version, Build: t.Build, State: t.State, Reason: t.Reason}
		}
	}
	return nil
}
