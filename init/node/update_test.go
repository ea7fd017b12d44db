package node

import (
	"context"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"
)

// TestTrialWatch: a trial boot commits once the node is ready and
// healthy; one that is not by the deadline reboots without committing;
// a committed slot or a stopped node ends the watch with neither.
func TestTrialWatch(t *testing.T) {
	tests := []struct {
		name              string
		greenAfter        time.Duration // -1: never
		committedElsewise bool
		cancel            bool
		commit, reboot    bool
	}{
		{name: "healthy in time", greenAfter: 30 * time.Millisecond, commit: true},
		{name: "never healthy", greenAfter: -1, reboot: true},
		{name: "healthy too late", greenAfter: time.Second, reboot: true},
		{name: "committed by another path", greenAfter: -1, committedElsewise: true},
		{name: "node stopping", greenAfter: -1, cancel: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var onTrial atomic.Bool
			onTrial.Store(!tt.committedElsewise)
			var commits, reboots atomic.Int32
			start := time.Now()
			w := trialWatch{
				deadline: 200 * time.Millisecond, every: 5 * time.Millisecond,
				onTrial: onTrial.Load,
				green: func() bool {
					return tt.greenAfter >= 0 && time.Since(start) >= tt.greenAfter
				},
				commit: func() { commits.Add(1); onTrial.Store(false) },
				reboot: func() error { reboots.Add(1); return nil },
				log:    slog.New(slog.DiscardHandler),
			}
			ctx, cancel := context.WithCancel(context.Background())
			if tt.cancel {
				cancel()
			}
			done := make(chan struct{})
			go func() { defer close(done); w.run(ctx) }()
			select {
			case <-done:
			case <-time.After(5 * time.Second):
				t.Fatal("the watch did not end")
			}
			cancel()
			if got := commits.Load() == 1; got != tt.commit {
				t.Errorf("committed %d times; want commit %v", commits.Load(), tt.commit)
			}
			if got := reboots.Load() == 1; got != tt.reboot {
				t.Errorf("rebooted %d times; want reboot %v", reboots.Load(), tt.reboot)
			}
		})
	}
}
