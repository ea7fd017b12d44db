package supervisor_test

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/goleudy/goleudy/services/clock/clocktest"
	"github.com/goleudy/goleudy/services/supervisor"
)

var epoch = time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)

// failsafe bounds every wait in a test, so that a bug fails the test rather
// than hanging it. Nothing waits on it in a passing run.
const failsafe = 20 * time.Second

// harness runs a Supervisor on a fake clock with recorded logs.
type harness struct {
	t    *testing.T
	ctx  context.Context // ends at the failsafe; for waits only
	clk  *clocktest.Fake
	logs *logRecorder
	sup  *supervisor.Supervisor

	cancel context.CancelFunc // cancels Run's context
	done   chan struct{}      // closed when Run has returned
	err    error              // Run's result, once done is closed
}

// newHarness builds a Supervisor with a fake clock, a log recorder and, if
// opts has none, a jitter source that gives no jitter.
func newHarness(t *testing.T, opts supervisor.Options, services ...supervisor.Service) *harness {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), failsafe)
	t.Cleanup(cancel)
	h := &harness{
		t:    t,
		ctx:  ctx,
		clk:  clocktest.NewFake(epoch),
		logs: newLogRecorder(),
	}
	opts.Clock = h.clk
	opts.Logger = slog.New(h.logs)
	if opts.Rand == nil {
		opts.Rand = func() float64 { return 0.5 }
	}
	sup, err := supervisor.New(opts, services...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	h.sup = sup
	return h
}

// start calls Run in a goroutine with a context derived from parent. The
// test's cleanup cancels it and waits for Run to return.
func (h *harness) start(parent context.Context) {
	runCtx, cancel := context.WithCancel(parent)
	h.cancel = cancel
	h.done = make(chan struct{})
	go func() {
		defer close(h.done)
		h.err = h.sup.Run(runCtx)
	}()
	h.t.Cleanup(func() {
		cancel()
		select {
		case <-h.done:
		case <-time.After(failsafe):
			h.t.Errorf("Run did not return at cleanup")
		}
	})
}

// stop cancels Run's context and returns Run's result.
func (h *harness) stop() error {
	h.t.Helper()
	h.cancel()
	return h.wait()
}

// wait returns Run's result once it has returned.
func (h *harness) wait() error {
	h.t.Helper()
	select {
	case <-h.done:
		return h.err
	case <-h.ctx.Done():
		h.t.Fatalf("Run did not return: %v", h.ctx.Err())
		return nil
	}
}

// returned reports whether Run has returned, without waiting.
func (h *harness) returned() bool {
	select {
	case <-h.done:
		return true
	default:
		return false
	}
}

// blockUntil waits until at least n timers are armed on the fake clock.
func (h *harness) blockUntil(n int) {
	h.t.Helper()
	if err := h.clk.BlockUntil(h.ctx, n); err != nil {
		h.t.Fatal(err)
	}
}

// waitFor waits until the named service's status satisfies ok, using
// Changed so that it never polls or sleeps.
func (h *harness) waitFor(name, what string, ok func(supervisor.ServiceStatus) bool) supervisor.ServiceStatus {
	h.t.Helper()
	for {
		changed := h.sup.Changed()
		st, found := h.sup.Lookup(name)
		if !found {
			h.t.Fatalf("Lookup(%q): not found", name)
		}
		if ok(st) {
			return st
		}
		select {
		case <-changed:
		case <-h.ctx.Done():
			h.t.Fatalf("service %q: waiting for %s; last status %+v", name, what, st)
		}
	}
}

// waitState waits until the named service is in state want.
func (h *harness) waitState(name string, want supervisor.State) supervisor.ServiceStatus {
	h.t.Helper()
	return h.waitFor(name, want.String(), func(st supervisor.ServiceStatus) bool {
		return st.State == want
	})
}

// lookup returns the named service's status.
func (h *harness) lookup(name string) supervisor.ServiceStatus {
	h.t.Helper()
	st, ok := h.sup.Lookup(name)
	if !ok {
		h.t.Fatalf("Lookup(%q): not found", name)
	}
	return st
}
