package supervisor_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/goleudy/goleudy/services/supervisor"
)

const ms = time.Millisecond

func TestBackoffDelay(t *testing.T) {
	def := supervisor.Backoff{}
	tests := []struct {
		name string
		b    supervisor.Backoff
		n    int
		r    float64
		want time.Duration
	}{
		{"default first", def, 1, 0.5, 500 * ms},
		{"default second", def, 2, 0.5, time.Second},
		{"default sixth", def, 6, 0.5, 16 * time.Second},
		{"default capped", def, 7, 0.5, 30 * time.Second},
		{"attempt zero is first", def, 0, 0.5, 500 * ms},
		{"jitter low", def, 1, 0, 400 * ms},
		{"jitter high", def, 1, 0.75, 550 * ms},
		{"jitter never exceeds cap", def, 20, 0.99, 30 * time.Second},
		{"jitter below cap", def, 20, 0, 24 * time.Second},
		{"r clamped high", def, 1, 7, 600 * ms},
		{"r clamped low", def, 1, -3, 400 * ms},
		{"long crash loop does not overflow", def, 10_000, 0.5, 30 * time.Second},
		{"custom", supervisor.Backoff{Initial: time.Second, Factor: 3, Max: time.Minute, Jitter: 0.5}, 3, 0, 4500 * ms},
		{"factor one is constant", supervisor.Backoff{Initial: time.Second, Factor: 1}, 9, 0.5, time.Second},
		{"factor below one means default", supervisor.Backoff{Factor: 0.5}, 3, 0.5, 2 * time.Second},
		{"negative jitter disables it", supervisor.Backoff{Jitter: -1}, 1, 0, 500 * ms},
		{"jitter above one is one", supervisor.Backoff{Jitter: 5}, 1, 0, 0},
		{"max below initial caps initial", supervisor.Backoff{Initial: time.Minute, Max: time.Second}, 1, 0.5, time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.b.Delay(tt.n, tt.r); got != tt.want {
				t.Errorf("%+v.Delay(%d, %v) = %v, want %v", tt.b, tt.n, tt.r, got, tt.want)
			}
		})
	}
}

// TestBackoffDelayBounds checks every attempt of a long crash loop against
// the jitter band and the cap.
func TestBackoffDelayBounds(t *testing.T) {
	b := supervisor.Backoff{}
	for n := 1; n <= 40; n++ {
		for _, r := range []float64{0, 0.25, 0.5, 0.75, 0.999999} {
			d := b.Delay(n, r)
			base := b.Delay(n, 0.5)
			if d < base*8/10 || d > base*12/10 || d > 30*time.Second || d <= 0 {
				t.Errorf("Delay(%d, %v) = %v, outside ±20%% of %v or above the cap", n, r, d, base)
			}
		}
	}
}

// sequence returns a jitter source that yields rs in turn, then 0.5.
func sequence(rs ...float64) func() float64 {
	return func() float64 {
		if len(rs) == 0 {
			return 0.5
		}
		r := rs[0]
		rs = rs[1:]
		return r
	}
}

func TestCrashLoopBackoff(t *testing.T) {
	svc := newScripted("dns")
	h := newHarness(t, supervisor.Options{
		Backoff: supervisor.Backoff{Initial: 500 * ms, Factor: 2, Max: 5 * time.Second, Jitter: 0.2},
		Rand:    sequence(0.5, 0, 0.75, 0.5, 0.25, 0.5, 0.9999, 0),
	}, svc)
	h.start(context.Background())

	// Attempt n's delay is Initial·2^(n-1), capped at 5s, times
	// 1+0.2·(2r-1) for the n-th draw r, capped at 5s again.
	want := []time.Duration{
		500 * ms,        // r=0.5: no jitter
		800 * ms,        // 1s, r=0: -20%
		2200 * ms,       // 2s, r=0.75: +10%
		4 * time.Second, // r=0.5
		4500 * ms,       // 8s capped to 5s, r=0.25: -10%
		5 * time.Second, // capped, r=0.5
		5 * time.Second, // capped, r≈1: +20% but capped again
		4 * time.Second, // capped, r=0: -20%
	}
	boom := errors.New("boom")
	for i, delay := range want {
		attempt := i + 1
		svc.next(t, h.ctx).fail(fmt.Errorf("attempt %d: %w", attempt, boom))
		h.blockUntil(1)
		st := h.lookup("dns")
		if st.State != supervisor.BackingOff {
			t.Fatalf("attempt %d: state %v, want backing-off", attempt, st.State)
		}
		if got := st.NextRestart.Sub(h.clk.Now()); got != delay {
			t.Errorf("attempt %d: NextRestart in %v, want %v", attempt, got, delay)
		}
		if st.Restarts != i || !errors.Is(st.LastError, boom) {
			t.Errorf("attempt %d: Restarts=%d LastError=%v, want %d and boom", attempt, st.Restarts, st.LastError, i)
		}
		// The timer is armed for exactly delay: a nanosecond short does
		// not fire it, and the rest does.
		h.clk.Advance(delay - 1)
		if h.clk.Pending() != 1 {
			t.Fatalf("attempt %d: backoff ended before %v", attempt, delay)
		}
		svc.noCall(t)
		h.clk.Advance(1)
	}
	svc.next(t, h.ctx) // the restart after the last backoff
	if st := h.waitState("dns", supervisor.Running); st.Restarts != len(want) {
		t.Errorf("Restarts = %d, want %d", st.Restarts, len(want))
	}

	logs := h.logs.find("supervisor: service failed; restarting after backoff")
	if len(logs) != len(want) {
		t.Fatalf("got %d restart logs, want %d", len(logs), len(want))
	}
	for i, e := range logs {
		if e.Attrs["service"] != "dns" || e.Attrs["attempt"] != int64(i+1) || e.Attrs["delay"] != want[i] {
			t.Errorf("restart log %d: %v, want service=dns attempt=%d delay=%v", i, e.Attrs, i+1, want[i])
		}
		if err, _ := e.Attrs["err"].(error); !errors.Is(err, boom) {
			t.Errorf("restart log %d: err=%v, want boom", i, e.Attrs["err"])
		}
	}
	if err := h.stop(); err != nil {
		t.Errorf("Run = %v, want nil", err)
	}
}

func TestBackoffResetsAfterStableRun(t *testing.T) {
	const stable = time.Minute
	svc := newScripted("bgp")
	h := newHarness(t, supervisor.Options{StableAfter: stable}, svc)
	h.start(context.Background())
	boom := errors.New("boom")

	steps := []struct {
		ran       time.Duration // fake time the run lasts before failing
		wantDelay time.Duration
	}{
		{0, 500 * ms},
		{0, time.Second},
		{stable - 1, 2 * time.Second}, // just short of stable: still a loop
		{stable, 500 * ms},            // stable: back to the start
		{0, time.Second},
		{10 * stable, 500 * ms},
	}
	for i, s := range steps {
		c := svc.next(t, h.ctx)
		h.clk.Advance(s.ran)
		c.fail(boom)
		h.blockUntil(1)
		st := h.lookup("bgp")
		if got := st.NextRestart.Sub(h.clk.Now()); got != s.wantDelay {
			t.Errorf("step %d (ran %v): delay %v, want %v", i, s.ran, got, s.wantDelay)
		}
		if st.Restarts != i {
			t.Errorf("step %d: Restarts = %d, want %d (a stable run resets the delay, not the count)", i, st.Restarts, i)
		}
		h.clk.Advance(s.wantDelay)
	}
	svc.next(t, h.ctx)
	if err := h.stop(); err != nil {
		t.Errorf("Run = %v, want nil", err)
	}
}

func TestBackoffNeverResetsWithNegativeStableAfter(t *testing.T) {
	svc := newScripted("update")
	h := newHarness(t, supervisor.Options{StableAfter: -1}, svc)
	h.start(context.Background())
	for i, want := range []time.Duration{500 * ms, time.Second, 2 * time.Second} {
		c := svc.next(t, h.ctx)
		h.clk.Advance(time.Hour)
		c.fail(errors.New("boom"))
		h.blockUntil(1)
		if got := h.lookup("update").NextRestart.Sub(h.clk.Now()); got != want {
			t.Errorf("failure %d: delay %v, want %v", i, got, want)
		}
		h.clk.Advance(want)
	}
	svc.next(t, h.ctx)
	if err := h.stop(); err != nil {
		t.Errorf("Run = %v, want nil", err)
	}
}

func TestPanickingJitterSourceMeansNoJitter(t *testing.T) {
	svc := newScripted("metrics")
	h := newHarness(t, supervisor.Options{
		Rand: func() float64 { panic("rand") },
	}, svc)
	h.start(context.Background())
	svc.next(t, h.ctx).fail(errors.New("boom"))
	h.blockUntil(1)
	if got := h.lookup("metrics").NextRestart.Sub(h.clk.Now()); got != 500*ms {
		t.Errorf("delay %v, want 500ms", got)
	}
	if len(h.logs.find("supervisor: jitter source panicked; not jittering")) != 1 {
		t.Error("jitter panic not logged")
	}
	if err := h.stop(); err != nil {
		t.Errorf("Run = %v, want nil", err)
	}
}
