// Package clock is the node's source of time.
//
// Everything on a node that waits — SOA refresh and retry timers in the DNS
// secondary, the supervisor's restart backoff and stop timeouts, and the BGP
// health gate that delays announcing the anycast prefix — takes a [Clock]
// instead of calling the time package directly. Production code passes
// [Real]; tests pass a clocktest.Fake and move time forward by hand, so a
// thirty-second backoff or a one-hour SOA refresh is tested in microseconds
// and without sleeps, which would make tests both slow and flaky.
//
// The interface is deliberately small: only what those callers need. Grow it
// when a caller needs more, and teach clocktest.Fake the same thing.
package clock

import "time"

// Clock tells the time and makes timers.
//
// Implementations must be safe for concurrent use.
type Clock interface {
	// Now returns the current time.
	Now() time.Time

	// Since returns the time elapsed since t, as time.Since does.
	Since(t time.Time) time.Duration

	// NewTimer returns a Timer that sends the current time on its channel
	// once, after at least d has passed. A d of zero or less fires at once.
	NewTimer(d time.Duration) Timer

	// After waits for d to pass and then sends the current time on the
	// returned channel. It is NewTimer(d).C(); use NewTimer when the wait
	// may be abandoned, so that the timer can be stopped.
	After(d time.Duration) <-chan time.Time
}

// Timer is a single event, like *time.Timer.
//
// It follows the semantics of time.Timer since Go 1.23: once Stop or Reset
// has returned, no value from an earlier deadline will be received on C, so
// callers need not drain the channel.
type Timer interface {
	// C returns the channel on which the time is delivered.
	C() <-chan time.Time

	// Stop prevents the Timer from firing. It returns true if the call
	// stopped the timer, and false if the timer had already expired (and
	// its value was received) or had been stopped.
	Stop() bool

	// Reset changes the timer to expire after d. It returns true if the
	// timer had been active, as Stop would.
	Reset(d time.Duration) bool
}
