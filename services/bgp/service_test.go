package bgp_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/goleudy/goleudy/provision/config"
	"github.com/goleudy/goleudy/services/bgp"
)

// A node without peers runs idle and opens no socket; a config that brings
// peers restarts it so that the next Run starts the speaker.
func TestIdleUntilPeers(t *testing.T) {
	cfg := &config.Config{Anycast: config.Anycast{ASN: 64512, Prefixes: []string{"192.0.2.0/24"}}}
	s, err := bgp.New(cfg, bgp.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	if s.Name() != "bgp" {
		t.Errorf("Name = %q", s.Name())
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	time.Sleep(20 * time.Millisecond)
	if !errors.Is(s.Health(), bgp.ErrNotRunning) {
		t.Errorf("Health = %v", s.Health())
	}
	c2 := *cfg
	c2.BGP = config.BGP{RouterID: "198.51.100.2", Peers: []config.Peer{{Name: "p", ASN: 64500, Neighbor: "198.51.100.1", HoldTime: 9}}}
	if err := s.Apply(&c2); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if !errors.Is(err, bgp.ErrRestart) {
			t.Errorf("Run = %v, want ErrRestart", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after peers were added")
	}
	bad := c2
	bad.BGP.RouterID = "not-an-ip"
	if err := s.Apply(&bad); err == nil {
		t.Error("Apply accepted a bad router id")
	}
}
