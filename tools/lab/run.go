package lab

import (
	"context"
	"testing"
)

// Run runs run (a service's Run method) in the background until the test
// ends; then it cancels run's context, waits for it, and fails the test if
// it returned an error.
func Run(tb testing.TB, run func(context.Context) error) {
	tb.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx) }()
	tb.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			tb.Errorf("Run: %v", err)
		}
	})
}
