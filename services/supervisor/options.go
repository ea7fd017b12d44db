package supervisor

import (
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/goleudy/goleudy/services/clock"
)

// Options configures a Supervisor. The zero value is ready to use and gives
// production defaults.
type Options struct {
	// Clock times backoff, stable runs and stop timeouts. Nil means
	// clock.Real(); tests pass a clocktest.Fake.
	Clock clock.Clock

	// Logger receives the supervisor's messages; those about a service
	// carry a service=<name> attribute. Nil discards them.
	Logger *slog.Logger

	// Backoff is the restart delay policy.
	Backoff Backoff

	// Rand is the jitter source, returning values in [0, 1). Nil means
	// math/rand/v2.Float64. The supervisor serialises its calls, so a
	// method value of a *rand.Rand may be passed as is.
	Rand func() float64

	// StableAfter is how long a service must run before its failure is
	// treated as new rather than part of a crash loop: the next delay
	// then starts again from Backoff.Initial. Default 1m; a negative
	// value never resets the backoff.
	StableAfter time.Duration

	// StopTimeout bounds the wait for each service to return after its
	// context is cancelled at shutdown; a service still running then is
	// abandoned. Default 5s; values of zero or less mean the default.
	StopTimeout time.Duration
}

// Defaults for Options.
const (
	DefaultStableAfter = time.Minute
	DefaultStopTimeout = 5 * time.Second
)

// withDefaults returns o with its zero fields filled in.
func (o Options) withDefaults() Options {
	if o.Clock == nil {
		o.Clock = clock.Real()
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	o.Backoff = o.Backoff.withDefaults()
	if o.Rand == nil {
		o.Rand = rand.Float64
	}
	if o.StableAfter == 0 {
		o.StableAfter = DefaultStableAfter
	}
	if o.StopTimeout <= 0 {
		o.StopTimeout = DefaultStopTimeout
	}
	return o
}
