package mgmt

import (
	"cmp"
	"context"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/goleudy/goleudy/provision/api"
	"github.com/goleudy/goleudy/provision/config"
	"github.com/goleudy/goleudy/services/tunnel"
)

// link is what one run of the tunnel is built from: the enrollment's
// settings, overlaid with the management section of the newest config.
type link struct {
	address      netip.Prefix
	server       tunnel.Key
	endpoint     string // HOST:PORT, resolved when the tunnel comes up
	allowed      []netip.Prefix
	keepalive    time.Duration
	configURL    string
	heartbeatURL string
}

func (l link) equal(o link) bool {
	return l.address == o.address && l.server == o.server && l.endpoint == o.endpoint &&
		slices.Equal(l.allowed, o.allowed) && l.keepalive == o.keepalive &&
		l.configURL == o.configURL && l.heartbeatURL == o.heartbeatURL
}

// linkFor merges m over the enrollment's tunnel; a field m leaves empty
// keeps the enrollment's value.
func linkFor(e *api.Enrollment, m *config.Management) (link, error) {
	t := e.Tunnel
	addr, key, endpoint, allowed, cfgURL := t.Address, t.ServerPublicKey, t.Endpoint, t.AllowedIPs, e.ConfigURL
	if m != nil {
		wg := m.WireGuard
		addr = cmp.Or(wg.Address, addr)
		key = cmp.Or(wg.PublicKey, key)
		endpoint = cmp.Or(wg.Endpoint, endpoint)
		if len(wg.AllowedIPs) > 0 {
			allowed = wg.AllowedIPs
		}
		cfgURL = cmp.Or(m.ConfigURL, cfgURL)
	}
	var l link
	var err error
	if l.address, err = netip.ParsePrefix(addr); err != nil {
		return l, fmt.Errorf("mgmt: tunnel address: %w", err)
	}
	if l.server, err = tunnel.ParseKey(key); err != nil {
		return l, fmt.Errorf("mgmt: server key: %w", err)
	}
	if _, _, err := net.SplitHostPort(endpoint); err != nil {
		return l, fmt.Errorf("mgmt: tunnel endpoint: %w", err)
	}
	l.endpoint = endpoint
	for _, s := range allowed {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return l, fmt.Errorf("mgmt: allowed IPs: %w", err)
		}
		l.allowed = append(l.allowed, p.Masked())
	}
	l.keepalive = time.Duration(max(t.Keepalive, 1)) * time.Second
	l.configURL, l.heartbeatURL = cfgURL, e.Heartbeat
	if cfgURL != e.ConfigURL {
		// The node endpoints live together on the server; a moved config
		// URL moves the heartbeat with it.
		l.heartbeatURL = sibling(cfgURL, "heartbeat")
	}
	return l, nil
}

// sibling replaces the last path element of u.
func sibling(u, name string) string {
	if i := strings.LastIndexByte(u, '/'); i >= 0 {
		return u[:i+1] + name
	}
	return u
}

// peer resolves the endpoint into the server's tunnel peer.
func (l link) peer() (tunnel.Peer, error) {
	ua, err := net.ResolveUDPAddr("udp", l.endpoint)
	if err != nil {
		return tunnel.Peer{}, fmt.Errorf("mgmt: tunnel endpoint: %w", err)
	}
	return tunnel.Peer{
		// Unmapped: ResolveUDPAddr gives IPv4 in its 16-byte form,
		// which wireguard-go would send from its IPv6 socket.
		PublicKey:  l.server,
		Endpoint:   netip.AddrPortFrom(ua.AddrPort().Addr().Unmap(), ua.AddrPort().Port()),
		AllowedIPs: l.allowed,
		Keepalive:  l.keepalive,
	}, nil
}

// want is the link the agent should run now. The caller holds a.mu.
func (a *Agent) want(e *api.Enrollment) (link, error) {
	l, err := linkFor(e, a.override)
	if err != nil && a.override != nil {
		// Configs are validated before they get here, so this is a
		// server answer the node cannot use: keep to the enrollment.
		a.log.Error("management settings from the config unusable; keeping the enrollment's", "err", err)
		return linkFor(e, nil)
	}
	return l, err
}

// Apply takes the management section of a newly accepted config. A new
// server key, endpoint, tunnel address, allowed IPs or config URL takes
// effect at once: the tunnel is rebuilt (in milliseconds) without
// enrolling again. A change that leaves the node unable to reach the
// server for RevertAfter is undone, so a bad config cannot cut a node off
// from its management for good.
func (a *Agent) Apply(m config.Management) {
	a.mu.Lock()
	defer a.mu.Unlock()
	mm := m
	a.override = &mm
	if a.enr == nil || a.restart == nil {
		return // Run builds the link with it
	}
	l, err := a.want(a.enr)
	if err != nil || l.equal(a.link) {
		return
	}
	a.log.Info("management settings changed; rebuilding the tunnel",
		"address", l.address, "endpoint", l.endpoint, "config_url", l.configURL)
	a.restart()
}

// guard undoes a management change that never worked: when the running
// link differs from the last one a poll succeeded over, and no poll
// succeeds within RevertAfter, the config's management settings are
// dropped until the next config.
func (a *Agent) guard(ctx context.Context, l link) {
	a.mu.Lock()
	worked := a.worked
	a.mu.Unlock()
	if worked == nil || worked.equal(l) {
		return
	}
	t := time.NewTimer(a.o.RevertAfter)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return
	case <-t.C:
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.worked != nil && a.worked.equal(l) {
		return
	}
	a.log.Error("management settings from the config did not reach the server; going back to the last that worked",
		"after", a.o.RevertAfter, "endpoint", l.endpoint, "config_url", l.configURL)
	a.override = nil
	if a.restart != nil {
		a.restart()
	}
}

// NetworkChanged tells the agent that the OOB network changed (a new
// lease, a carrier flap): waits in progress end now, so enrollment and the
// config poll retry at once, and a heartbeat goes out, which carries the
// node's new outer address to the server over the tunnel (WireGuard roams
// on the first authenticated packet). An endpoint given by name is
// resolved again.
func (a *Agent) NetworkChanged() {
	a.mu.Lock()
	close(a.wake)
	a.wake = make(chan struct{})
	t, l := a.tun, a.link
	a.mu.Unlock()
	if t != nil {
		if _, err := netip.ParseAddrPort(l.endpoint); err != nil {
			if p, err := l.peer(); err == nil {
				if err := t.SetPeers([]tunnel.Peer{p}); err != nil {
					a.log.Warn("tunnel endpoint not updated", "err", err)
				}
			}
		}
	}
	a.Beat()
}

// sleep waits d, or until ctx ends (false) or the network changes.
func (a *Agent) sleep(ctx context.Context, d time.Duration) bool {
	a.mu.Lock()
	wake := a.wake
	a.mu.Unlock()
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
	case <-wake:
	}
	return true
}
