package timesync

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/goleudy/goleudy/services/clock"
)

// Defaults for Options.
const (
	// DefaultInterval is the time between syncs once synced. A board
	// without an RTC drifts a few seconds a day at worst.
	DefaultInterval = time.Hour
	// DefaultFloorEvery is how often a trusted clock raises the floor.
	DefaultFloorEvery = time.Hour
	// DefaultMinBackoff and DefaultMaxBackoff bound the wait after a
	// round in which no server answered.
	DefaultMinBackoff = 2 * time.Second
	DefaultMaxBackoff = 5 * time.Minute
	// DefaultStepThreshold is the offset beyond which a later sync steps
	// the clock again (the first sync always steps).
	DefaultStepThreshold = 500 * time.Millisecond
	// DenyHold is how long a server that sent kiss-o'-death DENY or RSTR
	// is left alone.
	DenyHold = 24 * time.Hour
)

// Options configure a Service. Zero fields take the defaults.
type Options struct {
	// Dir is the state directory holding clock.floor. Empty keeps the
	// floor in memory only.
	Dir string
	// Servers are NTP servers, host or host:port, tried in order: the
	// DHCP-provided ones, or a default list the caller chooses. With none,
	// the Service only keeps the floor.
	Servers []string
	// SetClock allows stepping the system clock, at boot to the floor and
	// at sync to the server's time. Only PID 1 sets it: a node run as an
	// ordinary process (tests, labs) must not touch the host's clock, and
	// instead corrects the time Trusted returns by the measured offset.
	SetClock bool
	// Setter steps the clock when SetClock is true. Default
	// SetSystemClock. Tests pass one that moves a fake clock.
	Setter func(time.Time) error
	// Epoch is a floor below which the floor never is, e.g. the time the
	// image was built: a node booting for the first time, before any sync,
	// then knows it is at least that late. Zero for none.
	Epoch time.Time
	// Clock is the system clock as the Service sees it. Default
	// clock.Real().
	Clock clock.Clock
	// Log receives syncs, steps and failures. Default: discarded.
	Log *slog.Logger
	// Interval, FloorEvery, MinBackoff, MaxBackoff, StepThreshold: see
	// the Default constants.
	Interval, FloorEvery   time.Duration
	MinBackoff, MaxBackoff time.Duration
	StepThreshold          time.Duration
	// Timeout bounds each query. Default DefaultTimeout. It is real time
	// whatever Clock is, because it bounds a real socket.
	Timeout time.Duration
}

func (o Options) withDefaults() Options {
	if o.Clock == nil {
		o.Clock = clock.Real()
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Setter == nil {
		o.Setter = SetSystemClock
	}
	defaults := []struct {
		v *time.Duration
		d time.Duration
	}{
		{&o.Interval, DefaultInterval},
		{&o.FloorEvery, DefaultFloorEvery},
		{&o.MinBackoff, DefaultMinBackoff},
		{&o.MaxBackoff, DefaultMaxBackoff},
		{&o.StepThreshold, DefaultStepThreshold},
		{&o.Timeout, DefaultTimeout},
	}
	for _, d := range defaults {
		if *d.v <= 0 {
			*d.v = d.d
		}
	}
	o.MaxBackoff = max(o.MaxBackoff, o.MinBackoff)
	return o
}

// Status is what the Service knows about the clock, for the NOC page and
// heartbeats.
type Status struct {
	// Synced is true once a server has answered since boot.
	Synced bool
	// Offset is the last measured offset (server minus local clock,
	// before any step it caused).
	Offset time.Duration
	// Server answered the last sync.
	Server string
	// LastSync is when, by the corrected clock.
	LastSync time.Time
	// Floor is the current clock floor; zero if none.
	Floor time.Time
	// SteppedToFloor is true if the clock was below the floor at boot and
	// was set to it.
	SteppedToFloor bool
	// LastError is the last failed sync round, cleared by a good one.
	LastError string
}

// Service keeps the clock synced and the floor up to date. It is a
// supervisor.Service named "timesync". Its methods are safe for concurrent
// use.
type Service struct {
	o     Options
	log   *slog.Logger
	floor *Floor
	// Set by New, then read only.
	boot      time.Time // clock reading after the boot step, for Since
	bootFloor time.Time // the floor then

	mu       sync.Mutex
	synced   bool
	offset   time.Duration
	adjust   time.Duration // measured offset not applied to the clock
	server   string
	lastSync time.Time
	stepped  bool
	lastErr  string
	denied   map[string]time.Time // kiss-o'-death DENY/RSTR, until
	changed  chan struct{}        // closed and replaced when trust may have changed
}

// New loads the floor and, at boot, brings a clock that is below it up to
// it (when o.SetClock). That clock is then trusted (see Trusted) but not
// synced. New fails only if the state directory cannot be made; a damaged
// floor file is logged and treated as no floor, and rewritten at the next
// sync.
func New(o Options) (*Service, error) {
	o = o.withDefaults()
	s := &Service{o: o, log: o.Log, denied: map[string]time.Time{}, changed: make(chan struct{})}
	file := ""
	if o.Dir != "" {
		if err := os.MkdirAll(o.Dir, 0o755); err != nil {
			return nil, fmt.Errorf("timesync: state directory: %w", err)
		}
		file = filepath.Join(o.Dir, FloorFile)
	}
	f, err := LoadFloor(file)
	if err != nil {
		s.log.Error("clock floor unreadable; ignoring it until the next sync", "err", err)
	}
	s.floor = f
	if !o.Epoch.IsZero() {
		if _, err := f.Raise(o.Epoch); err != nil {
			s.log.Error("cannot record the image's epoch as the clock floor", "err", err)
		}
	}
	s.applyFloor()
	s.boot, s.bootFloor = o.Clock.Now(), f.Time()
	return s, nil
}

// applyFloor sets a clock that is below the floor to the floor.
func (s *Service) applyFloor() {
	floor := s.floor.Time()
	now := s.o.Clock.Now()
	if floor.IsZero() || !now.Before(floor) {
		return
	}
	if !s.o.SetClock {
		s.log.Warn("clock is below the floor and may not be set; untrusted until synced",
			"clock", now.UTC().Format(time.RFC3339), "floor", floor.Format(time.RFC3339))
		return
	}
	if err := s.o.Setter(floor); err != nil {
		s.log.Error("clock is below the floor and setting it failed; untrusted until synced", "err", err)
		return
	}
	s.mu.Lock()
	s.stepped = true
	s.mu.Unlock()
	s.log.Warn("clock was below the floor; set to the floor, not synced",
		"was", now.UTC().Format(time.RFC3339), "floor", floor.Format(time.RFC3339))
}

// Name implements supervisor.Service.
func (s *Service) Name() string { return "timesync" }

// Trusted returns the current time and whether it may be used to check
// signature expiry.
//
// The time is the system clock, plus the last measured offset when the
// Service may not step the clock (Options.SetClock false).
//
// It is trusted when either
//   - a server has answered since boot (Status.Synced), or
//   - it is at or above the floor: a time this node has known to be true
//     (a past sync, the floor at boot plus the time the node has been up,
//     or Options.Epoch). New sets a clock that is below the floor to the
//     floor when it may, so after a power cut a board without an RTC is
//     trusted from boot.
//
// The second case is a lower bound only. Time went on while the node was
// off, so a trusted but unsynced clock can be behind: anything that
// expired before the floor is refused, but something that expired between
// the floor and now is not. That is the most a board without an RTC can
// know before it reaches a server, and it bounds how stale a replayed
// config can be to how long the node was off. A clock ahead of the truth
// only refuses things early, which fails safe.
func (s *Service) Trusted() (time.Time, bool) {
	s.mu.Lock()
	synced, adjust := s.synced, s.adjust
	s.mu.Unlock()
	now := s.o.Clock.Now().Add(adjust)
	if synced {
		return now, true
	}
	floor := s.floor.Time()
	return now, !floor.IsZero() && !now.Before(floor)
}

// Wait returns when Trusted is true, or with an error when ctx ends. It
// looks again every second too, in case something else sets the clock
// past the floor.
func (s *Service) Wait(ctx context.Context) error {
	for {
		s.mu.Lock()
		changed := s.changed
		s.mu.Unlock()
		if _, ok := s.Trusted(); ok {
			return nil
		}
		t := s.o.Clock.NewTimer(time.Second)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("timesync: waiting for a trusted clock: %w", ctx.Err())
		case <-changed:
		case <-t.C():
		}
		t.Stop()
	}
}

// Status returns what the Service knows.
func (s *Service) Status() Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	return Status{
		Synced:         s.synced,
		Offset:         s.offset,
		Server:         s.server,
		LastSync:       s.lastSync,
		Floor:          s.floor.Time(),
		SteppedToFloor: s.stepped,
		LastError:      s.lastErr,
	}
}

// Run syncs from the servers (at once, then every Interval, backing off
// while none answers) and raises the floor every FloorEvery while the
// clock is trusted, until ctx ends. It returns nil then.
func (s *Service) Run(ctx context.Context) error {
	if len(s.o.Servers) == 0 {
		s.log.Warn("no NTP servers; the clock is trusted only as far as the floor")
	}
	syncT := s.o.Clock.NewTimer(0)
	defer syncT.Stop()
	floorT := s.o.Clock.NewTimer(s.o.FloorEvery)
	defer floorT.Stop()
	defer s.raiseFloor()
	backoff := s.o.MinBackoff
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-floorT.C():
			s.raiseFloor()
			floorT.Reset(s.o.FloorEvery)
		case <-syncT.C():
			if len(s.o.Servers) == 0 {
				continue
			}
			err := s.syncRound(ctx)
			if ctx.Err() != nil {
				return nil
			}
			if err == nil {
				backoff = s.o.MinBackoff
				syncT.Reset(s.o.Interval)
				continue
			}
			s.mu.Lock()
			s.lastErr = err.Error()
			s.mu.Unlock()
			wait := jitter(backoff)
			s.log.Warn("no NTP server answered", "err", err, "retry_in", wait)
			syncT.Reset(wait)
			backoff = min(2*backoff, s.o.MaxBackoff)
		}
	}
}

// jitter spreads d by ±10%, so that a fleet that lost its servers at once
// does not come back to them at once.
func jitter(d time.Duration) time.Duration {
	return d - d/10 + rand.N(d/5+1)
}

// syncRound asks the servers in order until one answers.
func (s *Service) syncRound(ctx context.Context) error {
	var errs []error
	for _, server := range s.o.Servers {
		s.mu.Lock()
		until, denied := s.denied[server]
		s.mu.Unlock()
		if denied && s.o.Clock.Now().Before(until) {
			continue
		}
		qctx, cancel := context.WithTimeout(ctx, s.o.Timeout)
		r, err := query(qctx, server, s.o.Clock.Now)
		cancel()
		if err == nil {
			s.record(server, r)
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		var kiss *KissError
		if errors.As(err, &kiss) && kiss.Deny() {
			s.mu.Lock()
			s.denied[server] = s.o.Clock.Now().Add(DenyHold)
			s.mu.Unlock()
			s.log.Warn("NTP server refuses us; leaving it alone", "server", server, "code", kiss.Code, "for", DenyHold)
		}
		errs = append(errs, err)
	}
	if len(errs) == 0 {
		return errors.New("timesync: every server refused us (kiss-o'-death)")
	}
	return errors.Join(errs...)
}

// record records a good answer, steps the clock if it may, and raises
// the floor to the new time.
func (s *Service) record(server string, r Response) {
	s.mu.Lock()
	first := !s.synced
	s.mu.Unlock()
	adjust := r.Offset
	if s.o.SetClock && (first || r.Offset.Abs() > s.o.StepThreshold) {
		target := s.o.Clock.Now().Add(r.Offset)
		if err := s.o.Setter(target); err != nil {
			s.log.Error("cannot step the clock; correcting Trusted instead", "err", err)
		} else {
			adjust = 0
			s.log.Info("clock stepped", "server", server, "offset", r.Offset, "to", target.UTC().Format(time.RFC3339Nano))
		}
	}
	now := s.o.Clock.Now().Add(adjust)
	s.mu.Lock()
	s.synced = true
	s.offset = r.Offset
	s.adjust = adjust
	s.server = server
	s.lastSync = now
	s.lastErr = ""
	close(s.changed)
	s.changed = make(chan struct{})
	s.mu.Unlock()
	if first {
		s.log.Info("clock synced", "server", server, "offset", r.Offset, "rtt", r.RTT, "stratum", r.Stratum)
	} else {
		s.log.Debug("clock synced", "server", server, "offset", r.Offset, "rtt", r.RTT, "stratum", r.Stratum)
	}
	s.raiseFloor()
}

// raiseFloor moves the floor up to a time known to have passed. Once
// synced that is the clock. Before, it is the floor at boot plus the time
// elapsed since boot by the monotonic clock, never the wall clock: an
// unsynced clock may be ahead (a wrong RTC), and a floor in the future
// would be believed at every later boot.
func (s *Service) raiseFloor() {
	s.mu.Lock()
	synced := s.synced
	s.mu.Unlock()
	var t time.Time
	switch {
	case synced:
		t, _ = s.Trusted()
	case !s.bootFloor.IsZero():
		t = s.bootFloor.Add(s.o.Clock.Since(s.boot))
	default:
		return
	}
	if _, err := s.floor.Raise(t); err != nil {
		s.log.Error("cannot raise the clock floor", "err", err)
	}
}
