// Package server is `goleudy serve`: the provisioning server one operator
// runs centrally. It replaces the document database, REST API, job queue,
// OpenVPN and Puppet of the hand-built setup with one process and one data
// directory:
//
//   - the fleet store (provision/fleet), changed through the operator's
//     REST API (provision/api) with a bearer token;
//   - zero-touch enrollment on the OOB side: a node presents its one-time
//     token, identity key and WireGuard key, and gets its tunnel, signed
//     with the server key its seed pins;
//   - the management tunnel end: userspace WireGuard, where a peer's
//     tunnel address is its identity (cryptokey routing lets a peer send
//     only from its own address);
//   - node endpoints on the tunnel only: the signed config (long poll with
//     ETag, so a change reaches a node within a second) and heartbeats;
//   - the zone hub: the DNS service as secondary for every customer zone,
//     serving nodes by AXFR/IXFR with NOTIFY, and publishing a catalog
//     zone that lists them;
//   - releases: signed update bundles the operator publishes, checked
//     against the release keys and stored per board and build, which
//     nodes download over the tunnel (resumably); and rollouts, which
//     offer a version to canary nodes first, then to the rest, and halt
//     on the first failed update a node reports in its heartbeat;
//   - the NOC page.
//
// # Data directory
//
//	fleet.db        the fleet store (bbolt, mode 0600)
//	operator.token  the operator's API token (0600), created at first start
//	server.key/.pub signs enrollment answers; seeds pin server.pub
//	config.key/.pub the fleet config key, unless --config-key names others
//	wireguard.key   the tunnel's private key (0600)
//	hub/            the hub's transferred zones
//	releases/       published bundles, releases/BOARD/BUILD.bundle, each
//	                exactly as uploaded (header and image)
package server

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/goleudy/goleudy/provision/api"
	"github.com/goleudy/goleudy/provision/envelope"
	"github.com/goleudy/goleudy/provision/fleet"
	"github.com/goleudy/goleudy/services/statedir"
	"github.com/goleudy/goleudy/services/tunnel"
)

// Defaults.
const (
	DefaultTunnelPrefix = "10.53.0.0/24"
	DefaultTunnelPort   = 51820
	DefaultInterface    = "goleudy0"
	// MaxWait bounds a config long poll.
	MaxWait = 120 * time.Second
	// TokenLifetime is how long an enrollment token stays good: long
	// enough to build an image and post the box, short enough that a
	// lost card is not a standing invitation.
	TokenLifetime = 14 * 24 * time.Hour
)

// File names in the data directory.
const (
	StoreFile     = "fleet.db"
	OperatorToken = "operator.token"
	ServerKey     = "server"
	ConfigKey     = "config"
	WireGuardKey  = "wireguard.key"
	HubDir        = "hub"
	ReleasesDir   = "releases"
)

// Options configure a Server.
type Options struct {
	DataDir string
	// APIListen serves the operator API and the NOC page, e.g.
	// 127.0.0.1:8053. Empty: none.
	APIListen string
	// EnrollListen serves enrollment on the OOB side, e.g. :8080.
	EnrollListen string
	// EnrollURL is what seeds carry; default http://EnrollListen/v1/enroll
	// when EnrollListen names a host.
	EnrollURL string
	// TunnelPrefix is where tunnel addresses come from (default
	// 10.53.0.0/24); the first host is the server's. Fixed once nodes
	// have enrolled.
	TunnelPrefix netip.Prefix
	TunnelPort   int    // default 51820
	Interface    string // default goleudy0
	// TunnelEndpoint is what nodes dial, HOST:PORT; default the
	// EnrollURL's host with TunnelPort.
	TunnelEndpoint string
	// NoTunnel runs without WireGuard and the hub's tunnel listeners: the
	// operator API and enrollment only. Tests of the API use it.
	NoTunnel bool
	// HubListen are more addresses the hub's DNS answers on, for customer
	// primaries' NOTIFY and for checks; the tunnel address is always one.
	HubListen []string
	// ConfigKeys are private key files that sign node configs; default
	// DataDir/config.key, created when missing.
	ConfigKeys []string
	// ReleaseTrust are public key files whose signature on a bundle's
	// manifest the server accepts at publish; seeds carry them, so nodes
	// accept the same. None: publishing is refused.
	ReleaseTrust []string
	Log          *slog.Logger
	// Now is the clock; default time.Now.
	Now func() time.Time
}

// Server is a provisioning server.
type Server struct {
	o          Options
	log        *slog.Logger
	store      *fleet.Store
	token      []byte
	serverKey  ed25519.PrivateKey
	configKeys []ed25519.PrivateKey
	wgKey      tunnel.Key
	prefix     netip.Prefix
	endpoint   string

	releaseKeys  []ed25519.PublicKey
	releaseTrust *envelope.TrustSet // nil without release keys
	publishMu    sync.Mutex         // one publish at a time: a build's file and record go together

	mu      sync.Mutex
	changed chan struct{} // closed and replaced on every fleet change
	beats   map[string]beat
	tun     *tunnel.Tunnel

	hub *hub
}

// beat is the last heartbeat of a node and when it arrived.
type beat struct {
	hb api.Heartbeat
	at time.Time
}

// New opens the data directory, creating keys and the operator token on
// first start, and checks the options. Run serves.
func New(o Options) (*Server, error) {
	if o.DataDir == "" {
		return nil, errors.New("server: a data directory is required")
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.TunnelPort == 0 {
		o.TunnelPort = DefaultTunnelPort
	}
	if o.Interface == "" {
		o.Interface = DefaultInterface
	}
	if o.EnrollURL == "" && o.EnrollListen != "" {
		if h, _, err := net.SplitHostPort(o.EnrollListen); err == nil && h != "" {
			o.EnrollURL = "http://" + o.EnrollListen + "/v1/enroll"
		}
	}
	if o.EnrollURL != "" {
		u, err := url.Parse(o.EnrollURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("server: enroll URL %q is not an http(s) URL", o.EnrollURL)
		}
		if o.TunnelEndpoint == "" {
			o.TunnelEndpoint = net.JoinHostPort(u.Hostname(), strconv.Itoa(o.TunnelPort))
		}
	}
	if err := os.MkdirAll(o.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("server: data dir: %w", err)
	}
	s := &Server{o: o, log: o.Log, changed: make(chan struct{}), beats: map[string]beat{}}
	var err error
	if s.token, err = loadOrCreateToken(filepath.Join(o.DataDir, OperatorToken)); err != nil {
		return nil, err
	}
	if s.serverKey, err = loadOrCreateKey(filepath.Join(o.DataDir, ServerKey)); err != nil {
		return nil, err
	}
	if len(o.ConfigKeys) == 0 {
		k, err := loadOrCreateKey(filepath.Join(o.DataDir, ConfigKey))
		if err != nil {
			return nil, err
		}
		s.configKeys = []ed25519.PrivateKey{k}
	}
	for _, f := range o.ConfigKeys {
		k, err := envelope.LoadPrivateKey(f)
		if err != nil {
			return nil, fmt.Errorf("server: config key: %w", err)
		}
		s.configKeys = append(s.configKeys, k)
	}
	for _, f := range o.ReleaseTrust {
		k, err := envelope.LoadPublicKey(f)
		if err != nil {
			return nil, fmt.Errorf("server: release trust: %w", err)
		}
		s.releaseKeys = append(s.releaseKeys, k)
	}
	if len(s.releaseKeys) > 0 {
		if s.releaseTrust, err = envelope.NewTrustSet(s.releaseKeys...); err != nil {
			return nil, fmt.Errorf("server: release trust: %w", err)
		}
	}
	if s.wgKey, err = tunnel.LoadOrCreateKey(filepath.Join(o.DataDir, WireGuardKey)); err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}
	if s.store, err = fleet.Open(filepath.Join(o.DataDir, StoreFile)); err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}
	if err := s.setupTunnelSettings(); err != nil {
		s.store.Close()
		return nil, err
	}
	return s, nil
}

// setupTunnelSettings fixes the tunnel prefix and records how nodes reach
// the server, so rendered configs carry the management section.
func (s *Server) setupTunnelSettings() error {
	p, err := s.store.TunnelPrefix()
	switch {
	case errors.Is(err, fleet.ErrNoPrefix):
		p = s.o.TunnelPrefix
		if !p.IsValid() {
			p = netip.MustParsePrefix(DefaultTunnelPrefix)
		}
		if err := s.store.SetTunnelPrefix("server", p); err != nil {
			return fmt.Errorf("server: %w", err)
		}
	case err != nil:
		return fmt.Errorf("server: %w", err)
	case s.o.TunnelPrefix.IsValid() && s.o.TunnelPrefix.Masked() != p:
		if err := s.store.SetTunnelPrefix("server", s.o.TunnelPrefix); err != nil {
			return fmt.Errorf("server: tunnel prefix %s (the store has %s): %w", s.o.TunnelPrefix, p, err)
		}
		p = s.o.TunnelPrefix.Masked()
	}
	s.prefix = p
	s.endpoint = s.o.TunnelEndpoint
	if s.endpoint == "" {
		if srv, err := s.store.Server(); err == nil {
			s.endpoint = srv.Endpoint
		}
	}
	if s.endpoint != "" {
		err := s.store.SetServer("server", fleet.Server{PublicKey: s.wgKey.Public().String(), Endpoint: s.endpoint})
		if err != nil {
			return fmt.Errorf("server: tunnel endpoint: %w", err)
		}
	}
	return nil
}

// HubAddress is the server's own tunnel address.
func (s *Server) HubAddress() netip.Addr { return fleet.HubAddress(s.prefix) }

// Close closes the store. Run closes it too.
func (s *Server) Close() error { return s.store.Close() }

// Run brings the tunnel and the hub up and serves until ctx ends.
func (s *Server) Run(ctx context.Context) error {
	defer s.store.Close()
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var wg sync.WaitGroup
	fail := func(err error) {
		if err != nil && ctx.Err() == nil {
			cancel(err)
		}
	}

	if !s.o.NoTunnel {
		if err := s.tunnelUp(); err != nil {
			return err
		}
		defer s.tunnelDown()
		h, err := newHub(s)
		if err != nil {
			return err
		}
		s.hub = h
		wg.Go(func() { fail(h.run(ctx)) })
	}
	wg.Go(func() { s.reconcileLoop(ctx) })

	type listener struct {
		name, addr string
		h          http.Handler
	}
	var ls []listener
	if s.o.APIListen != "" {
		ls = append(ls, listener{"api", s.o.APIListen, s.OperatorHandler()})
	}
	if s.o.EnrollListen != "" {
		ls = append(ls, listener{"enroll", s.o.EnrollListen, s.EnrollHandler()})
	}
	if !s.o.NoTunnel {
		ls = append(ls, listener{"node", netip.AddrPortFrom(s.HubAddress(), fleet.HubConfigPort).String(), s.NodeHandler()})
	}
	for _, l := range ls {
		ln, err := net.Listen("tcp", l.addr)
		if err != nil {
			cancel(nil)
			wg.Wait()
			return fmt.Errorf("server: %s listener: %w", l.name, err)
		}
		hs := &http.Server{Handler: l.h, ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(s.log.Handler(), slog.LevelDebug)}
		s.log.Info("listening", "what", l.name, "addr", ln.Addr().String())
		wg.Go(func() {
			if err := hs.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
				fail(fmt.Errorf("server: %s: %w", l.name, err))
			}
		})
		wg.Go(func() {
			<-ctx.Done()
			sctx, c := context.WithTimeout(context.Background(), 2*time.Second)
			defer c()
			hs.Shutdown(sctx)
			hs.Close()
		})
	}
	serial, _ := s.store.Serial()
	s.log.Info("server running", "serial", serial, "tunnel_prefix", s.prefix, "endpoint", s.endpoint,
		"wireguard_key", s.wgKey.Public().String(), "enroll_url", s.o.EnrollURL)
	<-ctx.Done()
	wg.Wait()
	if err := context.Cause(ctx); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	s.log.Info("server stopped")
	return nil
}

// notify wakes long polls and the reconciler after a change to the fleet.
func (s *Server) notify() {
	s.mu.Lock()
	close(s.changed)
	s.changed = make(chan struct{})
	s.mu.Unlock()
}

// watch returns a channel closed at the next change.
func (s *Server) watch() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.changed
}

// reconcileLoop brings the tunnel peers and the hub in line with the store
// after every change.
func (s *Server) reconcileLoop(ctx context.Context) {
	for {
		ch := s.watch()
		s.reconcile()
		select {
		case <-ctx.Done():
			return
		case <-ch:
		}
	}
}

func (s *Server) reconcile() {
	peers, err := s.store.Peers()
	if err != nil {
		s.log.Error("reconcile: reading peers", "err", err)
		return
	}
	s.mu.Lock()
	t := s.tun
	s.mu.Unlock()
	if t != nil {
		if err := t.SetPeers(tunnelPeers(peers, s.log)); err != nil {
			s.log.Error("reconcile: tunnel peers", "err", err)
		}
	}
	if s.hub != nil {
		if err := s.hub.reconcile(peers); err != nil {
			s.log.Error("reconcile: hub", "err", err)
		}
	}
}

func (s *Server) tunnelUp() error {
	peers, err := s.store.Peers()
	if err != nil {
		return fmt.Errorf("server: %w", err)
	}
	t, err := tunnel.Up(tunnel.Config{
		Name:       s.o.Interface,
		PrivateKey: s.wgKey,
		ListenPort: s.o.TunnelPort,
		Address:    netip.PrefixFrom(s.HubAddress(), s.prefix.Bits()),
		Peers:      tunnelPeers(peers, s.log),
		Log:        s.log.With("part", "tunnel"),
	})
	if err != nil {
		return fmt.Errorf("server: tunnel: %w", err)
	}
	s.mu.Lock()
	s.tun = t
	s.mu.Unlock()
	s.log.Info("tunnel up", "interface", t.Name(), "address", netip.PrefixFrom(s.HubAddress(), s.prefix.Bits()), "port", t.ListenPort(), "peers", len(peers))
	return nil
}

func (s *Server) tunnelDown() {
	s.mu.Lock()
	t := s.tun
	s.tun = nil
	s.mu.Unlock()
	if t != nil {
		t.Close()
	}
}

func tunnelPeers(peers []fleet.Peer, log *slog.Logger) []tunnel.Peer {
	var out []tunnel.Peer
	for _, p := range peers {
		k, err := tunnel.ParseKey(p.PublicKey)
		if err != nil {
			log.Error("tunnel: skipping a peer with a bad key", "node", p.NodeID, "err", err)
			continue
		}
		a, err := netip.ParsePrefix(p.Address)
		if err != nil {
			log.Error("tunnel: skipping a peer with a bad address", "node", p.NodeID, "err", err)
			continue
		}
		out = append(out, tunnel.Peer{PublicKey: k, AllowedIPs: []netip.Prefix{a}})
	}
	return out
}

// authorized checks the operator's bearer token in constant time.
func (s *Server) authorized(r *http.Request) bool {
	h := r.Header.Get("Authorization")
	tok, ok := strings.CutPrefix(h, "Bearer ")
	return ok && subtle.ConstantTimeCompare([]byte(strings.TrimSpace(tok)), s.token) == 1
}

// Token is the operator token, for in-process clients and tests.
func (s *Server) Token() string { return string(s.token) }

func loadOrCreateToken(name string) ([]byte, error) {
	data, err := os.ReadFile(name)
	if errors.Is(err, os.ErrNotExist) {
		var raw [32]byte
		rand.Read(raw[:])
		tok := base64.RawURLEncoding.EncodeToString(raw[:])
		if err := statedir.WriteFile(name, []byte(tok+"\n"), 0o600); err != nil {
			return nil, fmt.Errorf("server: operator token: %w", err)
		}
		return []byte(tok), nil
	}
	if err != nil {
		return nil, fmt.Errorf("server: operator token: %w", err)
	}
	if fi, err := os.Stat(name); err == nil && fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("server: operator token %s has mode %04o; it must not be readable by others (chmod 600)", name, fi.Mode().Perm())
	}
	tok := strings.TrimSpace(string(data))
	if len(tok) < 16 {
		return nil, fmt.Errorf("server: operator token %s is shorter than 16 characters", name)
	}
	return []byte(tok), nil
}

func loadOrCreateKey(prefix string) (ed25519.PrivateKey, error) {
	if _, err := os.Stat(prefix + ".key"); errors.Is(err, os.ErrNotExist) {
		if _, err := envelope.NewKeyPair(prefix); err != nil {
			return nil, fmt.Errorf("server: %w", err)
		}
	}
	k, err := envelope.LoadPrivateKey(prefix + ".key")
	if err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}
	return k, nil
}
