package bgp

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"time"

	api "github.com/osrg/gobgp/v3/api"
)

// PeerStatus is one session as the admin API and metrics see it.
type PeerStatus struct {
	Name     string
	Neighbor netip.Addr
	ASN      uint32
	State    string // idle, connect, active, opensent, openconfirm, established
	// Since is when State last changed; Uptime is how long the session
	// has been established (zero while it is not).
	Since  time.Time
	Uptime time.Duration
	// Announced are the prefixes of this session's address family that are
	// announced while it is established.
	Announced []netip.Prefix
	LastError string
}

// Status is the speaker as a whole.
type Status struct {
	Running  bool
	Draining bool // announcing with GRACEFUL_SHUTDOWN
	Drained  bool // everything withdrawn
	Healthy  []netip.Prefix
	Peers    []PeerStatus
}

// Status returns a snapshot, peers in config order.
func (s *Service) Status() Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := Status{Running: s.srv != nil, Draining: s.draining && !s.drained, Drained: s.drained}
	for _, p := range s.prefixes {
		if s.healthy[p] {
			st.Healthy = append(st.Healthy, p)
		}
	}
	now := s.opts.Clock.Now()
	for _, c := range s.cfg.BGP.Peers {
		a, _ := peerKey(c)
		ps := PeerStatus{Name: c.Name, Neighbor: a, ASN: c.ASN, State: "idle"}
		if p := s.peers[a]; p != nil {
			ps.State = stateName(p.state)
			if p.state == api.PeerState_UNKNOWN {
				ps.State = "idle"
			}
			ps.Since = p.since
			ps.LastError = p.lastErr
			if p.state == api.PeerState_ESTABLISHED {
				ps.Uptime = now.Sub(p.up)
				for pfx := range s.announced {
					if pfx.Addr().Is4() == a.Is4() {
						ps.Announced = append(ps.Announced, pfx)
					}
				}
				slices.SortFunc(ps.Announced, func(x, y netip.Prefix) int { return x.Addr().Compare(y.Addr()) })
			}
		}
		if m := s.gobgpWarning(a); ps.LastError == "" && m != "" {
			ps.LastError = m
		}
		st.Peers = append(st.Peers, ps)
	}
	return st
}

// RIB lists every prefix in the speaker's global RIB, with whether it was
// learned from a peer. With the import policy in place only the node's own
// announced prefixes are there; the integration test holds it to that.
func (s *Service) RIB(ctx context.Context) ([]RIBEntry, error) {
	s.mu.Lock()
	srv := s.srv
	s.mu.Unlock()
	if srv == nil {
		return nil, ErrNotRunning
	}
	var out []RIBEntry
	for _, fam := range []*api.Family{familyIPv4, familyIPv6} {
		err := srv.ListPath(ctx, &api.ListPathRequest{TableType: api.TableType_GLOBAL, Family: fam}, func(d *api.Destination) {
			p, err := netip.ParsePrefix(d.Prefix)
			if err != nil {
				return
			}
			for _, path := range d.Paths {
				out = append(out, RIBEntry{Prefix: p, FromPeer: path.NeighborIp != "" && path.NeighborIp != "<nil>"})
			}
		})
		if err != nil {
			return nil, fmt.Errorf("bgp: list %s paths: %w", fam.Afi, err)
		}
	}
	return out, nil
}

// RIBEntry is one path in the global RIB.
type RIBEntry struct {
	Prefix   netip.Prefix
	FromPeer bool
}
