package clock_test

import (
	"testing"
	"time"

	"github.com/goleudy/goleudy/services/clock"
)

// These tests use the real clock with zero or hour-long durations, so they
// never wait on the wall clock: a zero timer fires at once and an hour-long
// one is only stopped or reset.

func TestRealNowAndSince(t *testing.T) {
	c := clock.Real()
	before := time.Now()
	now := c.Now()
	if now.Before(before) {
		t.Errorf("Now() = %v, before time.Now() = %v", now, before)
	}
	if got := c.Since(before); got < 0 {
		t.Errorf("Since(earlier) = %v, want >= 0", got)
	}
}

func TestRealTimerFires(t *testing.T) {
	c := clock.Real()
	for _, d := range []time.Duration{0, -time.Second} {
		tm := c.NewTimer(d)
		if got := <-tm.C(); got.IsZero() {
			t.Errorf("NewTimer(%v) delivered zero time", d)
		}
		if tm.Stop() {
			t.Errorf("NewTimer(%v): Stop after receive = true, want false", d)
		}
	}
	if got := <-c.After(0); got.IsZero() {
		t.Error("After(0) delivered zero time")
	}
}

func TestRealTimerStopReset(t *testing.T) {
	c := clock.Real()
	tm := c.NewTimer(time.Hour)
	if !tm.Stop() {
		t.Error("Stop on armed timer = false, want true")
	}
	if tm.Stop() {
		t.Error("second Stop = true, want false")
	}
	if tm.Reset(time.Hour) {
		t.Error("Reset on stopped timer = true, want false")
	}
	if !tm.Reset(0) {
		t.Error("Reset on armed timer = false, want true")
	}
	<-tm.C()
}
