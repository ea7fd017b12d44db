package health

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/goleudy/goleudy/provision/config"
	"github.com/goleudy/goleudy/services/clock"
)

// Defaults for Options. See the package doc for the timing they give.
const (
	DefaultInterval = 250 * time.Millisecond
	DefaultTimeout  = 300 * time.Millisecond
	DefaultRise     = 3
	DefaultFall     = 2
)

// Options configure a Service. Zero fields take the defaults.
type Options struct {
	// Clock schedules the probe rounds. Default clock.Real(). The probe
	// timeout is real time regardless, because it bounds a real socket.
	Clock clock.Clock
	// Log receives transitions and config problems. Default: discarded.
	Log *slog.Logger
	// Interval is the time from the start of one round to the start of
	// the next; a round that takes longer is followed at once.
	Interval time.Duration
	// Timeout bounds each query.
	Timeout time.Duration
	// Rise is how many consecutive successful rounds make a prefix
	// healthy; Fall how many failed ones make it unhealthy.
	Rise, Fall int
	// Zone, if set, is the zone whose SOA is asked for instead of the
	// first configured zone.
	Zone string
	// Probe asks one target. Default ProbeDNS.
	Probe ProbeFunc
	// OnChange is called when a prefix becomes healthy or unhealthy, in
	// order, one call at a time, from the probing goroutine (or from
	// Apply, for a removed prefix that was healthy). Prefixes start
	// unhealthy without a call. It may call Status and Health, but not
	// Apply, and it should return quickly: the next round waits for it.
	OnChange func(prefix netip.Prefix, healthy bool)
}

func (o Options) withDefaults() Options {
	if o.Clock == nil {
		o.Clock = clock.Real()
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Interval <= 0 {
		o.Interval = DefaultInterval
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.Rise <= 0 {
		o.Rise = DefaultRise
	}
	if o.Fall <= 0 {
		o.Fall = DefaultFall
	}
	if o.Probe == nil {
		o.Probe = ProbeDNS
	}
	if o.OnChange == nil {
		o.OnChange = func(netip.Prefix, bool) {}
	}
	return o
}

// FailureBound is the longest time from the local DNS server going silent
// to the prefix turning unhealthy: the wait for the next round after the
// last good answer, then Fall rounds that each wait out the timeout
// (rounds start every max(Interval, Timeout) while they time out).
// Failures that are answered at once (refused, SERVFAIL) are detected
// within Fall × Interval.
func (o Options) FailureBound() time.Duration {
	o = o.withDefaults()
	return o.Interval + time.Duration(o.Fall-1)*max(o.Interval, o.Timeout) + o.Timeout
}

// Service is the health gate, run by the supervisor as "health".
type Service struct {
	opts Options

	// notify serialises state changes with their OnChange calls, so that
	// callbacks arrive in the order the changes happened. Taken before mu.
	notify sync.Mutex

	mu       sync.Mutex
	epoch    uint64 // bumped by Apply; results of older rounds are dropped
	query    Query
	order    []netip.Prefix
	prefixes map[netip.Prefix]*prefixState
}

// prefixState is the verdict on one prefix.
type prefixState struct {
	targets    []netip.AddrPort
	healthy    bool
	successes  int // consecutive successful rounds
	failures   int // consecutive failed rounds
	lastErr    error
	lastChange time.Time
	lastProbe  time.Time
}

// change is a transition to report through OnChange.
type change struct {
	prefix  netip.Prefix
	healthy bool
}

// New returns the gate for cfg. Every prefix starts unhealthy.
func New(cfg *config.Config, opts Options) (*Service, error) {
	s := &Service{opts: opts.withDefaults(), prefixes: make(map[netip.Prefix]*prefixState)}
	if err := s.Apply(cfg); err != nil {
		return nil, err
	}
	return s, nil
}

// Name implements supervisor.Service.
func (s *Service) Name() string { return "health" }

// Apply takes a new config live. Prefixes that stay keep their verdict and
// counts, so a config push does not make routes flap; their new targets
// and question are checked from the next round, and a broken change
// withdraws them after Fall rounds as any failure would. New prefixes
// start unhealthy. A removed prefix that was healthy is reported
// unhealthy through OnChange, so that the caller's view of the healthy
// set stays whole. On error nothing changes.
func (s *Service) Apply(cfg *config.Config) error {
	p, err := planFor(cfg, s.opts.Zone)
	if err != nil {
		return err
	}
	s.notify.Lock()
	defer s.notify.Unlock()
	s.mu.Lock()
	now := s.opts.Clock.Now()
	var changes []change
	for _, pfx := range s.order {
		if _, keep := p.targets[pfx]; !keep {
			if s.prefixes[pfx].healthy {
				changes = append(changes, change{pfx, false})
			}
			delete(s.prefixes, pfx)
		}
	}
	for _, pfx := range p.prefixes {
		st := s.prefixes[pfx]
		if st == nil {
			st = &prefixState{lastChange: now}
			s.prefixes[pfx] = st
		}
		st.targets = p.targets[pfx]
		if len(st.targets) == 0 {
			s.opts.Log.Warn("health: no DNS service address inside the prefix; it will not be announced", "prefix", pfx)
		}
	}
	s.order = p.prefixes
	s.query = p.query
	s.epoch++
	s.mu.Unlock()
	s.report(changes)
	return nil
}

// Run probes every Interval until ctx ends. When it returns, every prefix
// is unhealthy.
func (s *Service) Run(ctx context.Context) error {
	defer s.stop()
	clk := s.opts.Clock
	var t clock.Timer // armed only after the first round, so that a fake clock's BlockUntil means "round done"
	defer func() {
		if t != nil {
			t.Stop()
		}
	}()
	for {
		start := clk.Now()
		s.round(ctx)
		if wait := s.opts.Interval - clk.Since(start); t == nil {
			t = clk.NewTimer(wait)
		} else {
			t.Reset(wait)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C():
		}
	}
}

// round probes every target once, concurrently, and records the results.
func (s *Service) round(ctx context.Context) {
	s.mu.Lock()
	epoch, q := s.epoch, s.query
	var targets []netip.AddrPort
	for _, st := range s.prefixes {
		targets = append(targets, st.targets...)
	}
	s.mu.Unlock()
	slices.SortFunc(targets, netip.AddrPort.Compare)
	targets = slices.Compact(targets)

	results := make([]error, len(targets))
	var wg sync.WaitGroup
	for i, tg := range targets {
		wg.Go(func() {
			pctx, cancel := context.WithTimeout(ctx, s.opts.Timeout)
			defer cancel()
			results[i] = s.opts.Probe(pctx, tg, q)
		})
	}
	wg.Wait()
	if ctx.Err() != nil {
		return // cut short by shutdown: not the server's fault
	}
	byTarget := make(map[netip.AddrPort]error, len(targets))
	for i, tg := range targets {
		byTarget[tg] = results[i]
	}
	s.record(epoch, byTarget)
}

// record counts one round for every prefix, unless Apply ran meanwhile.
func (s *Service) record(epoch uint64, results map[netip.AddrPort]error) {
	s.notify.Lock()
	defer s.notify.Unlock()
	s.mu.Lock()
	if epoch != s.epoch {
		s.mu.Unlock()
		return
	}
	now := s.opts.Clock.Now()
	var changes []change
	for _, pfx := range s.order {
		st := s.prefixes[pfx]
		st.lastProbe = now
		if err := verdict(st.targets, results); err != nil {
			st.lastErr = err
			st.successes, st.failures = 0, st.failures+1
			if st.healthy && st.failures >= s.opts.Fall {
				st.healthy, st.lastChange = false, now
				changes = append(changes, change{pfx, false})
				s.opts.Log.Warn("health: prefix unhealthy, withdrawing", "prefix", pfx, "err", err)
			}
			continue
		}
		st.successes, st.failures = st.successes+1, 0
		if !st.healthy && st.successes >= s.opts.Rise {
			st.healthy, st.lastChange = true, now
			changes = append(changes, change{pfx, true})
			s.opts.Log.Info("health: prefix healthy, announcing", "prefix", pfx)
		}
	}
	s.mu.Unlock()
	s.report(changes)
}

// verdict is nil if any target answered correctly, else why none did.
func verdict(targets []netip.AddrPort, results map[netip.AddrPort]error) error {
	if len(targets) == 0 {
		return ErrNoTargets
	}
	var errs []error
	for _, tg := range targets {
		err := results[tg]
		if err == nil {
			return nil
		}
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// stop fails the gate closed when Run returns.
func (s *Service) stop() {
	s.notify.Lock()
	defer s.notify.Unlock()
	s.mu.Lock()
	now := s.opts.Clock.Now()
	var changes []change
	for _, pfx := range s.order {
		st := s.prefixes[pfx]
		if st.healthy {
			st.healthy, st.lastChange = false, now
			changes = append(changes, change{pfx, false})
		}
		st.successes, st.failures, st.lastErr = 0, 0, ErrStopped
	}
	s.mu.Unlock()
	s.report(changes)
}

// report calls OnChange for each change. s.notify must be held.
func (s *Service) report(changes []change) {
	for _, c := range changes {
		s.opts.OnChange(c.prefix, c.healthy)
	}
}

// Health implements supervisor.HealthChecker: nil if every prefix is
// healthy (so also when there are none), else an error matching
// ErrUnhealthy that names the unhealthy prefixes.
func (s *Service) Health() error {
	var bad []string
	for _, st := range s.Status() {
		if !st.Healthy {
			bad = append(bad, fmt.Sprintf("%s (%v)", st.Prefix, st.LastError))
		}
	}
	if len(bad) == 0 {
		return nil
	}
	return fmt.Errorf("health: %w: %v", ErrUnhealthy, bad)
}
