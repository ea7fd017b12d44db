// Package clocktest provides a fake [clock.Clock] whose time moves only
// when a test says so.
//
// Code under test (SOA refresh, supervisor backoff, the BGP health gate)
// creates timers on the fake clock; the test waits with [Fake.BlockUntil]
// until the code is parked on its timers, then calls [Fake.Advance] to fire
// them. Nothing sleeps, so tests are fast and do not depend on the
// scheduler. The design follows Tailscale's tstest.Clock and
// jonboulle/clockwork.
package clocktest

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/goleudy/goleudy/services/clock"
)

var _ clock.Clock = (*Fake)(nil)

// Fake is a manually driven clock.Clock. It is safe for concurrent use.
//
// Timers fire only inside Advance or Set (or at creation if their duration
// is not positive), and they fire as time.Timer does: one non-blocking send
// of the firing time on a channel with a buffer of one.
type Fake struct {
	mu      sync.Mutex
	now     time.Time
	seq     uint64        // orders timers with equal deadlines by scheduling
	pending []*fakeTimer  // armed timers, unordered
	changed chan struct{} // closed and replaced when a timer is armed
}

// NewFake returns a Fake whose time starts at start.
func NewFake(start time.Time) *Fake {
	return &Fake{now: start}
}

// Now returns the fake time.
func (f *Fake) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

// Since returns the fake time elapsed since t.
func (f *Fake) Since(t time.Time) time.Duration {
	return f.Now().Sub(t)
}

// NewTimer returns a timer that fires when the fake time reaches Now()+d.
func (f *Fake) NewTimer(d time.Duration) clock.Timer {
	t := &fakeTimer{f: f, c: make(chan time.Time, 1)}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.arm(t, d)
	return t
}

// After is NewTimer(d).C().
func (f *Fake) After(d time.Duration) <-chan time.Time {
	return f.NewTimer(d).C()
}

// Advance moves the fake time forward by d and fires, in deadline order,
// every timer whose deadline is reached. Timers with equal deadlines fire in
// the order they were armed. Each fires with Now() equal to its deadline,
// and the move is atomic: other goroutines see only the final time. A
// negative d moves time backwards and fires nothing.
func (f *Fake) Advance(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.moveTo(f.now.Add(d))
}

// Set moves the fake time to t, firing timers as Advance does. Setting a
// time earlier than Now fires nothing; armed timers keep their deadlines.
func (f *Fake) Set(t time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.moveTo(t)
}

// Pending reports how many timers are armed: created or reset, and not yet
// fired or stopped.
func (f *Fake) Pending() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.pending)
}

// BlockUntil waits until at least n timers are armed, which is how a test
// knows that the code under test has reached its wait, so that an Advance
// will wake it. It returns an error wrapping ctx.Err() if ctx ends first.
func (f *Fake) BlockUntil(ctx context.Context, n int) error {
	for {
		f.mu.Lock()
		have := len(f.pending)
		changed := f.changedLocked()
		f.mu.Unlock()
		if have >= n {
			return nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return fmt.Errorf("clocktest: waiting for %d timers, have %d: %w", n, have, ctx.Err())
		}
	}
}

// changedLocked returns the channel that is closed when the next timer is
// armed. f.mu must be held.
func (f *Fake) changedLocked() chan struct{} {
	if f.changed == nil {
		f.changed = make(chan struct{})
	}
	return f.changed
}

// arm schedules t to fire after d, or fires it now if d is not positive.
// f.mu must be held.
func (f *Fake) arm(t *fakeTimer, d time.Duration) {
	if d <= 0 {
		t.fire(f.now)
		return
	}
	f.seq++
	t.seq = f.seq
	t.deadline = f.now.Add(d)
	t.armed = true
	f.pending = append(f.pending, t)
	close(f.changedLocked())
	f.changed = nil
}

// disarm removes t from the pending timers, reporting whether it was there.
// f.mu must be held.
func (f *Fake) disarm(t *fakeTimer) bool {
	if !t.armed {
		return false
	}
	t.armed = false
	for i, p := range f.pending {
		if p == t {
			last := len(f.pending) - 1
			f.pending[i] = f.pending[last]
			f.pending[last] = nil
			f.pending = f.pending[:last]
			break
		}
	}
	return true
}

// moveTo sets the time to target, firing due timers in order on the way.
// f.mu must be held.
func (f *Fake) moveTo(target time.Time) {
	for {
		next := f.nextDue(target)
		if next == nil {
			break
		}
		f.disarm(next)
		if next.deadline.After(f.now) {
			f.now = next.deadline
		}
		next.fire(f.now)
	}
	f.now = target
}

// nextDue returns the armed timer with the earliest deadline not after
// target, or nil. f.mu must be held.
func (f *Fake) nextDue(target time.Time) *fakeTimer {
	var next *fakeTimer
	for _, t := range f.pending {
		if t.deadline.After(target) {
			continue
		}
		if next == nil || t.deadline.Before(next.deadline) ||
			(t.deadline.Equal(next.deadline) && t.seq < next.seq) {
			next = t
		}
	}
	return next
}

// fakeTimer is a clock.Timer on a Fake. Its fields are guarded by f.mu.
type fakeTimer struct {
	f        *Fake
	c        chan time.Time
	deadline time.Time
	seq      uint64
	armed    bool
}

func (t *fakeTimer) C() <-chan time.Time { return t.c }

func (t *fakeTimer) Stop() bool {
	t.f.mu.Lock()
	defer t.f.mu.Unlock()
	wasArmed := t.f.disarm(t)
	drained := t.drain()
	return wasArmed || drained
}

func (t *fakeTimer) Reset(d time.Duration) bool {
	t.f.mu.Lock()
	defer t.f.mu.Unlock()
	wasArmed := t.f.disarm(t)
	drained := t.drain()
	t.f.arm(t, d)
	return wasArmed || drained
}

// fire delivers now without blocking; like time.Timer, a value nobody has
// received yet is kept and the new one dropped.
func (t *fakeTimer) fire(now time.Time) {
	select {
	case t.c <- now:
	default:
	}
}

// drain discards an undelivered value, as Stop and Reset do for time.Timer
// since Go 1.23, and reports whether there was one.
func (t *fakeTimer) drain() bool {
	select {
	case <-t.c:
		return true
	default:
		return false
	}
}
