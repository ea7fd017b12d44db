package supervisor_test

import (
	"context"
	"errors"
	"runtime"
	"testing"
	"time"

	"github.com/goleudy/goleudy/services/supervisor"
)

// nilPointer is a Service whose Name dereferences its receiver, to show New
// rejects a typed nil without panicking.
type nilPointer struct{ name string }

func (n *nilPointer) Name() string              { return n.name }
func (n *nilPointer) Run(context.Context) error { return nil }

func TestNewRejectsInvalidServices(t *testing.T) {
	tests := []struct {
		name     string
		services []supervisor.Service
	}{
		{"nil", []supervisor.Service{nil}},
		{"empty name", []supervisor.Service{newScripted("")}},
		{"duplicate", []supervisor.Service{newScripted("dns"), newScripted("bgp"), newScripted("dns")}},
		{"Name panics", []supervisor.Service{(*nilPointer)(nil)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := supervisor.New(supervisor.Options{}, tt.services...)
			if !errors.Is(err, supervisor.ErrInvalidService) || s != nil {
				t.Errorf("New = %v, %v; want nil, ErrInvalidService", s, err)
			}
		})
	}
}

func TestZeroOptionsAndNoServices(t *testing.T) {
	// Real clock, discarded logs: nothing here waits on time.
	s, err := supervisor.New(supervisor.Options{})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Run(context.Background()) }()
	if err := s.Close(); err != nil {
		t.Errorf("Close = %v, want nil", err)
	}
	if err := <-done; err != nil && !errors.Is(err, supervisor.ErrClosed) {
		t.Errorf("Run = %v, want nil or ErrClosed", err)
	}
	if got := s.Status(); len(got) != 0 {
		t.Errorf("Status = %v, want empty", got)
	}
}

func TestRunTwice(t *testing.T) {
	svc := newScripted("dns")
	h := newHarness(t, supervisor.Options{}, svc)
	h.start(context.Background())
	svc.next(t, h.ctx)
	if err := h.sup.Run(context.Background()); !errors.Is(err, supervisor.ErrAlreadyStarted) {
		t.Errorf("second Run = %v, want ErrAlreadyStarted", err)
	}
	if err := h.stop(); err != nil {
		t.Errorf("Run = %v, want nil", err)
	}
}

func TestNilReturnStopsWithoutRestart(t *testing.T) {
	oneShot := newScripted("provision")
	other := newScripted("dns")
	h := newHarness(t, supervisor.Options{}, oneShot, other)
	h.start(context.Background())
	other.next(t, h.ctx)

	oneShot.next(t, h.ctx).finish()
	st := h.waitState("provision", supervisor.Stopped)
	if st.Restarts != 0 || st.LastError != nil {
		t.Errorf("status %+v, want no restarts and no error", st)
	}
	if n := h.clk.Pending(); n != 0 {
		t.Errorf("%d timers armed, want none: a finished service has no backoff", n)
	}
	h.clk.Advance(time.Hour)
	oneShot.noCall(t)
	if len(h.logs.find("supervisor: service finished; not restarting")) != 1 {
		t.Error("finish not logged")
	}
	if st := h.lookup("dns"); st.State != supervisor.Running {
		t.Errorf("other service %v, want running: one finishing does not stop the rest", st.State)
	}
	if h.returned() {
		t.Error("Run returned when one service finished; it must wait for shutdown")
	}
	if err := h.stop(); err != nil {
		t.Errorf("Run = %v, want nil", err)
	}
}

type ctxKey struct{}

func TestServiceContextCarriesRunValues(t *testing.T) {
	svc := newScripted("dns")
	h := newHarness(t, supervisor.Options{}, svc)
	h.start(context.WithValue(context.Background(), ctxKey{}, "node-7"))
	c := svc.next(t, h.ctx)
	if got := c.ctx.Value(ctxKey{}); got != "node-7" {
		t.Errorf("service ctx value = %v, want node-7", got)
	}
	if err := h.stop(); err != nil {
		t.Errorf("Run = %v, want nil", err)
	}
}

func TestGoexitInRunIsContained(t *testing.T) {
	svc := funcService{name: "info", run: func(context.Context) error {
		runtime.Goexit()
		return nil
	}}
	h := newHarness(t, supervisor.Options{}, svc)
	h.start(context.Background())
	st := h.waitState("info", supervisor.Stopped)
	if st.LastError == nil {
		t.Error("LastError = nil, want the Goexit recorded")
	}
	if err := h.stop(); err != nil {
		t.Errorf("Run = %v, want nil", err)
	}
}
