package node

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/goleudy/goleudy/provision/api"
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

// TestReleaseTrust: the seed's release keys become the agent's trust;
// none trusts nothing; a key that is not one is an error naming it.
func TestReleaseTrust(t *testing.T) {
	pub, _, _ := ed25519.GenerateKey(nil)
	ts, err := releaseTrust(api.Seed{ReleaseTrust: []string{base64.StdEncoding.EncodeToString(pub)}})
	if err != nil || len(ts.IDs()) != 1 {
		t.Errorf("one key: %v, %v", ts, err)
	}
	if ts, err := releaseTrust(api.Seed{}); ts != nil || err != nil {
		t.Errorf("no keys: %v, %v; want nil, nil", ts, err)
	}
	if _, err := releaseTrust(api.Seed{ReleaseTrust: []string{"bm90IGEga2V5"}}); err == nil || !strings.Contains(err.Error(), "release_trust[0]") {
		t.Errorf("a bad key: %v", err)
	}
}
