// Package dnsservice is the node's DNS service as the supervisor sees it:
// one Service named "dns" that owns the zone store, keeps it filled through
// the secondary manager, and answers from it through the network front.
//
// The zone store lives as long as the Service value, not as long as one
// Run: when the supervisor restarts a failed Run, the zones are still in
// memory and are served again at once. Config changes arrive through Apply
// and take effect live: zones are added and removed without a restart and
// without dropping queries; only a change of listen addresses rebinds the
// sockets.
package dnsservice

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"path/filepath"
	"slices"
	"sync"

	"github.com/goleudy/goleudy/provision/config"
	"github.com/goleudy/goleudy/services/clock"
	authdns "github.com/goleudy/goleudy/services/dns"
	"github.com/goleudy/goleudy/services/dns/dnsserver"
	"github.com/goleudy/goleudy/services/dns/secondary"
)

// ZonesDir is where, under the node's state directory, transferred zones
// are kept.
const ZonesDir = "zones"

// Service is the DNS service.
type Service struct {
	log   *slog.Logger
	zones *authdns.Zones
	sec   *secondary.Manager

	mu      sync.Mutex
	srv     *dnsserver.Server // the server of the current listen set
	listen  []string
	rebind  chan struct{} // signalled when listen addresses change
	running bool
}

// New builds the service for cfg. stateDir is the node's state directory;
// zones are kept under stateDir/zones.
func New(cfg *config.Config, stateDir string, clk clock.Clock, log *slog.Logger) (*Service, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	zones := authdns.NewZones()
	sec, err := secondary.New(secondary.Options{
		Zones:    zones,
		Clock:    clk,
		Log:      log,
		StateDir: filepath.Join(stateDir, ZonesDir),
	})
	if err != nil {
		return nil, fmt.Errorf("dns: %w", err)
	}
	s := &Service{log: log, zones: zones, sec: sec, rebind: make(chan struct{}, 1)}
	if err := s.Apply(cfg); err != nil {
		return nil, err
	}
	return s, nil
}

// Name implements supervisor.Service.
func (s *Service) Name() string { return "dns" }

// Zones is the zone store the service answers from.
func (s *Service) Zones() *authdns.Zones { return s.zones }

// Secondary is the transfer manager, for status and metrics.
func (s *Service) Secondary() *secondary.Manager { return s.sec }

// Server is the current network front, for its bound addresses and stats.
func (s *Service) Server() *dnsserver.Server {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.srv
}

// Apply makes cfg current: zones, catalogs, keys, downstreams, identity,
// rate limiting, and listen addresses.
func (s *Service) Apply(cfg *config.Config) error {
	downs, err := downstreams(cfg.DNS.Downstreams)
	if err != nil {
		return err
	}
	s.sec.SetDownstreams(downs)
	s.sec.Configure(cfg.Zones, cfg.Catalogs, cfg.TSIGKeys)
	opts := serverOptions(cfg)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.srv == nil || !slices.Equal(s.listen, opts.Listen) {
		s.listen = opts.Listen
		s.srv = dnsserver.New(opts, s.zones, s.sec, s.log)
		if s.running { // Run starts with the newest server anyway
			select {
			case s.rebind <- struct{}{}:
			default:
			}
		}
		return nil
	}
	s.srv.SetOptions(opts)
	return nil
}

// Run serves until ctx is done: the secondary manager keeps the zones
// fresh while the server answers. If either fails, Run returns the error
// and the supervisor restarts it; the zones stay in memory meanwhile.
func (s *Service) Run(ctx context.Context) error {
	s.mu.Lock()
	if s.running {
		s.mu.Unlock()
		return errors.New("dns: already running")
	}
	s.running = true
	select { // a change before Run is already in s.srv
	case <-s.rebind:
	default:
	}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.running = false
		s.mu.Unlock()
	}()

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	secDone := make(chan error, 1)
	go func() { secDone <- s.sec.Run(ctx) }()
	defer func() { <-secDone }()

	for {
		s.mu.Lock()
		srv := s.srv
		s.mu.Unlock()
		srvCtx, stop := context.WithCancel(ctx)
		srvDone := make(chan error, 1)
		go func() { srvDone <- srv.Run(srvCtx) }()
		select {
		case <-ctx.Done():
			stop()
			return <-srvDone
		case err := <-secDone:
			stop()
			<-srvDone
			secDone <- err // for the deferred wait
			return fmt.Errorf("dns: secondary: %w", err)
		case err := <-srvDone:
			stop()
			if err == nil {
				err = errors.New("server stopped")
			}
			return err
		case <-s.rebind:
			stop()
			if err := <-srvDone; err != nil {
				return err
			}
			s.log.Info("dns: listen addresses changed; rebinding")
		}
	}
}

// Health reports whether the service is answering: bound to its addresses.
// The BGP gate does not rely on this alone; it queries the node itself.
func (s *Service) Health() error {
	srv := s.Server()
	if srv == nil || len(srv.Addrs()) == 0 {
		return errors.New("dns: not listening")
	}
	return nil
}

func serverOptions(cfg *config.Config) dnsserver.Options {
	d := cfg.DNS
	return dnsserver.Options{
		Listen:   slices.Clone(d.Listen),
		Identity: d.Identity,
		NSID:     d.NSID,
		Version:  d.Version,
		UDPSize:  uint16(d.UDPSize),
		RRL: dnsserver.RRLOptions{
			ResponsesPerSecond: d.RRL.ResponsesPerSecond,
			Slip:               d.RRL.Slip,
			IPv4PrefixLen:      d.RRL.IPv4PrefixLength,
			IPv6PrefixLen:      d.RRL.IPv6PrefixLength,
		},
	}
}

func downstreams(list []config.Downstream) ([]secondary.Downstream, error) {
	var out []secondary.Downstream
	for _, d := range list {
		ap, err := netip.ParseAddrPort(d.Address)
		if err != nil {
			return nil, fmt.Errorf("dns: downstream %q: %w", d.Address, err)
		}
		out = append(out, secondary.Downstream{Addr: ap, TSIG: d.TSIG})
	}
	return out, nil
}
