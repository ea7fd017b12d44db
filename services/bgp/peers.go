package bgp

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"time"

	api "github.com/osrg/gobgp/v3/api"
	"github.com/osrg/gobgp/v3/pkg/server"

	"github.com/goleudy/goleudy/provision/config"
)

// peerState is what the service knows about one session.
type peerState struct {
	conf    config.Peer
	addr    netip.Addr
	state   api.PeerState_SessionState
	since   time.Time // of the last state change
	up      time.Time // when it became established; zero while down
	lastErr string
	warned  bool
	stop    chan struct{} // ends the not-established watchdog
}

func (p *peerState) stopWarn() {
	if p.stop != nil {
		close(p.stop)
		p.stop = nil
	}
}

func stateName(st api.PeerState_SessionState) string {
	return strings.ToLower(strings.TrimPrefix(st.String(), "PeerState_"))
}

// watch subscribes to GoBGP's peer events for the life of ctx.
func (s *Service) watch(ctx context.Context, srv *server.BgpServer) error {
	err := srv.WatchEvent(ctx, &api.WatchEventRequest{Peer: &api.WatchEventRequest_Peer{}},
		func(r *api.WatchEventResponse) {
			pe := r.GetPeer()
			if pe == nil || pe.Peer == nil || pe.Peer.State == nil {
				return
			}
			s.peerEvent(pe.Peer.State.NeighborAddress, pe.Peer.State.SessionState)
		})
	if err != nil {
		return fmt.Errorf("bgp: watch peer events: %w", err)
	}
	return nil
}

func (s *Service) peerEvent(neighbor string, st api.PeerState_SessionState) {
	a, err := netip.ParseAddr(neighbor)
	if err != nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.peers[a.Unmap()]
	if p == nil || p.state == st {
		return
	}
	old := p.state
	p.state = st
	p.since = s.opts.Clock.Now()
	switch {
	case st == api.PeerState_ESTABLISHED:
		p.up = p.since
		p.warned = false
		s.log.Info("session established", "peer", p.conf.Name, "neighbor", a, "asn", p.conf.ASN)
	case old == api.PeerState_ESTABLISHED:
		p.up = time.Time{}
		p.lastErr = fmt.Sprintf("session went down (%s)", stateName(st))
		if m := s.gobgpWarning(a); m != "" {
			p.lastErr += ": " + m
		}
		s.log.Warn("session down", "peer", p.conf.Name, "neighbor", a, "state", stateName(st), "reason", p.lastErr)
		s.startWarnLocked(p)
	default:
		s.log.Debug("session state", "peer", p.conf.Name, "neighbor", a, "from", stateName(old), "to", stateName(st))
	}
}

// peerLog records GoBGP's last warning about a peer. It is called from
// inside GoBGP, possibly while s.mu is held by a caller waiting on GoBGP,
// so it takes only its own lock.
func (s *Service) peerLog(key, msg string) {
	a, err := netip.ParseAddr(key)
	if err != nil {
		return
	}
	s.logMu.Lock()
	defer s.logMu.Unlock()
	s.lastLog[a.Unmap()] = msg
}

func (s *Service) gobgpWarning(a netip.Addr) string {
	s.logMu.Lock()
	defer s.logMu.Unlock()
	return s.lastLog[a]
}

// addPeerLocked adds a session and its not-established watchdog.
func (s *Service) addPeerLocked(ctx context.Context, c config.Peer) error {
	req, err := peerRequest(c, s.opts)
	if err != nil {
		return err
	}
	a, _ := peerKey(c)
	p := &peerState{conf: c, addr: a, state: api.PeerState_UNKNOWN, since: s.opts.Clock.Now()}
	s.peers[a] = p
	if err := s.srv.AddPeer(ctx, &api.AddPeerRequest{Peer: req}); err != nil {
		delete(s.peers, a)
		return fmt.Errorf("bgp: add peer %s (%s): %w", c.Name, a, err)
	}
	s.log.Info("peer added", "peer", c.Name, "neighbor", a, "asn", c.ASN, "md5", c.Password != "", "hold_time", c.HoldTime)
	s.startWarnLocked(p)
	return nil
}

func (s *Service) deletePeerLocked(ctx context.Context, a netip.Addr) error {
	p := s.peers[a]
	if p == nil {
		return nil
	}
	p.stopWarn()
	delete(s.peers, a)
	if err := s.srv.DeletePeer(ctx, &api.DeletePeerRequest{Address: a.String()}); err != nil {
		return fmt.Errorf("bgp: delete peer %s (%s): %w", p.conf.Name, a, err)
	}
	s.log.Info("peer removed", "peer", p.conf.Name, "neighbor", a)
	return nil
}

// startWarnLocked logs once if p is not established within WarnAfter. A
// wrong TCP-MD5 password is silent on the wire (the kernel drops the
// segments), so this line is the operator's only clue on the node side.
func (s *Service) startWarnLocked(p *peerState) {
	p.stopWarn()
	stop := make(chan struct{})
	p.stop = stop
	t := s.opts.Clock.NewTimer(s.opts.WarnAfter)
	s.bg.Go(func() {
		defer t.Stop()
		select {
		case <-stop:
			return
		case <-t.C():
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		if p.state == api.PeerState_ESTABLISHED || p.stop != stop {
			return
		}
		p.warned = true
		if p.lastErr == "" {
			p.lastErr = fmt.Sprintf("not established after %s", s.opts.WarnAfter)
		}
		s.log.Warn("session not established: check the TCP-MD5 password, the peer's ASN and neighbor address, and that the peer has a session configured for us",
			"peer", p.conf.Name, "neighbor", p.addr, "asn", p.conf.ASN, "md5", p.conf.Password != "",
			"after", s.opts.WarnAfter, "state", stateName(p.state))
	})
}
