package clocktest_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/goleudy/goleudy/services/clock"
	"github.com/goleudy/goleudy/services/clock/clocktest"
)

var epoch = time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)

// received returns the value waiting on c, if any, without blocking. Fake
// timers fire synchronously inside Advance, so after Advance returns a fired
// timer's value is already in its buffer.
func received(c <-chan time.Time) (time.Time, bool) {
	select {
	case v := <-c:
		return v, true
	default:
		return time.Time{}, false
	}
}

func TestFakeAdvanceFiresDueTimers(t *testing.T) {
	tests := []struct {
		name    string
		timers  []time.Duration // armed at epoch
		steps   []time.Duration // successive Advance calls
		fired   []time.Duration // per timer: fire time as offset from epoch; -1 = not fired
		pending int             // timers still armed at the end
	}{
		{
			name:   "nothing due",
			timers: []time.Duration{time.Second},
			steps:  []time.Duration{999 * time.Millisecond},
			fired:  []time.Duration{-1}, pending: 1,
		},
		{
			name:   "exactly at deadline",
			timers: []time.Duration{time.Second},
			steps:  []time.Duration{time.Second},
			fired:  []time.Duration{time.Second},
		},
		{
			name:   "one big step fires each at its own deadline",
			timers: []time.Duration{3 * time.Second, time.Second, 2 * time.Second},
			steps:  []time.Duration{time.Minute},
			fired:  []time.Duration{3 * time.Second, time.Second, 2 * time.Second},
		},
		{
			name:   "small steps",
			timers: []time.Duration{3 * time.Second, time.Second, 2 * time.Second},
			steps:  []time.Duration{1500 * time.Millisecond, time.Second},
			fired:  []time.Duration{-1, time.Second, 2 * time.Second}, pending: 1,
		},
		{
			name:   "equal deadlines",
			timers: []time.Duration{time.Second, time.Second},
			steps:  []time.Duration{time.Second},
			fired:  []time.Duration{time.Second, time.Second},
		},
		{
			name:   "zero and negative fire at once",
			timers: []time.Duration{0, -time.Second, time.Second},
			steps:  nil,
			fired:  []time.Duration{0, 0, -1}, pending: 1,
		},
		{
			name:   "backwards step fires nothing",
			timers: []time.Duration{time.Second},
			steps:  []time.Duration{-time.Hour, time.Hour},
			fired:  []time.Duration{-1}, pending: 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := clocktest.NewFake(epoch)
			var timers []clock.Timer
			for _, d := range tt.timers {
				timers = append(timers, f.NewTimer(d))
			}
			var total time.Duration
			for _, d := range tt.steps {
				f.Advance(d)
				total += d
			}
			if got, want := f.Now(), epoch.Add(total); !got.Equal(want) {
				t.Errorf("Now() = %v, want %v", got, want)
			}
			for i, tm := range timers {
				got, ok := received(tm.C())
				switch want := tt.fired[i]; {
				case want < 0 && ok:
					t.Errorf("timer %d (%v) fired at %v, want not fired", i, tt.timers[i], got)
				case want >= 0 && !ok:
					t.Errorf("timer %d (%v) did not fire, want at +%v", i, tt.timers[i], want)
				case want >= 0 && !got.Equal(epoch.Add(want)):
					t.Errorf("timer %d (%v) fired at +%v, want +%v", i, tt.timers[i], got.Sub(epoch), want)
				}
			}
			if got := f.Pending(); got != tt.pending {
				t.Errorf("Pending() = %d, want %d", got, tt.pending)
			}
		})
	}
}

// TestFakeFiresInDeadlineOrder covers one Advance past many deadlines.
// The fake clock never moves backwards while firing, so had a later timer
// fired first, every earlier one would carry the later time: each value
// equal to its own deadline shows that they fired in deadline order.
func TestFakeFiresInDeadlineOrder(t *testing.T) {
	f := clocktest.NewFake(epoch)
	durations := []time.Duration{5, 1, 4, 2, 3}
	timers := make([]clock.Timer, len(durations))
	for i, d := range durations {
		timers[i] = f.NewTimer(d * time.Second)
	}
	f.Advance(10 * time.Second)
	for i, tm := range timers {
		got, ok := received(tm.C())
		if !ok || !got.Equal(epoch.Add(durations[i]*time.Second)) {
			t.Errorf("timer %d: got %v (fired %v), want +%v", i, got.Sub(epoch), ok, durations[i]*time.Second)
		}
	}
}

func TestFakeTimerStopReset(t *testing.T) {
	type op struct {
		do   string // "stop", "reset", "advance", "recv"
		d    time.Duration
		want bool // result of stop/reset; for recv, whether a value was waiting
	}
	tests := []struct {
		name  string
		start time.Duration
		ops   []op
	}{
		{"stop armed", time.Second, []op{
			{do: "stop", want: true},
			{do: "advance", d: time.Hour},
			{do: "recv", want: false},
		}},
		{"stop twice", time.Second, []op{
			{do: "stop", want: true},
			{do: "stop", want: false},
		}},
		{"stop after fire drains unreceived value", time.Second, []op{
			{do: "advance", d: time.Second},
			{do: "stop", want: true},
			{do: "recv", want: false},
		}},
		{"stop after fire and receive", time.Second, []op{
			{do: "advance", d: time.Second},
			{do: "recv", want: true},
			{do: "stop", want: false},
		}},
		{"reset armed moves deadline", time.Second, []op{
			{do: "reset", d: 3 * time.Second, want: true},
			{do: "advance", d: 2 * time.Second},
			{do: "recv", want: false},
			{do: "advance", d: time.Second},
			{do: "recv", want: true},
		}},
		{"reset stopped", time.Second, []op{
			{do: "stop", want: true},
			{do: "reset", d: time.Second, want: false},
			{do: "advance", d: time.Second},
			{do: "recv", want: true},
		}},
		{"reset after fire discards stale value", time.Second, []op{
			{do: "advance", d: time.Second},
			{do: "reset", d: time.Second, want: true},
			{do: "recv", want: false},
			{do: "advance", d: time.Second},
			{do: "recv", want: true},
		}},
		{"reset to zero fires at once", time.Hour, []op{
			{do: "reset", d: 0, want: true},
			{do: "recv", want: true},
			{do: "stop", want: false},
		}},
		{"second fire dropped while buffer full", time.Second, []op{
			{do: "advance", d: time.Second},
			{do: "recv", want: true},
			{do: "recv", want: false},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := clocktest.NewFake(epoch)
			tm := f.NewTimer(tt.start)
			for i, o := range tt.ops {
				var got bool
				switch o.do {
				case "stop":
					got = tm.Stop()
				case "reset":
					got = tm.Reset(o.d)
				case "advance":
					f.Advance(o.d)
					continue
				case "recv":
					_, got = received(tm.C())
				default:
					t.Fatalf("bad op %q", o.do)
				}
				if got != o.want {
					t.Errorf("op %d %s(%v) = %v, want %v", i, o.do, o.d, got, o.want)
				}
			}
		})
	}
}

func TestFakeNowSinceSet(t *testing.T) {
	f := clocktest.NewFake(epoch)
	f.Advance(90 * time.Second)
	if got := f.Since(epoch); got != 90*time.Second {
		t.Errorf("Since(epoch) = %v, want 90s", got)
	}
	tm := f.NewTimer(time.Minute) // deadline epoch+150s
	f.Set(epoch)                  // backwards: nothing fires
	if _, ok := received(tm.C()); ok {
		t.Fatal("timer fired on backwards Set")
	}
	f.Set(epoch.Add(149 * time.Second))
	if _, ok := received(tm.C()); ok {
		t.Fatal("timer fired before its deadline")
	}
	f.Set(epoch.Add(time.Hour))
	got, ok := received(tm.C())
	if !ok || !got.Equal(epoch.Add(150*time.Second)) {
		t.Errorf("timer fired %v at %v, want at +150s", ok, got.Sub(epoch))
	}
	if got := f.Now(); !got.Equal(epoch.Add(time.Hour)) {
		t.Errorf("Now() = %v, want +1h", got.Sub(epoch))
	}
}

func TestFakeAfter(t *testing.T) {
	f := clocktest.NewFake(epoch)
	c := f.After(time.Second)
	f.Advance(time.Second)
	if got, ok := received(c); !ok || !got.Equal(epoch.Add(time.Second)) {
		t.Errorf("After(1s) delivered %v %v, want +1s", got, ok)
	}
}

func TestFakeBlockUntil(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	f := clocktest.NewFake(epoch)

	if err := f.BlockUntil(ctx, 0); err != nil {
		t.Fatalf("BlockUntil(0) = %v", err)
	}

	// A goroutine arms a timer and waits on it; BlockUntil tells the test
	// when it is parked, so Advance is sure to wake it.
	woke := make(chan time.Time)
	go func() {
		tm := f.NewTimer(time.Minute)
		woke <- <-tm.C()
	}()
	if err := f.BlockUntil(ctx, 1); err != nil {
		t.Fatalf("BlockUntil(1) = %v", err)
	}
	f.Advance(time.Minute)
	if got := <-woke; !got.Equal(epoch.Add(time.Minute)) {
		t.Errorf("woke at %v, want +1m", got.Sub(epoch))
	}
}

func TestFakeBlockUntilContextEnds(t *testing.T) {
	f := clocktest.NewFake(epoch)
	f.NewTimer(time.Second)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	err := f.BlockUntil(ctx, 2)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("BlockUntil on cancelled ctx = %v, want context.Canceled", err)
	}
	if want := "have 1"; !strings.Contains(err.Error(), want) {
		t.Errorf("error %q does not say %q", err, want)
	}
}

// TestFakeConcurrent runs many goroutines that each arm a timer, wait for
// it, and re-arm it, while the test advances time. Run with -race.
func TestFakeConcurrent(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	const workers, rounds = 8, 5
	f := clocktest.NewFake(epoch)
	var wg sync.WaitGroup
	errc := make(chan error, workers)
	for w := range workers {
		wg.Go(func() {
			tm := f.NewTimer(time.Second)
			for r := range rounds {
				got := <-tm.C()
				if want := epoch.Add(time.Duration(r+1) * time.Second); !got.Equal(want) {
					errc <- fmt.Errorf("worker %d round %d: fired at +%v, want +%v", w, r, got.Sub(epoch), want.Sub(epoch))
					return
				}
				_ = f.Now()
				tm.Reset(time.Second)
			}
			tm.Stop()
		})
	}
	for range rounds {
		if err := f.BlockUntil(ctx, workers); err != nil {
			t.Fatal(err)
		}
		f.Advance(time.Second)
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Error(err)
	}
	if got := f.Pending(); got != 0 {
		t.Errorf("Pending() = %d after all stopped, want 0", got)
	}
}

// TestFakeWokenGoroutineSeesFinalTime checks that Advance is atomic: a
// goroutine woken by an early timer never observes an intermediate time.
func TestFakeWokenGoroutineSeesFinalTime(t *testing.T) {
	f := clocktest.NewFake(epoch)
	tm := f.NewTimer(time.Second)
	f.NewTimer(time.Minute)
	seen := make(chan time.Time)
	go func() {
		<-tm.C()
		seen <- f.Now()
	}()
	f.Advance(time.Hour)
	if got := <-seen; !got.Equal(epoch.Add(time.Hour)) {
		t.Errorf("woken goroutine saw +%v, want +1h", got.Sub(epoch))
	}
}
