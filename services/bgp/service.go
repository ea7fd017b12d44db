// Package bgp announces the node's anycast prefixes to the host's routers
// over BGP, through an embedded GoBGP v3 speaker.
//
// It sits at the end of the node's data flow: the signed config says which
// prefixes and peers exist (Apply), the health gate says which prefixes may
// be announced because DNS answers on them (SetHealthy), and the admin API,
// the update agent or node.state say when to drain (Drain, Undrain). A
// prefix is announced only while it is healthy and the node is not
// drained; every prefix starts unhealthy.
//
// Safety for the volunteer host comes from policy, not from trusting the
// RIB: the global export policy accepts only the configured anycast
// prefixes, per peer, and rejects everything else; the import policy
// rejects everything a peer sends, while letting locally originated paths
// through (GoBGP's global import policy also filters local paths). Each
// session carries only the address family of its neighbor, and a tiny
// max-prefix bounds what a peer can make the node hold.
//
// The node does not listen on TCP 179 (GoBGP ListenPort -1) unless a peer
// is configured passive: it opens the sessions itself. A multihop peer gets
// eBGP multihop with its TTL.
package bgp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"sync"
	"time"

	api "github.com/osrg/gobgp/v3/api"
	"github.com/osrg/gobgp/v3/pkg/server"

	"github.com/goleudy/goleudy/provision/config"
	"github.com/goleudy/goleudy/services/clock"
)

// Defaults for Options.
const (
	DefaultDrainPeriod  = 30 * time.Second
	DefaultConnectRetry = 5 * time.Second
	DefaultMaxPrefixes  = 1
	DefaultWarnAfter    = 30 * time.Second
)

// Sentinel errors.
var (
	// ErrNotRunning is returned by calls that need the speaker while Run is
	// not running.
	ErrNotRunning = errors.New("bgp: not running")
	// ErrUnknownPrefix is returned by SetHealthy for a prefix that is not
	// in anycast.prefixes.
	ErrUnknownPrefix = errors.New("bgp: prefix is not configured")
	// ErrRestart is what Run returns when a config change (ASN or router
	// id) needs a new speaker; the supervisor restarts the service.
	ErrRestart = errors.New("bgp: restart needed for new asn or router id")
	// ErrNoSession is Health's answer while no session is established.
	ErrNoSession = errors.New("bgp: no established session")
)

// Options tune the service. The zero value is usable.
type Options struct {
	Logger *slog.Logger
	Clock  clock.Clock
	// DrainPeriod is how long prefixes stay announced with
	// GRACEFUL_SHUTDOWN before they are withdrawn.
	DrainPeriod time.Duration
	// ConnectRetry is the delay between attempts to open a session.
	ConnectRetry time.Duration
	// MaxPrefixes is the prefix limit per session; see peerRequest.
	MaxPrefixes uint32
	// WarnAfter is how long a peer may stay down before the service logs
	// a warning naming the likely causes (MD5 password, ASN, address).
	WarnAfter time.Duration
	// ListenPort is the local BGP port. Zero means do not listen (-1 to
	// GoBGP); only passive peers need a listener.
	ListenPort int32
}

func (o Options) withDefaults() Options {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	o.Logger = o.Logger.With("service", "bgp")
	if o.Clock == nil {
		o.Clock = clock.Real()
	}
	if o.DrainPeriod <= 0 {
		o.DrainPeriod = DefaultDrainPeriod
	}
	if o.ConnectRetry <= 0 {
		o.ConnectRetry = DefaultConnectRetry
	}
	if o.MaxPrefixes == 0 {
		o.MaxPrefixes = DefaultMaxPrefixes
	}
	if o.WarnAfter <= 0 {
		o.WarnAfter = DefaultWarnAfter
	}
	if o.ListenPort == 0 {
		o.ListenPort = -1
	}
	return o
}

// Service is the BGP speaker. Its methods are safe for concurrent use.
type Service struct {
	opts Options
	log  *slog.Logger

	mu        sync.Mutex
	cfg       *config.Config
	prefixes  []netip.Prefix
	healthy   map[netip.Prefix]bool
	announced map[netip.Prefix]bool // value: announced with GRACEFUL_SHUTDOWN
	draining  bool                  // GRACEFUL_SHUTDOWN attached
	drained   bool                  // everything withdrawn
	adminDrn  bool                  // drained by Drain rather than node.state
	drainStop context.CancelFunc    // cancels a node.state drain in progress
	srv       *server.BgpServer     // nil unless Run is running
	restart   chan struct{}
	peers     map[netip.Addr]*peerState
	bg        sync.WaitGroup
	runCtx    context.Context

	logMu   sync.Mutex
	lastLog map[netip.Addr]string // GoBGP's last warning per peer
}

// New returns a service for cfg. It does not touch the network until Run.
func New(cfg *config.Config, o Options) (*Service, error) {
	o = o.withDefaults()
	s := &Service{
		opts:      o,
		log:       o.Logger,
		healthy:   map[netip.Prefix]bool{},
		announced: map[netip.Prefix]bool{},
		peers:     map[netip.Addr]*peerState{},
		restart:   make(chan struct{}, 1),
		lastLog:   map[netip.Addr]string{},
	}
	if err := s.setConfig(cfg); err != nil {
		return nil, err
	}
	return s, nil
}

// Name implements supervisor.Service.
func (*Service) Name() string { return "bgp" }

// setConfig checks cfg by translating it, then stores it. s.mu held or
// not yet shared.
func (s *Service) setConfig(cfg *config.Config) error {
	if cfg == nil {
		return errors.New("bgp: nil config")
	}
	pfx, err := parsePrefixes(cfg.Anycast.Prefixes)
	if err != nil {
		return err
	}
	if _, err := policies(cfg.Anycast.ASN, pfx, cfg.BGP.Peers); err != nil {
		return err
	}
	seen := map[netip.Addr]bool{}
	for _, p := range cfg.BGP.Peers {
		if _, err := peerRequest(p, s.opts); err != nil {
			return err
		}
		a, _ := peerKey(p)
		if seen[a] {
			return fmt.Errorf("bgp: peer %s: neighbor %s appears twice", p.Name, a)
		}
		seen[a] = true
	}
	if len(cfg.BGP.Peers) > 0 {
		if cfg.Anycast.ASN == 0 {
			return errors.New("bgp: anycast.asn is not set")
		}
		if a, err := netip.ParseAddr(cfg.BGP.RouterID); err != nil || !a.Is4() {
			return fmt.Errorf("bgp: bgp.router_id %q is not an IPv4 address", cfg.BGP.RouterID)
		}
	}
	s.cfg = cfg
	s.prefixes = pfx
	keep := map[netip.Prefix]bool{}
	for _, p := range pfx {
		keep[p] = s.healthy[p]
	}
	s.healthy = keep
	return nil
}

// Run starts the speaker, brings up the sessions and keeps the
// announcements in line with health and drain state until ctx ends. On the
// way out every prefix is withdrawn and the sessions are closed.
func (s *Service) Run(ctx context.Context) error {
	s.mu.Lock()
	cfg := s.cfg
	s.mu.Unlock()
	select { // a restart asked for before this Run is already satisfied
	case <-s.restart:
	default:
	}
	if len(cfg.BGP.Peers) == 0 {
		// Stay running so that Apply can bring peers: it asks for a
		// restart, and the next Run starts the speaker.
		s.log.Info("no bgp peers configured; not starting the speaker")
		select {
		case <-ctx.Done():
			return nil
		case <-s.restart:
			return ErrRestart
		}
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	gl := newGoBGPLogger(s.log)
	gl.onPeer = s.peerLog
	srv := server.NewBgpServer(server.LoggerOption(gl))
	go srv.Serve()
	defer srv.Stop()

	if err := s.start(ctx, srv, cfg); err != nil {
		return err
	}
	defer s.stop()

	select {
	case <-ctx.Done():
		return nil
	case <-s.restart:
		return ErrRestart
	}
}

func (s *Service) start(ctx context.Context, srv *server.BgpServer, cfg *config.Config) error {
	if err := srv.StartBgp(ctx, &api.StartBgpRequest{Global: &api.Global{
		Asn:        cfg.Anycast.ASN,
		RouterId:   cfg.BGP.RouterID,
		ListenPort: listenPort(s.opts, cfg.BGP.Peers),
	}}); err != nil {
		return fmt.Errorf("bgp: start speaker as AS%d id %s: %w", cfg.Anycast.ASN, cfg.BGP.RouterID, err)
	}
	if err := s.watch(ctx, srv); err != nil {
		return err
	}
	if err := s.installPolicies(ctx, srv, cfg, true); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.srv = srv
	s.runCtx = ctx
	for _, p := range cfg.BGP.Peers {
		if err := s.addPeerLocked(ctx, p); err != nil {
			s.srv = nil
			return err
		}
	}
	if st := cfg.Node.State; st == config.StateMaintenance || st == config.StateDrained {
		// Nothing is announced yet, so there is nothing to drain: start
		// withdrawn.
		s.draining, s.drained = true, true
		s.log.Info("node.state keeps the node drained", "state", st)
	}
	return s.reconcileLocked(ctx)
}

// stop withdraws everything and forgets the speaker.
func (s *Service) stop() {
	s.mu.Lock()
	if s.drainStop != nil {
		s.drainStop()
		s.drainStop = nil
	}
	srv := s.srv
	s.srv = nil
	s.announced = map[netip.Prefix]bool{}
	for _, ps := range s.peers {
		ps.stopWarn()
	}
	s.peers = map[netip.Addr]*peerState{}
	s.mu.Unlock()
	s.bg.Wait()
	_ = srv // paths go with the speaker: StopBgp closes every session.
}

func (s *Service) installPolicies(ctx context.Context, srv *server.BgpServer, cfg *config.Config, first bool) error {
	pfx, _ := parsePrefixes(cfg.Anycast.Prefixes)
	req, err := policies(cfg.Anycast.ASN, pfx, cfg.BGP.Peers)
	if err != nil {
		return err
	}
	if err := srv.SetPolicies(ctx, req); err != nil {
		return fmt.Errorf("bgp: set policies: %w", err)
	}
	if !first {
		return nil
	}
	for _, a := range assignments() {
		if err := srv.SetPolicyAssignment(ctx, &api.SetPolicyAssignmentRequest{Assignment: a}); err != nil {
			return fmt.Errorf("bgp: assign %s policy: %w", a.Direction, err)
		}
	}
	return nil
}

// Health implements supervisor.HealthChecker: healthy while at least one
// session is established.
func (s *Service) Health() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.srv == nil {
		return ErrNotRunning
	}
	for _, p := range s.peers {
		if p.state == api.PeerState_ESTABLISHED {
			return nil
		}
	}
	return ErrNoSession
}
