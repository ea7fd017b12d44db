package health

import (
	"context"
	"errors"
	"net/netip"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/goleudy/goleudy/provision/config"
	"github.com/goleudy/goleudy/services/clock/clocktest"
)

var errDown = errors.New("down")

// prober is an injectable ProbeFunc whose targets answer as the test says.
// Targets answer correctly unless marked down.
type prober struct {
	mu      sync.Mutex
	down    map[netip.AddrPort]bool
	queries []Query // the question of every probe, in order
}

func (p *prober) probe(_ context.Context, tg netip.AddrPort, q Query) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.queries = append(p.queries, q)
	if p.down[tg] {
		return errDown
	}
	return nil
}

func (p *prober) set(tg string, up bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.down == nil {
		p.down = make(map[netip.AddrPort]bool)
	}
	p.down[netip.MustParseAddrPort(tg)] = !up
}

func (p *prober) lastQuery() Query {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.queries[len(p.queries)-1]
}

// event is one OnChange call.
type event struct {
	prefix  string
	healthy bool
}

// gate runs a Service on a fake clock with an injected prober and records
// its OnChange calls.
type gate struct {
	t      *testing.T
	s      *Service
	clk    *clocktest.Fake
	probe  *prober
	cancel context.CancelFunc
	done   chan error

	mu     sync.Mutex
	events []event
}

const testInterval = 250 * time.Millisecond

// startGate runs the gate for cfg with targets answering as p says (all
// correctly if p is nil); when it returns, the first round has been
// counted.
func startGate(t *testing.T, cfg *config.Config, opts Options, p *prober) *gate {
	t.Helper()
	if p == nil {
		p = &prober{}
	}
	g := &gate{t: t, clk: clocktest.NewFake(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)), probe: p, done: make(chan error, 1)}
	opts.Clock = g.clk
	opts.Interval = testInterval
	opts.Probe = g.probe.probe
	opts.OnChange = func(p netip.Prefix, healthy bool) {
		g.mu.Lock()
		defer g.mu.Unlock()
		g.events = append(g.events, event{p.String(), healthy})
	}
	s, err := New(cfg, opts)
	if err != nil {
		t.Fatal(err)
	}
	g.s = s
	ctx, cancel := context.WithCancel(context.Background())
	g.cancel = cancel
	go func() { g.done <- s.Run(ctx) }()
	t.Cleanup(g.stop)
	g.waitRound()
	return g
}

// waitRound waits until Run has counted a round and armed its timer.
func (g *gate) waitRound() {
	g.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := g.clk.BlockUntil(ctx, 1); err != nil {
		g.t.Fatal(err)
	}
}

// step runs n more rounds.
func (g *gate) step(n int) {
	g.t.Helper()
	for range n {
		g.clk.Advance(testInterval)
		g.waitRound()
	}
}

// stop ends Run and waits for it; it is idempotent.
func (g *gate) stop() {
	g.cancel()
	if g.done == nil {
		return
	}
	if err := <-g.done; err != nil {
		g.t.Errorf("Run: %v", err)
	}
	g.done = nil
}

// takeEvents returns the OnChange calls since the last take.
func (g *gate) takeEvents() []event {
	g.mu.Lock()
	defer g.mu.Unlock()
	ev := g.events
	g.events = nil
	return ev
}

func (g *gate) expectEvents(want ...event) {
	g.t.Helper()
	if got := g.takeEvents(); !slices.Equal(got, want) {
		g.t.Errorf("OnChange calls = %v, want %v", got, want)
	}
}

// status returns the status of prefix p.
func (g *gate) status(p string) PrefixStatus {
	g.t.Helper()
	for _, st := range g.s.Status() {
		if st.Prefix.String() == p {
			return st
		}
	}
	g.t.Fatalf("no status for %s", p)
	return PrefixStatus{}
}

// cfgFor is a config announcing prefixes, served on listen, with zones.
func cfgFor(prefixes, listen []string, zones ...string) *config.Config {
	c := &config.Config{Schema: 1, Serial: 1, Node: config.Node{ID: "node1"}}
	c.Anycast.Prefixes = prefixes
	c.DNS.Listen = listen
	for _, z := range zones {
		c.Zones = append(c.Zones, config.Zone{Name: z, Primaries: []string{"198.51.100.1:53"}})
	}
	return c
}
