package supervisor_test

import (
	"context"
	"sync"
	"testing"
)

// scripted is a Service that hands each call of Run to the test, which
// decides how that run ends. Run also ends, with ctx.Err(), when its
// context is cancelled, unless the test told it to ignore cancellation.
type scripted struct {
	name   string
	calls  chan *call
	onExit func(name string) // called as Run returns, if set

	mu     sync.Mutex
	health func() error // nil: not a health checker's concern
}

// call is one invocation of scripted.Run.
type call struct {
	ctx context.Context
	end chan func() error // the test sends how Run ends
}

func newScripted(name string) *scripted {
	return &scripted{name: name, calls: make(chan *call)}
}

func (s *scripted) Name() string { return s.name }

func (s *scripted) Run(ctx context.Context) error {
	if s.onExit != nil {
		defer s.onExit(s.name)
	}
	c := &call{ctx: ctx, end: make(chan func() error, 1)}
	select {
	case s.calls <- c:
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case f := <-c.end:
		return f()
	case <-ctx.Done():
		return ctx.Err()
	}
}

// next waits for the next call of Run.
func (s *scripted) next(t *testing.T, ctx context.Context) *call {
	t.Helper()
	select {
	case c := <-s.calls:
		return c
	case <-ctx.Done():
		t.Fatalf("service %q: Run was not called: %v", s.name, ctx.Err())
		return nil
	}
}

// noCall checks that Run is not being called now. The supervisor calls Run
// only after setting Running, so once a test has seen a state other than
// Running and no timer can fire, a call would already be blocked here.
func (s *scripted) noCall(t *testing.T) {
	t.Helper()
	select {
	case <-s.calls:
		t.Fatalf("service %q: unexpected call of Run", s.name)
	default:
	}
}

func (c *call) fail(err error) { c.end <- func() error { return err } }
func (c *call) finish()        { c.fail(nil) }
func (c *call) panic(v any)    { c.end <- func() error { panic(v) } }

// healthy is a scripted service that implements HealthChecker.
type healthy struct{ *scripted }

func (h healthy) Health() error {
	h.mu.Lock()
	f := h.health
	h.mu.Unlock()
	if f == nil {
		return nil
	}
	return f()
}

func (h healthy) setHealth(f func() error) {
	h.mu.Lock()
	h.health = f
	h.mu.Unlock()
}

// stubborn is a Service that ignores cancellation: Run returns only when
// the test closes release.
type stubborn struct {
	name    string
	release chan struct{}
}

func newStubborn(name string) *stubborn {
	return &stubborn{name: name, release: make(chan struct{})}
}

func (s *stubborn) Name() string { return s.name }

func (s *stubborn) Run(context.Context) error {
	<-s.release
	return nil
}

// funcService is a Service whose Run is a function.
type funcService struct {
	name string
	run  func(ctx context.Context) error
}

func (f funcService) Name() string                  { return f.name }
func (f funcService) Run(ctx context.Context) error { return f.run(ctx) }
