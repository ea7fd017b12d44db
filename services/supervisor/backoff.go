package supervisor

import (
	"math"
	"time"
)

// Backoff is the restart policy for a failing service: capped exponential
// delays with jitter, so that a crash-looping service neither spins the CPU
// nor waits so long that the node stays out of the anycast set for longer
// than needed, and so that services failing together (say, after a link
// flap) do not retry in lockstep.
//
// Zero fields take the defaults noted on each.
type Backoff struct {
	// Initial is the delay before the first restart. Default 500ms.
	Initial time.Duration
	// Factor multiplies the delay after each consecutive failure.
	// Values below 1 mean the default, 2.
	Factor float64
	// Max caps the delay, after jitter too: no restart waits longer.
	// Default 30s.
	Max time.Duration
	// Jitter spreads each delay uniformly over ±Jitter of itself, so 0.2
	// gives ±20%. Zero means the default, 0.2; a negative value disables
	// jitter; values above 1 are treated as 1.
	Jitter float64
}

// Defaults for Backoff.
const (
	DefaultInitial = 500 * time.Millisecond
	DefaultFactor  = 2
	DefaultMax     = 30 * time.Second
	DefaultJitter  = 0.2
)

// withDefaults returns b with its zero fields filled in.
func (b Backoff) withDefaults() Backoff {
	if b.Initial <= 0 {
		b.Initial = DefaultInitial
	}
	if b.Factor < 1 {
		b.Factor = DefaultFactor
	}
	if b.Max <= 0 {
		b.Max = DefaultMax
	}
	switch {
	case b.Jitter == 0:
		b.Jitter = DefaultJitter
	case b.Jitter < 0:
		b.Jitter = 0
	case b.Jitter > 1:
		b.Jitter = 1
	}
	return b
}

// Delay returns how long to wait before restart attempt n, where n counts
// consecutive failures from 1, and r is a draw from the jitter source in
// [0, 1) (values outside are clamped). An r of 0.5 gives the delay without
// jitter: Initial × Factor^(n-1), capped at Max.
func (b Backoff) Delay(n int, r float64) time.Duration {
	b = b.withDefaults()
	n = max(n, 1)
	r = min(max(r, 0), 1)
	// Work in float64 so that a long crash loop overflows to +Inf, which
	// the cap handles, rather than wrapping a time.Duration negative.
	d := float64(b.Initial) * math.Pow(b.Factor, float64(n-1))
	d = min(d, float64(b.Max))
	d *= 1 + b.Jitter*(2*r-1)
	d = min(d, float64(b.Max))
	return time.Duration(math.Round(d))
}
