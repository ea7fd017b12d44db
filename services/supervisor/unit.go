package supervisor

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"time"
)

// errGoexit records a service whose Run called runtime.Goexit, which ends
// the goroutine with no return value and no panic to recover.
var errGoexit = errors.New("supervisor: service called runtime.Goexit")

// unit is one supervised service and the goroutine that runs it.
type unit struct {
	s    *Supervisor
	svc  Service
	name string
	log  *slog.Logger // carries service=<name>

	// Set by start before the goroutine exists, then read only by the
	// goroutine that called start.
	cancel context.CancelFunc
	done   chan struct{} // closed when the goroutine returns

	// Guarded by s.mu; whoever changes them calls s.notifyLocked.
	state       State
	since       time.Time
	restarts    int
	lastErr     error
	nextRestart time.Time
}

func (s *Supervisor) newUnit(svc Service) (*unit, error) {
	if svc == nil {
		return nil, fmt.Errorf("nil: %w", ErrInvalidService)
	}
	name, err := serviceName(svc)
	if err != nil {
		return nil, err
	}
	if name == "" {
		return nil, fmt.Errorf("%T has an empty name: %w", svc, ErrInvalidService)
	}
	return &unit{
		s:     s,
		svc:   svc,
		name:  name,
		log:   s.log.With("service", name),
		state: Starting,
		since: s.clock.Now(),
	}, nil
}

// serviceName calls svc.Name, which may be a method on a nil pointer.
func serviceName(svc Service) (name string, err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("%T.Name panicked: %v: %w", svc, v, ErrInvalidService)
		}
	}()
	return svc.Name(), nil
}

// start launches the goroutine that runs u until it stops for good. The
// goroutine's owner is the Supervisor: stopAll cancels it and waits on done.
func (u *unit) start(base context.Context) {
	ctx, cancel := context.WithCancel(base)
	u.cancel = cancel
	u.done = make(chan struct{})
	go u.supervise(ctx)
}

// supervise calls Run, and again after each failure, until the service
// finishes or is stopped.
func (u *unit) supervise(ctx context.Context) {
	defer close(u.done)
	returned := false
	defer func() {
		if !returned {
			u.log.Error("supervisor: service called runtime.Goexit; not restarting")
			u.set(Stopped, errGoexit, time.Time{})
		}
	}()

	failures := 0 // consecutive, reset by a stable run
	for {
		u.set(Running, nil, time.Time{})
		began := u.s.clock.Now()
		err := u.run(ctx)
		ran := u.s.clock.Since(began)

		if ctx.Err() != nil || u.s.isStopping() {
			u.stopped(ctx, err)
			returned = true
			return
		}
		if err == nil {
			u.log.Info("supervisor: service finished; not restarting", "ran", ran)
			u.set(Stopped, nil, time.Time{})
			returned = true
			return
		}

		if u.s.opts.StableAfter > 0 && ran >= u.s.opts.StableAfter {
			failures = 0
		}
		failures++
		delay := u.s.nextDelay(failures)
		u.log.Warn("supervisor: service failed; restarting after backoff",
			"attempt", failures, "err", err, "delay", delay, "ran", ran)
		u.set(BackingOff, err, u.s.clock.Now().Add(delay))
		if !u.backoff(ctx, delay) {
			u.log.Info("supervisor: shutdown during backoff; not restarting")
			u.set(Stopped, nil, time.Time{})
			returned = true
			return
		}
		u.restarted()
	}
}

// run calls the service's Run, turning a panic into a *PanicError.
func (u *unit) run(ctx context.Context) (err error) {
	defer func() {
		if v := recover(); v != nil {
			stack := debug.Stack()
			u.log.Error("supervisor: service panicked", "panic", v, "stack", string(stack))
			err = &PanicError{Service: u.name, Value: v, Stack: stack}
		}
	}()
	return u.svc.Run(ctx)
}

// stopped records a service that returned after being told to stop. Its
// context's own cancellation is the expected result, not a failure.
func (u *unit) stopped(ctx context.Context, err error) {
	if err != nil && !(ctx.Err() != nil && errors.Is(err, context.Canceled)) {
		u.log.Warn("supervisor: service stopped with error", "err", err)
		u.set(Stopped, err, time.Time{})
		return
	}
	u.log.Info("supervisor: service stopped")
	u.set(Stopped, nil, time.Time{})
}

// backoff waits for delay, reporting false if shutdown interrupted it.
func (u *unit) backoff(ctx context.Context, delay time.Duration) bool {
	t := u.s.clock.NewTimer(delay)
	defer t.Stop()
	select {
	case <-t.C():
		// The timer may have fired just as shutdown began.
		return ctx.Err() == nil && !u.s.isStopping()
	case <-ctx.Done():
		return false
	case <-u.s.stopping:
		return false
	}
}

// set moves u to state, recording err as the last error if it is not nil,
// and tells Changed watchers.
func (u *unit) set(state State, err error, nextRestart time.Time) {
	now := u.s.clock.Now()
	u.s.mu.Lock()
	defer u.s.mu.Unlock()
	u.state = state
	u.since = now
	u.nextRestart = nextRestart
	if err != nil {
		u.lastErr = err
	}
	u.s.notifyLocked()
}

// restarted records that the backoff is over and Run is about to be called
// again.
func (u *unit) restarted() {
	now := u.s.clock.Now()
	u.s.mu.Lock()
	defer u.s.mu.Unlock()
	u.restarts++
	u.state = Starting
	u.since = now
	u.nextRestart = time.Time{}
	u.s.notifyLocked()
}
