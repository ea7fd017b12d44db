package supervisor_test

import (
	"context"
	"errors"
	"io/fs"
	"strings"
	"testing"

	"github.com/goleudy/goleudy/services/supervisor"
)

func TestPanicIsRecoveredAndRestarted(t *testing.T) {
	tests := []struct {
		name    string
		value   any
		wantMsg string
		wantIs  error // also matched, besides ErrPanic
	}{
		{"string", "boom", `supervisor: service "dns" panicked: boom`, nil},
		{"error", fs.ErrClosed, `supervisor: service "dns" panicked: file already closed`, fs.ErrClosed},
		{"nil", nil, `supervisor: service "dns" panicked: panic called with nil argument`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			svc := newScripted("dns")
			other := newScripted("bgp")
			h := newHarness(t, supervisor.Options{}, svc, other)
			h.start(context.Background())
			otherCall := other.next(t, h.ctx)

			svc.next(t, h.ctx).panic(tt.value)
			h.blockUntil(1)
			st := h.waitState("dns", supervisor.BackingOff)

			err := st.LastError
			if !errors.Is(err, supervisor.ErrPanic) {
				t.Errorf("LastError = %v, want ErrPanic", err)
			}
			if tt.wantIs != nil && !errors.Is(err, tt.wantIs) {
				t.Errorf("LastError = %v, want it to match %v", err, tt.wantIs)
			}
			var pe *supervisor.PanicError
			if !errors.As(err, &pe) {
				t.Fatalf("LastError = %T, want *PanicError", err)
			}
			if got := pe.Error(); got != tt.wantMsg {
				t.Errorf("Error() = %q, want %q", got, tt.wantMsg)
			}
			if pe.Service != "dns" || !strings.Contains(string(pe.Stack), "(*call).panic") {
				t.Errorf("PanicError{Service: %q, Stack: ...} lacks the service or the panicking frame:\n%s", pe.Service, pe.Stack)
			}

			logs := h.logs.find("supervisor: service panicked")
			if len(logs) != 1 {
				t.Fatalf("got %d panic logs, want 1", len(logs))
			}
			if stack, _ := logs[0].Attrs["stack"].(string); logs[0].Attrs["service"] != "dns" ||
				!strings.Contains(stack, "(*call).panic") {
				t.Errorf("panic log %v lacks service=dns or the stack", logs[0].Attrs)
			}

			// The supervisor survived and restarts the service; the
			// other service was not disturbed.
			h.clk.Advance(500 * ms)
			svc.next(t, h.ctx)
			if st := h.waitState("dns", supervisor.Running); st.Restarts != 1 {
				t.Errorf("Restarts = %d, want 1", st.Restarts)
			}
			if otherCall.ctx.Err() != nil || h.lookup("bgp").State != supervisor.Running {
				t.Error("other service was disturbed by the panic")
			}
			if err := h.stop(); err != nil {
				t.Errorf("Run = %v, want nil", err)
			}
		})
	}
}

// panickingHealth panics in Health; Status must turn that into an error.
type panickingHealth struct{ *scripted }

func (panickingHealth) Health() error { panic("health") }

func TestPanickingHealthCheckIsAnError(t *testing.T) {
	svc := panickingHealth{newScripted("info")}
	h := newHarness(t, supervisor.Options{}, svc)
	h.start(context.Background())
	svc.next(t, h.ctx)
	st := h.waitState("info", supervisor.Running)
	if !errors.Is(st.Health, supervisor.ErrPanic) || st.Healthy() {
		t.Errorf("Health = %v, want ErrPanic", st.Health)
	}
	if err := h.stop(); err != nil {
		t.Errorf("Run = %v, want nil", err)
	}
}
