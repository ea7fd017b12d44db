// Package supervisor runs the node's services as goroutines and keeps them
// running.
//
// The node's PID-1 program builds its services — dns, bgp, info, metrics,
// admin and update — and hands them, in dependency order, to a Supervisor.
// The supervisor starts them in that order, restarts any that fail or panic
// after a capped, jittered exponential backoff, and publishes each one's
// state and health for the info and admin endpoints and for the BGP health
// gate, which withdraws the anycast route when DNS is not healthy. At
// shutdown it stops the services in reverse order, giving each a bounded
// time, so that BGP withdraws the route before DNS stops answering.
//
// Because the supervisor runs in PID 1, where an unrecovered panic is a
// kernel panic, no panic from a service's Run, Name or Health escapes it.
//
// Time comes from an injected clock.Clock and logs go to an injected
// *slog.Logger; there is no package-level state.
package supervisor

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/goleudy/goleudy/services/clock"
)

// Supervisor runs a fixed list of services. Create one with New, run it
// with Run, and read its services' state with Status and Lookup from any
// goroutine.
type Supervisor struct {
	opts  Options // with defaults filled in
	clock clock.Clock
	log   *slog.Logger

	stopOnce sync.Once
	stopping chan struct{} // closed when shutdown begins
	done     chan struct{} // closed when Run returns

	randMu sync.Mutex // serialises calls of opts.Rand

	mu      sync.Mutex
	units   []*unit       // in start order
	changed chan struct{} // closed and replaced on every status change
	started bool          // Run has been called
	err     error         // Run's result; read only after done is closed
}

// New returns a Supervisor for services, which it will start in the order
// given and stop in reverse. It fails if a service is nil, or its name is
// empty or not unique.
func New(opts Options, services ...Service) (*Supervisor, error) {
	opts = opts.withDefaults()
	s := &Supervisor{
		opts:     opts,
		clock:    opts.Clock,
		log:      opts.Logger,
		stopping: make(chan struct{}),
		done:     make(chan struct{}),
		changed:  make(chan struct{}),
	}
	seen := make(map[string]bool)
	for i, svc := range services {
		u, err := s.newUnit(svc)
		if err != nil {
			return nil, fmt.Errorf("supervisor: service %d: %w", i, err)
		}
		if seen[u.name] {
			return nil, fmt.Errorf("supervisor: service %d: duplicate name %q: %w", i, u.name, ErrInvalidService)
		}
		seen[u.name] = true
		s.units = append(s.units, u)
	}
	return s, nil
}

// Run starts the services and supervises them until ctx is cancelled or
// Close is called, then stops them in reverse order and returns.
//
// Each service's context carries ctx's values but not its cancellation: the
// supervisor cancels services one at a time, so that shutdown order holds.
//
// Run returns nil after a clean shutdown, and an error matching
// ErrAbandoned that names the services that did not stop within
// StopTimeout. Those services' goroutines are left to finish on their own;
// Go cannot kill them, and the node is about to reboot or exit anyway.
// Run may be called only once.
func (s *Supervisor) Run(ctx context.Context) error {
	s.mu.Lock()
	if s.started {
		s.mu.Unlock()
		return ErrAlreadyStarted
	}
	s.started = true
	s.mu.Unlock()

	defer close(s.done)
	if s.isStopping() {
		s.markStopped(s.units)
		s.err = ErrClosed
		return s.err
	}

	s.log.Info("supervisor: starting", "services", len(s.units))
	started := s.startAll(ctx)
	select {
	case <-ctx.Done():
	case <-s.stopping:
	}
	s.beginStop()
	s.log.Info("supervisor: shutting down")
	s.err = s.stopAll(started)
	s.log.Info("supervisor: shutdown complete", "err", s.err)
	return s.err
}

// Close shuts the supervisor down as cancelling Run's context does, waits
// for Run to return, and returns Run's result. It is safe to call more than
// once and from several goroutines. If Run has not been called, Close only
// marks the supervisor closed and returns nil; a later Run returns ErrClosed.
//
// Close must not be called from a service's Run: it would wait for itself.
func (s *Supervisor) Close() error {
	s.mu.Lock()
	s.beginStop()
	started := s.started
	s.mu.Unlock()
	if !started {
		return nil
	}
	<-s.done
	return s.err
}

// beginStop starts the shutdown, which also ends every backoff wait at once.
func (s *Supervisor) beginStop() {
	s.stopOnce.Do(func() { close(s.stopping) })
}

func (s *Supervisor) isStopping() bool {
	select {
	case <-s.stopping:
		return true
	default:
		return false
	}
}

// startAll starts the services in order and returns those it started; it
// starts no more once shutdown has begun.
func (s *Supervisor) startAll(ctx context.Context) []*unit {
	// Services outlive Run's cancellation until stopAll reaches them.
	base := context.WithoutCancel(ctx)
	var started []*unit
	for i, u := range s.units {
		if ctx.Err() != nil || s.isStopping() {
			s.markStopped(s.units[i:])
			break
		}
		u.start(base)
		started = append(started, u)
	}
	return started
}

// stopAll stops the started services in reverse order, one at a time, and
// reports any that had to be abandoned.
func (s *Supervisor) stopAll(started []*unit) error {
	var abandoned []string
	for i := len(started) - 1; i >= 0; i-- {
		u := started[i]
		if !s.stop(u) {
			abandoned = append(abandoned, fmt.Sprintf("%q", u.name))
		}
	}
	if len(abandoned) == 0 {
		return nil
	}
	return fmt.Errorf("supervisor: %w after %v: %s", ErrAbandoned, s.opts.StopTimeout, strings.Join(abandoned, ", "))
}

// stop cancels u and waits up to StopTimeout for its goroutine to end,
// reporting whether it did.
func (s *Supervisor) stop(u *unit) bool {
	u.log.Info("supervisor: stopping service")
	u.cancel()
	select {
	case <-u.done:
		return true
	default:
	}
	t := s.clock.NewTimer(s.opts.StopTimeout)
	defer t.Stop()
	select {
	case <-u.done:
		return true
	case <-t.C():
		u.log.Error("supervisor: service did not stop in time; abandoning it", "timeout", s.opts.StopTimeout)
		return false
	}
}

// nextDelay returns the backoff before restart attempt n.
func (s *Supervisor) nextDelay(n int) time.Duration {
	return s.opts.Backoff.Delay(n, s.jitter())
}

// jitter draws from the jitter source, one caller at a time. The source is
// caller code, so a panic in it must not reach PID 1.
func (s *Supervisor) jitter() (r float64) {
	s.randMu.Lock()
	defer s.randMu.Unlock()
	defer func() {
		if v := recover(); v != nil {
			s.log.Error("supervisor: jitter source panicked; not jittering", "panic", v)
			r = 0.5
		}
	}()
	return s.opts.Rand()
}
