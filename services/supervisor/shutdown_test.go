package supervisor_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/goleudy/goleudy/services/supervisor"
)

// exitLog records the order in which services' Run return.
type exitLog struct {
	mu    sync.Mutex
	names []string
}

func (l *exitLog) record(name string) {
	l.mu.Lock()
	l.names = append(l.names, name)
	l.mu.Unlock()
}

func (l *exitLog) get() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.names)
}

func TestShutdownStopsInReverseOrderOneAtATime(t *testing.T) {
	names := []string{"dns", "bgp", "info", "metrics", "admin", "update"}
	var exits exitLog
	calls := make(map[string]*call)
	var mu sync.Mutex
	var violations []string
	var svcs []*scripted
	var list []supervisor.Service
	for i, n := range names {
		s := newScripted(n)
		// When a service returns, every service before it in start
		// order must not have been told to stop yet.
		earlier := names[:i]
		s.onExit = func(name string) {
			mu.Lock()
			defer mu.Unlock()
			for _, e := range earlier {
				if calls[e].ctx.Err() != nil {
					violations = append(violations, name+" returned after "+e+" was cancelled")
				}
			}
			exits.record(name)
		}
		svcs = append(svcs, s)
		list = append(list, s)
	}
	h := newHarness(t, supervisor.Options{}, list...)
	h.start(context.Background())
	for _, s := range svcs {
		calls[s.name] = s.next(t, h.ctx)
	}

	if err := h.stop(); err != nil {
		t.Fatalf("Run = %v, want nil", err)
	}
	want := slices.Clone(names)
	slices.Reverse(want)
	if got := exits.get(); !slices.Equal(got, want) {
		t.Errorf("stop order %v, want %v", got, want)
	}
	if len(violations) > 0 {
		t.Errorf("not one at a time: %v", violations)
	}
	for _, st := range h.sup.Status() {
		if st.State != supervisor.Stopped || st.LastError != nil {
			t.Errorf("%s: state %v, LastError %v; want stopped, nil (cancellation is not a failure)", st.Name, st.State, st.LastError)
		}
	}
}

func TestShutdownAbandonsServiceThatIgnoresCancellation(t *testing.T) {
	const timeout = 3 * time.Second
	first := newScripted("dns")
	var exits exitLog
	first.onExit = exits.record
	stuck := newStubborn("bgp")
	h := newHarness(t, supervisor.Options{StopTimeout: timeout}, first, stuck)
	h.start(context.Background())
	firstCall := first.next(t, h.ctx)
	h.waitState("bgp", supervisor.Running)

	h.cancel()
	h.blockUntil(1) // the stop timeout for bgp
	h.clk.Advance(timeout - 1)
	if h.clk.Pending() != 1 || h.returned() || firstCall.ctx.Err() != nil {
		t.Fatal("gave up on bgp before StopTimeout, or stopped dns while still waiting for bgp")
	}
	h.clk.Advance(1)

	err := h.wait()
	if !errors.Is(err, supervisor.ErrAbandoned) || !strings.Contains(err.Error(), `"bgp"`) || strings.Contains(err.Error(), `"dns"`) {
		t.Errorf("Run = %v, want ErrAbandoned naming only bgp", err)
	}
	if got := exits.get(); !slices.Equal(got, []string{"dns"}) {
		t.Errorf("exits %v: dns was not stopped after bgp was abandoned", got)
	}
	logs := h.logs.find("supervisor: service did not stop in time; abandoning it")
	if len(logs) != 1 || logs[0].Attrs["service"] != "bgp" || logs[0].Attrs["timeout"] != timeout {
		t.Errorf("abandon logs %v, want one for bgp with timeout=%v", logs, timeout)
	}
	if st := h.lookup("bgp"); st.State != supervisor.Running {
		t.Errorf("abandoned bgp state %v, want running (its Run has not returned)", st.State)
	}

	// Once the abandoned service does return, it is not restarted, and
	// its goroutine ends.
	close(stuck.release)
	h.waitState("bgp", supervisor.Stopped)
	if err := h.sup.Close(); !errors.Is(err, supervisor.ErrAbandoned) {
		t.Errorf("Close after Run = %v, want Run's result", err)
	}
}

func TestShutdownInterruptsBackoff(t *testing.T) {
	for _, how := range []string{"cancel", "close"} {
		t.Run(how, func(t *testing.T) {
			svc := newScripted("dns")
			h := newHarness(t, supervisor.Options{}, svc)
			h.start(context.Background())
			boom := errors.New("boom")
			svc.next(t, h.ctx).fail(boom)
			h.blockUntil(1)
			h.waitState("dns", supervisor.BackingOff)

			// The clock does not move: the 500ms wait must end by itself.
			var err error
			if how == "cancel" {
				err = h.stop()
			} else {
				err = h.sup.Close()
			}
			if err != nil {
				t.Fatalf("shutdown by %s = %v, want nil", how, err)
			}
			st := h.lookup("dns")
			if st.State != supervisor.Stopped || st.Restarts != 0 || !errors.Is(st.LastError, boom) {
				t.Errorf("status %+v, want stopped, 0 restarts, last error boom", st)
			}
			svc.noCall(t)
			if len(h.logs.find("supervisor: shutdown during backoff; not restarting")) != 1 {
				t.Error("interrupted backoff not logged")
			}
		})
	}
}

func TestShutdownRecordsErrorReturnedOnStop(t *testing.T) {
	// A service that returns a real error when told to stop is stopped,
	// not restarted, and the error is kept for diagnosis.
	flushErr := errors.New("flush state: disk full")
	svc := funcService{name: "update", run: func(ctx context.Context) error {
		<-ctx.Done()
		return flushErr
	}}
	h := newHarness(t, supervisor.Options{}, svc)
	h.start(context.Background())
	h.waitState("update", supervisor.Running)
	if err := h.stop(); err != nil {
		t.Fatalf("Run = %v, want nil", err)
	}
	st := h.lookup("update")
	if st.State != supervisor.Stopped || st.Restarts != 0 || !errors.Is(st.LastError, flushErr) {
		t.Errorf("status %+v, want stopped, no restarts, LastError %v", st, flushErr)
	}
	if logs := h.logs.find("supervisor: service stopped with error"); len(logs) != 1 {
		t.Errorf("got %d stopped-with-error logs, want 1", len(logs))
	}
}

func TestCloseIsIdempotentAndConcurrent(t *testing.T) {
	svc := newScripted("admin")
	h := newHarness(t, supervisor.Options{}, svc)
	h.start(context.Background())
	svc.next(t, h.ctx)

	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Go(func() { errs[i] = h.sup.Close() })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("Close #%d = %v, want nil", i, err)
		}
	}
	if err := h.wait(); err != nil {
		t.Errorf("Run = %v, want nil", err)
	}
	if err := h.sup.Close(); err != nil {
		t.Errorf("Close after shutdown = %v, want nil", err)
	}
}

func TestCloseBeforeRun(t *testing.T) {
	svc := newScripted("dns")
	h := newHarness(t, supervisor.Options{}, svc)
	if err := h.sup.Close(); err != nil {
		t.Fatalf("Close before Run = %v, want nil", err)
	}
	h.start(context.Background())
	if err := h.wait(); !errors.Is(err, supervisor.ErrClosed) {
		t.Errorf("Run after Close = %v, want ErrClosed", err)
	}
	svc.noCall(t)
	if st := h.lookup("dns"); st.State != supervisor.Stopped {
		t.Errorf("state %v, want stopped", st.State)
	}
}

func TestRunWithCancelledContextStartsNothing(t *testing.T) {
	svc := newScripted("dns")
	h := newHarness(t, supervisor.Options{}, svc)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	h.start(ctx)
	if err := h.wait(); err != nil {
		t.Errorf("Run = %v, want nil", err)
	}
	svc.noCall(t)
	if st := h.lookup("dns"); st.State != supervisor.Stopped {
		t.Errorf("state %v, want stopped", st.State)
	}
}

// TestRunReturnsAfterCancelWithoutLeaks checks, for one supervisor in
// every state at once, that cancelling Run ends all its goroutines.
func TestRunReturnsAfterCancelWithoutLeaks(t *testing.T) {
	defer goleak.VerifyNone(t)

	running := newScripted("dns")
	failing := newScripted("bgp")
	finished := newScripted("info")
	h := newHarness(t, supervisor.Options{}, running, failing, finished)
	h.start(context.Background())
	running.next(t, h.ctx)
	failing.next(t, h.ctx).fail(errors.New("boom"))
	finished.next(t, h.ctx).finish()
	h.waitState("bgp", supervisor.BackingOff)
	h.waitState("info", supervisor.Stopped)

	if err := h.stop(); err != nil {
		t.Errorf("Run = %v, want nil", err)
	}
}
