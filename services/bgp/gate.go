package bgp

import (
	"context"
	"fmt"
	"net/netip"
	"slices"

	api "github.com/osrg/gobgp/v3/api"

	"github.com/goleudy/goleudy/provision/config"
)

// SetHealthy opens or closes the health gate for one anycast prefix. The
// health checker calls it on every rise or fall; the change reaches GoBGP
// before SetHealthy returns, and GoBGP sends the UPDATE or withdrawal at
// once, so a failure is withdrawn in milliseconds.
func (s *Service) SetHealthy(p netip.Prefix, healthy bool) error {
	p = p.Masked()
	s.mu.Lock()
	defer s.mu.Unlock()
	if !slices.Contains(s.prefixes, p) {
		return fmt.Errorf("%w: %s", ErrUnknownPrefix, p)
	}
	if s.healthy[p] == healthy {
		return nil
	}
	s.healthy[p] = healthy
	s.log.Info("health gate", "prefix", p, "healthy", healthy)
	return s.reconcileLocked(s.ctxLocked())
}

// SetAllHealthy opens or closes the gate for every configured prefix.
func (s *Service) SetAllHealthy(healthy bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, p := range s.prefixes {
		s.healthy[p] = healthy
	}
	s.log.Info("health gate", "prefix", "all", "healthy", healthy)
	return s.reconcileLocked(s.ctxLocked())
}

func (s *Service) ctxLocked() context.Context {
	if s.runCtx != nil {
		return s.runCtx
	}
	return context.Background()
}

// want is the announcement set the current state asks for: prefix → with
// GRACEFUL_SHUTDOWN.
func (s *Service) wantLocked() map[netip.Prefix]bool {
	want := map[netip.Prefix]bool{}
	if s.drained {
		return want
	}
	for _, p := range s.prefixes {
		if s.healthy[p] {
			want[p] = s.draining
		}
	}
	return want
}

// reconcileLocked makes GoBGP's local paths match wantLocked. Withdrawals
// go first so that a failing prefix leaves as early as possible.
func (s *Service) reconcileLocked(ctx context.Context) error {
	if s.srv == nil {
		return nil // Run announces when it starts
	}
	want := s.wantLocked()
	var firstErr error
	keep := func(err error) {
		if err != nil && firstErr == nil {
			firstErr = err
		}
	}
	for p := range s.announced {
		if _, ok := want[p]; ok {
			continue
		}
		path, err := pathFor(p, s.announced[p])
		if err == nil {
			err = s.srv.DeletePath(ctx, &api.DeletePathRequest{TableType: api.TableType_GLOBAL, Family: path.Family, Path: path})
		}
		if err != nil {
			keep(fmt.Errorf("bgp: withdraw %s: %w", p, err))
			continue
		}
		delete(s.announced, p)
		s.log.Info("withdrawn", "prefix", p)
	}
	for p, gs := range want {
		if cur, ok := s.announced[p]; ok && cur == gs {
			continue
		}
		path, err := pathFor(p, gs)
		if err == nil {
			// Adding a path for an announced prefix replaces it, so the
			// switch to GRACEFUL_SHUTDOWN is one UPDATE, not a flap.
			_, err = s.srv.AddPath(ctx, &api.AddPathRequest{TableType: api.TableType_GLOBAL, Path: path})
		}
		if err != nil {
			keep(fmt.Errorf("bgp: announce %s: %w", p, err))
			continue
		}
		s.announced[p] = gs
		s.log.Info("announced", "prefix", p, "graceful_shutdown", gs)
	}
	return firstErr
}

// Drain re-announces every prefix with GRACEFUL_SHUTDOWN, waits the drain
// period so that the host's routers move traffic elsewhere, and then
// withdraws. It returns when the prefixes are withdrawn or ctx ends; in the
// latter case the node stays in the GRACEFUL_SHUTDOWN phase. The node stays
// drained until Undrain.
func (s *Service) Drain(ctx context.Context) error {
	s.mu.Lock()
	s.adminDrn = true
	err := s.beginDrainLocked()
	s.mu.Unlock()
	if err != nil {
		return err
	}
	return s.finishDrain(ctx)
}

func (s *Service) beginDrainLocked() error {
	if s.draining {
		return nil
	}
	s.draining = true
	s.log.Info("draining: announcing with GRACEFUL_SHUTDOWN", "period", s.opts.DrainPeriod)
	return s.reconcileLocked(s.ctxLocked())
}

func (s *Service) finishDrain(ctx context.Context) error {
	t := s.opts.Clock.NewTimer(s.opts.DrainPeriod)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return fmt.Errorf("bgp: drain: %w", ctx.Err())
	case <-t.C():
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.draining { // undrained meanwhile
		return nil
	}
	s.drained = true
	s.log.Info("drained: withdrawing all prefixes")
	return s.reconcileLocked(s.ctxLocked())
}

// Undrain ends a drain started by Drain or by node.state and announces the
// healthy prefixes again, without GRACEFUL_SHUTDOWN. While node.state is
// maintenance or drained, the config keeps the node drained and Undrain
// returns an error saying so.
func (s *Service) Undrain() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.adminDrn = false
	if st := s.cfg.Node.State; st == config.StateMaintenance || st == config.StateDrained {
		return fmt.Errorf("bgp: undrain: node.state is %s", st)
	}
	return s.undrainLocked()
}

func (s *Service) undrainLocked() error {
	if s.drainStop != nil {
		s.drainStop()
		s.drainStop = nil
	}
	if !s.draining && !s.drained {
		return nil
	}
	s.draining, s.drained = false, false
	s.log.Info("undrained")
	return s.reconcileLocked(s.ctxLocked())
}

// startStateDrainLocked drains in the background because node.state says
// so. The goroutine belongs to Run: it ends with Run's context.
func (s *Service) startStateDrainLocked() {
	if s.draining || s.srv == nil {
		return
	}
	if err := s.beginDrainLocked(); err != nil {
		s.log.Error("drain", "err", err)
	}
	ctx, cancel := context.WithCancel(s.ctxLocked())
	s.drainStop = cancel
	s.bg.Go(func() {
		defer cancel()
		if err := s.finishDrain(ctx); err != nil && ctx.Err() == nil {
			s.log.Error("drain", "err", err)
		}
	})
}
