package bgp

import (
	"fmt"
	"net/netip"
	"reflect"

	api "github.com/osrg/gobgp/v3/api"

	"github.com/goleudy/goleudy/provision/config"
)

// Apply takes a new config while running. Only what changed is touched:
//   - a peer that was added or removed gets its session opened or closed;
//   - a peer whose session parameters (ASN, password, hold time) changed is
//     re-added, which restarts that one session;
//   - changes to prefixes, communities and prepends replace the policies
//     and are pushed with a soft reset out, so no session restarts;
//   - node.state maintenance/drained starts a drain, live ends it;
//   - a new ASN or router id needs a new speaker: Run returns ErrRestart
//     and the supervisor starts it again.
//
// A config that does not translate is refused whole and the old one stays.
func (s *Service) Apply(cfg *config.Config) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	old := s.cfg
	if err := s.setConfig(cfg); err != nil {
		return err
	}
	if s.srv == nil {
		if len(old.BGP.Peers) == 0 && len(cfg.BGP.Peers) > 0 {
			s.requestRestart() // wake an idle Run
		}
		return nil // Run picks it up
	}
	if old.Anycast.ASN != cfg.Anycast.ASN || old.BGP.RouterID != cfg.BGP.RouterID || len(cfg.BGP.Peers) == 0 ||
		listenPort(s.opts, old.BGP.Peers) != listenPort(s.opts, cfg.BGP.Peers) {
		s.log.Info("asn, router id, listener or peer list changed; restarting the speaker")
		s.requestRestart()
		return nil
	}
	ctx := s.ctxLocked()
	d := diffPeers(old.BGP.Peers, cfg.BGP.Peers, !reflect.DeepEqual(old.Anycast.Prefixes, cfg.Anycast.Prefixes))
	for _, a := range append(d.removed, d.changed...) {
		if err := s.deletePeerLocked(ctx, a); err != nil {
			return err
		}
	}
	// Policies before new peers, so a new session never sees the old ones.
	if err := s.installPolicies(ctx, s.srv, cfg, false); err != nil {
		return err
	}
	for _, p := range cfg.BGP.Peers {
		a, _ := peerKey(p)
		if _, ok := s.peers[a]; ok {
			continue
		}
		if err := s.addPeerLocked(ctx, p); err != nil {
			return err
		}
	}
	if err := s.reconcileLocked(ctx); err != nil {
		return err
	}
	for _, a := range d.exportChanged {
		if err := s.srv.ResetPeer(ctx, &api.ResetPeerRequest{Address: a.String(), Soft: true, Direction: api.ResetPeerRequest_OUT}); err != nil {
			return fmt.Errorf("bgp: soft reset out %s: %w", a, err)
		}
	}
	for _, p := range cfg.BGP.Peers {
		a, _ := peerKey(p)
		if ps := s.peers[a]; ps != nil {
			ps.conf = p
		}
	}
	switch st := cfg.Node.State; {
	case (st == config.StateMaintenance || st == config.StateDrained) && !s.draining:
		s.startStateDrainLocked()
	case st == config.StateLive && (s.draining || s.drained) && !s.adminDrn:
		return s.undrainLocked()
	}
	return nil
}

// peerDiff says which sessions a config change touches.
type peerDiff struct {
	removed []netip.Addr // gone from the config
	changed []netip.Addr // session parameters changed: re-add
	// exportChanged are kept sessions whose communities or prepend
	// changed (every kept session if the prefixes changed): soft reset
	// out, which re-sends the announcements through the new policy.
	exportChanged []netip.Addr
}

func diffPeers(old, cur []config.Peer, prefixesChanged bool) peerDiff {
	var d peerDiff
	was := map[netip.Addr]config.Peer{}
	for _, p := range old {
		a, _ := peerKey(p)
		was[a] = p
	}
	now := map[netip.Addr]bool{}
	for _, p := range cur {
		a, _ := peerKey(p)
		now[a] = true
		o, ok := was[a]
		switch {
		case !ok:
		case o.ASN != p.ASN || o.Password != p.Password || o.HoldTime != p.HoldTime ||
			o.Passive != p.Passive || o.Multihop != p.Multihop:
			d.changed = append(d.changed, a)
		case prefixesChanged || !sameExport(o, p):
			d.exportChanged = append(d.exportChanged, a)
		}
	}
	for _, p := range old {
		a, _ := peerKey(p)
		if !now[a] {
			d.removed = append(d.removed, a)
		}
	}
	return d
}

// sameExport reports whether two peers are sent the same thing.
func sameExport(a, b config.Peer) bool {
	return reflect.DeepEqual(a.Communities, b.Communities) &&
		reflect.DeepEqual(a.LargeCommunities, b.LargeCommunities) && a.Prepend == b.Prepend
}

// requestRestart makes Run return ErrRestart, so that the supervisor runs it
// again with the stored config.
func (s *Service) requestRestart() {
	select {
	case s.restart <- struct{}{}:
	default:
	}
}
