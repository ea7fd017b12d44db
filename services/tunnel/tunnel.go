// Package tunnel is the WireGuard management tunnel between nodes and the
// provisioning server. Both ends use it: goleudy-node dials the server's
// endpoint and keeps the path open with keepalives; goleudy serve listens
// and learns each node's endpoint from its handshakes.
//
// WireGuard runs in userspace (wireguard-go on a TUN device), so no kernel
// module is needed on the firmware or on the server. The kernel's only part
// is the TUN link, its address and its routes, set over netlink.
//
// A node's identity on the tunnel is its tunnel address. WireGuard's
// cryptokey routing accepts a decrypted packet only if its source address
// lies in the sending peer's AllowedIPs, so when the server gives each node
// key exactly one /32, a connection from 10.53.0.7 can only come from the
// holder of that node's key: the server identifies nodes by remote address
// and needs no further authentication on the tunnel.
//
// Routes: the tunnel address carries the tunnel's prefix (10.53.0.1/24 on
// the server), which gives the kernel a connected route for the whole
// tunnel network. A peer AllowedIP outside that prefix (the server network
// seen from a node with a /32 address, say) gets a route of its own on the
// link, with our tunnel address as source.
package tunnel

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"sync"
	"time"

	"golang.zx2c4.com/wireguard/conn"
	"golang.zx2c4.com/wireguard/device"
	"golang.zx2c4.com/wireguard/tun"
)

// Peer is the other end of the tunnel, as configured.
type Peer struct {
	PublicKey Key
	// Endpoint is where to send handshakes. Zero: none, the peer's
	// address is learned from its handshakes (the server's view of
	// nodes). An endpoint, once set or learned, is not cleared by a later
	// SetPeers with a zero Endpoint.
	Endpoint   netip.AddrPort
	AllowedIPs []netip.Prefix
	Keepalive  time.Duration // persistent keepalive, rounded up to seconds; 0 off
}

// Config describes one tunnel end.
type Config struct {
	Name       string // interface name; default "wg0"
	PrivateKey Key
	ListenPort int // UDP; 0 picks a free port
	// Address is our tunnel address with the tunnel's prefix length:
	// 10.53.0.1/24 on the server, 10.53.0.7/32 on a node.
	Address netip.Prefix
	MTU     int // default 1420
	Peers   []Peer
	Log     *slog.Logger // default discard; wireguard-go logs here at debug level
}

// Defaults for Config.
const (
	DefaultName = "wg0"
	DefaultMTU  = 1420
)

// Tunnel is a running tunnel end: a wireguard-go device on its TUN link.
type Tunnel struct {
	name    string
	addr    netip.Prefix
	port    int
	dev     *device.Device
	log     *slog.Logger
	mu      sync.Mutex            // serialises SetPeers and Close
	routes  map[netip.Prefix]bool // routes we added on the link
	closed  bool
	closeMu sync.Once
}

// Up creates the TUN link, starts WireGuard on it with cfg's key, port and
// peers, and gives the link its address, MTU and routes. On failure it
// undoes what it did (closing the device removes the link) and names the
// failed step.
func Up(cfg Config) (*Tunnel, error) {
	cfg.Name = cmp.Or(cfg.Name, DefaultName)
	cfg.MTU = cmp.Or(cfg.MTU, DefaultMTU)
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	fail := func(step string, err error) error {
		return fmt.Errorf("tunnel: up %s: %s: %w", cfg.Name, step, err)
	}
	switch {
	case cfg.PrivateKey.IsZero():
		return nil, fail("config", fmt.Errorf("no private key"))
	case !cfg.Address.IsValid():
		return nil, fail("config", fmt.Errorf("no tunnel address"))
	case cfg.ListenPort < 0 || cfg.ListenPort > 65535:
		return nil, fail("config", fmt.Errorf("listen port %d out of range", cfg.ListenPort))
	}
	if err := checkPeers(cfg.Peers); err != nil {
		return nil, fail("config", err)
	}

	tdev, err := tun.CreateTUN(cfg.Name, cfg.MTU)
	if err != nil {
		return nil, fail("create TUN", err)
	}
	name, err := tdev.Name()
	if err != nil {
		tdev.Close()
		return nil, fail("TUN name", err)
	}
	t := &Tunnel{
		name:   name,
		addr:   cfg.Address,
		log:    cfg.Log,
		routes: make(map[netip.Prefix]bool),
	}
	// wireguard-go may bring the device up by itself at any moment from
	// here: its TUN reports "up" as soon as the fd is attached. So the
	// port can be bound by IpcSet as well as by Up, and a taken port fails
	// either step.
	t.dev = device.NewDevice(tdev, conn.NewDefaultBind(), wgLogger(cfg.Log))
	undo := func(step string, err error) (*Tunnel, error) {
		t.dev.Close()
		return nil, fail(step, err)
	}
	if err := t.dev.IpcSet(deviceConfig(cfg.PrivateKey, cfg.ListenPort, cfg.Peers)); err != nil {
		return undo("configure WireGuard", err)
	}
	if err := t.dev.Up(); err != nil {
		return undo("start WireGuard", err)
	}
	st, err := t.status()
	if err != nil {
		return undo("read WireGuard state", err)
	}
	t.port = st.listenPort
	if err := linkUp(name, cfg.Address, cfg.MTU); err != nil {
		return undo("link", err)
	}
	if err := t.setRoutes(cfg.Peers); err != nil {
		return undo("routes", err)
	}
	cfg.Log.Info("tunnel up", "link", name, "address", cfg.Address, "port", t.port, "peers", len(cfg.Peers))
	return t, nil
}

// wgLogger sends wireguard-go's log lines to log at debug level. The level
// check comes first: wireguard-go logs per keepalive and handshake.
func wgLogger(log *slog.Logger) *device.Logger {
	logf := func(kind string) func(string, ...any) {
		return func(format string, args ...any) {
			if log.Enabled(context.Background(), slog.LevelDebug) {
				log.Debug(fmt.Sprintf(format, args...), "wireguard", kind)
			}
		}
	}
	return &device.Logger{Verbosef: logf("verbose"), Errorf: logf("error")}
}

// SetPeers makes peers the tunnel's whole peer set, live. Peers no longer
// wanted are removed; the others are created or updated in place, so a
// peer that stays keeps its session and learned endpoint. Routes follow.
func (t *Tunnel) SetPeers(peers []Peer) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return fmt.Errorf("tunnel: set peers on %s: closed", t.name)
	}
	if err := checkPeers(peers); err != nil {
		return fmt.Errorf("tunnel: set peers on %s: %w", t.name, err)
	}
	st, err := t.status()
	if err != nil {
		return fmt.Errorf("tunnel: set peers on %s: %w", t.name, err)
	}
	if err := t.dev.IpcSet(peersConfig(st.peers, peers)); err != nil {
		return fmt.Errorf("tunnel: set peers on %s: %w", t.name, err)
	}
	if err := t.setRoutes(peers); err != nil {
		return fmt.Errorf("tunnel: set peers on %s: routes: %w", t.name, err)
	}
	t.log.Info("tunnel peers set", "link", t.name, "peers", len(peers))
	return nil
}

// setRoutes makes the link's routes those peers need: one per AllowedIP
// that our address's prefix does not already cover.
func (t *Tunnel) setRoutes(peers []Peer) error {
	want := make(map[netip.Prefix]bool)
	for _, p := range peers {
		for _, ip := range p.AllowedIPs {
			ip = ip.Masked()
			if !covers(t.addr, ip) {
				want[ip] = true
			}
		}
	}
	for dst := range want {
		if t.routes[dst] {
			continue
		}
		if err := routeAdd(t.name, dst, t.addr.Addr()); err != nil {
			return err
		}
		t.routes[dst] = true
	}
	for dst := range t.routes {
		if want[dst] {
			continue
		}
		if err := routeDel(t.name, dst); err != nil {
			return err
		}
		delete(t.routes, dst)
	}
	return nil
}

// covers reports whether the connected route of addr already reaches all
// of p.
func covers(addr, p netip.Prefix) bool {
	return addr.Addr().Is4() == p.Addr().Is4() && addr.Bits() <= p.Bits() && addr.Masked().Contains(p.Addr())
}

func (t *Tunnel) status() (deviceStatus, error) {
	s, err := t.dev.IpcGet()
	if err != nil {
		return deviceStatus{}, err
	}
	return parseStatus(s)
}

// Status reports each peer's endpoint, last handshake and traffic, sorted
// by public key. It returns nil if the device cannot be read.
func (t *Tunnel) Status() []PeerStatus {
	st, err := t.status()
	if err != nil {
		t.log.Warn("tunnel status", "link", t.name, "err", err)
		return nil
	}
	return st.peers
}

// ListenPort is the UDP port WireGuard listens on, the one chosen if
// Config.ListenPort was 0.
func (t *Tunnel) ListenPort() int { return t.port }

// Name is the link's name.
func (t *Tunnel) Name() string { return t.name }

// Close stops WireGuard and removes the link, and with it the link's
// address and routes. It may be called more than once.
func (t *Tunnel) Close() error {
	t.closeMu.Do(func() {
		t.mu.Lock()
		t.closed = true
		t.mu.Unlock()
		t.dev.Close()
		t.log.Info("tunnel down", "link", t.name)
	})
	return nil
}
