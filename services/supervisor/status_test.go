package supervisor_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/goleudy/goleudy/services/supervisor"
)

func TestStateString(t *testing.T) {
	for s, want := range map[supervisor.State]string{
		supervisor.Starting:   "starting",
		supervisor.Running:    "running",
		supervisor.BackingOff: "backing-off",
		supervisor.Stopped:    "stopped",
		supervisor.State(42):  "State(42)",
	} {
		if got := s.String(); got != want {
			t.Errorf("State(%d).String() = %q, want %q", int(s), got, want)
		}
	}
}

func TestStateTransitions(t *testing.T) {
	svc := newScripted("dns")
	h := newHarness(t, supervisor.Options{}, svc)

	check := func(step string, st supervisor.ServiceStatus, state supervisor.State, since time.Duration, restarts int) {
		t.Helper()
		if st.State != state || !st.Since.Equal(epoch.Add(since)) || st.Restarts != restarts {
			t.Errorf("%s: state %v since +%v restarts %d; want %v since +%v restarts %d",
				step, st.State, st.Since.Sub(epoch), st.Restarts, state, since, restarts)
		}
	}

	check("before Run", h.lookup("dns"), supervisor.Starting, 0, 0)

	h.start(context.Background())
	c := svc.next(t, h.ctx)
	check("first run", h.lookup("dns"), supervisor.Running, 0, 0)

	h.clk.Advance(10 * time.Second)
	boom := errors.New("boom")
	c.fail(boom)
	h.blockUntil(1)
	st := h.lookup("dns")
	check("failed", st, supervisor.BackingOff, 10*time.Second, 0)
	if !errors.Is(st.LastError, boom) || !st.NextRestart.Equal(epoch.Add(10*time.Second+500*ms)) {
		t.Errorf("failed: LastError %v NextRestart +%v; want boom, +10.5s", st.LastError, st.NextRestart.Sub(epoch))
	}

	h.clk.Advance(500 * ms)
	c = svc.next(t, h.ctx)
	st = h.lookup("dns")
	check("restarted", st, supervisor.Running, 10*time.Second+500*ms, 1)
	if !errors.Is(st.LastError, boom) || !st.NextRestart.IsZero() {
		t.Errorf("restarted: LastError %v NextRestart %v; want boom kept, zero", st.LastError, st.NextRestart)
	}

	h.clk.Advance(time.Second)
	c.finish()
	check("finished", h.waitState("dns", supervisor.Stopped), supervisor.Stopped, 11*time.Second+500*ms, 1)

	if err := h.stop(); err != nil {
		t.Errorf("Run = %v, want nil", err)
	}
	check("after shutdown", h.lookup("dns"), supervisor.Stopped, 11*time.Second+500*ms, 1)
}

func TestStatusListsServicesInStartOrder(t *testing.T) {
	a, b, c := newScripted("dns"), newScripted("bgp"), newScripted("info")
	h := newHarness(t, supervisor.Options{}, a, b, c)
	var got []string
	for _, st := range h.sup.Status() {
		got = append(got, st.Name)
	}
	if want := []string{"dns", "bgp", "info"}; len(got) != 3 || got[0] != want[0] || got[1] != want[1] || got[2] != want[2] {
		t.Errorf("Status names %v, want %v", got, want)
	}
	if _, ok := h.sup.Lookup("nope"); ok {
		t.Error("Lookup of unknown service succeeded")
	}
}

func TestHealth(t *testing.T) {
	sick := errors.New("zones not loaded")
	tests := []struct {
		name    string
		checker bool         // the service implements HealthChecker
		health  func() error // what Health returns
		fail    bool         // make Run fail, so the service is backing off
		want    error        // matched with errors.Is; nil means healthy
	}{
		{name: "running, no checker", want: nil},
		{name: "running, healthy", checker: true, health: func() error { return nil }, want: nil},
		{name: "running, unhealthy", checker: true, health: func() error { return sick }, want: sick},
		{name: "backing off, healthy checker", checker: true, health: func() error { return nil }, fail: true, want: supervisor.ErrNotRunning},
		{name: "backing off, no checker", fail: true, want: supervisor.ErrNotRunning},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newScripted("dns")
			var svc supervisor.Service = s
			if tt.checker {
				hc := healthy{s}
				hc.setHealth(tt.health)
				svc = hc
			}
			h := newHarness(t, supervisor.Options{}, svc)

			if st := h.lookup("dns"); !errors.Is(st.Health, supervisor.ErrNotRunning) || st.Healthy() {
				t.Errorf("before Run: Health %v, want ErrNotRunning", st.Health)
			}

			h.start(context.Background())
			c := s.next(t, h.ctx)
			if tt.fail {
				c.fail(errors.New("boom"))
				h.blockUntil(1)
			}
			st := h.lookup("dns")
			if tt.want == nil {
				if st.Health != nil || !st.Healthy() {
					t.Errorf("Health %v, want healthy", st.Health)
				}
			} else if !errors.Is(st.Health, tt.want) || st.Healthy() {
				t.Errorf("Health %v, want %v", st.Health, tt.want)
			}
			if all := h.sup.Status(); len(all) != 1 || !errors.Is(all[0].Health, tt.want) {
				t.Errorf("Status()[0].Health = %v, want %v as Lookup says", all[0].Health, tt.want)
			}

			if err := h.stop(); err != nil {
				t.Errorf("Run = %v, want nil", err)
			}
			if st := h.lookup("dns"); !errors.Is(st.Health, supervisor.ErrNotRunning) {
				t.Errorf("after shutdown: Health %v, want ErrNotRunning", st.Health)
			}
		})
	}
}

// TestHealthFollowsChecker checks that health is asked at each Status call,
// not cached, as the BGP health gate relies on.
func TestHealthFollowsChecker(t *testing.T) {
	s := newScripted("dns")
	hc := healthy{s}
	h := newHarness(t, supervisor.Options{}, hc)
	h.start(context.Background())
	s.next(t, h.ctx)

	sick := errors.New("upstream unreachable")
	for i, want := range []error{nil, sick, nil} {
		hc.setHealth(func() error { return want })
		if got := h.lookup("dns").Health; !errors.Is(got, want) || (want == nil) != (got == nil) {
			t.Errorf("step %d: Health %v, want %v", i, got, want)
		}
	}
	if err := h.stop(); err != nil {
		t.Errorf("Run = %v, want nil", err)
	}
}
