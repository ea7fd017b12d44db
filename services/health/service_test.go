package health

import (
	"errors"
	"fmt"
	"net/netip"
	"testing"
	"time"
)

const (
	pfxA = "192.0.2.0/24"
	pfxB = "198.51.100.0/24"
	pfxC = "203.0.113.0/24"
	tgA1 = "192.0.2.53:53"
	tgA2 = "192.0.2.54:53"
	tgB  = "198.51.100.53:53"
	tgC  = "203.0.113.53:53"
)

// TestRiseFall runs round outcomes through one prefix with one target and
// checks the verdict after every round, and that OnChange is called
// exactly on the transitions. In rounds, + is a correct answer and - a
// failure; in want, H is healthy and . unhealthy.
func TestRiseFall(t *testing.T) {
	tests := []struct {
		name       string
		rise, fall int
		rounds     string
		want       string
	}{
		{"starts unhealthy, rises after 3", 0, 0, "+++++", "..HHH"},
		{"never answers", 0, 0, "-----", "....."},
		{"failure resets the rise count", 0, 0, "++-+++", ".....H"},
		{"one failure does not withdraw", 0, 0, "+++-+-+", "..HHHHH"},
		{"two consecutive failures withdraw", 0, 0, "+++--", "..HH."},
		{"recovery needs a full rise", 0, 0, "+++--+++", "..HH...H"},
		{"flapping every round stays announced", 0, 0, "+++-+-+-+-", "..HHHHHHHH"},
		{"flapping from the start never announces", 0, 0, "+-+-+-+-", "........"},
		{"rise 1 fall 1", 1, 1, "+-+-", "H.H."},
		{"rise 5 fall 4", 5, 4, "+++++---+----", "....HHHHHHHH."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := &prober{}
			p.set(tgA1, tt.rounds[0] == '+')
			g := startGate(t, cfgFor([]string{pfxA}, []string{tgA1}), Options{Rise: tt.rise, Fall: tt.fall}, p)
			was := false
			for i := range tt.rounds {
				if i > 0 {
					p.set(tgA1, tt.rounds[i] == '+')
					g.step(1)
				}
				healthy := tt.want[i] == 'H'
				st := g.status(pfxA)
				if st.Healthy != healthy {
					t.Fatalf("after round %d (%s): healthy = %v, want %v", i+1, tt.rounds[:i+1], st.Healthy, healthy)
				}
				var want []event
				if healthy != was {
					want = []event{{pfxA, healthy}}
				}
				if got := g.takeEvents(); fmt.Sprint(got) != fmt.Sprint(want) {
					t.Fatalf("after round %d (%s): OnChange calls %v, want %v", i+1, tt.rounds[:i+1], got, want)
				}
				was = healthy
			}
		})
	}
}

// TestAnyTargetKeepsPrefix checks that a prefix stays healthy while at
// least one of its service addresses answers.
func TestAnyTargetKeepsPrefix(t *testing.T) {
	g := startGate(t, cfgFor([]string{pfxA}, []string{tgA1, tgA2, tgB}), Options{}, nil)
	g.step(2)
	g.expectEvents(event{pfxA, true})
	if st := g.status(pfxA); len(st.Targets) != 2 {
		t.Fatalf("targets = %v, want %s and %s", st.Targets, tgA1, tgA2)
	}

	g.probe.set(tgA1, false)
	g.step(5)
	g.expectEvents() // tgA2 still answers
	if st := g.status(pfxA); !st.Healthy || st.Successes != 8 || st.Failures != 0 {
		t.Errorf("one of two down: %+v, want healthy with 8 successes", st)
	}

	g.probe.set(tgA2, false)
	g.step(1)
	g.expectEvents()
	g.step(1)
	g.expectEvents(event{pfxA, false})
	st := g.status(pfxA)
	if st.Failures != 2 || !errors.Is(st.LastError, errDown) {
		t.Errorf("both down: %+v, want 2 failures and errDown", st)
	}
	if err := g.s.Health(); !errors.Is(err, ErrUnhealthy) {
		t.Errorf("Health() = %v, want ErrUnhealthy", err)
	}

	g.probe.set(tgA2, true) // one coming back is enough
	g.step(3)
	g.expectEvents(event{pfxA, true})
	if err := g.s.Health(); err != nil {
		t.Errorf("Health() = %v, want nil", err)
	}
}

// TestPrefixesAreIndependent checks that one prefix's failure does not
// touch another's verdict.
func TestPrefixesAreIndependent(t *testing.T) {
	g := startGate(t, cfgFor([]string{pfxA, pfxB}, []string{tgA1, tgB}), Options{}, nil)
	g.step(2)
	g.expectEvents(event{pfxA, true}, event{pfxB, true})
	g.probe.set(tgB, false)
	g.step(2)
	g.expectEvents(event{pfxB, false})
	if !g.status(pfxA).Healthy {
		t.Error("A went unhealthy with B")
	}
	if err := g.s.Health(); !errors.Is(err, ErrUnhealthy) {
		t.Errorf("Health() = %v, want ErrUnhealthy", err)
	}
}

// TestNoTargetsNeverHealthy checks that a prefix with no service address
// inside it is never announced.
func TestNoTargetsNeverHealthy(t *testing.T) {
	g := startGate(t, cfgFor([]string{pfxA, pfxC}, []string{tgA1}), Options{}, nil)
	g.step(10)
	g.expectEvents(event{pfxA, true})
	st := g.status(pfxC)
	if st.Healthy || !errors.Is(st.LastError, ErrNoTargets) || len(st.Targets) != 0 {
		t.Errorf("prefix without targets: %+v, want unhealthy with ErrNoTargets", st)
	}
}

// TestApply changes the config under a running gate.
func TestApply(t *testing.T) {
	g := startGate(t, cfgFor([]string{pfxA, pfxB}, []string{tgA1, tgB}, "example.com"), Options{}, nil)
	g.step(2)
	g.expectEvents(event{pfxA, true}, event{pfxB, true})
	if q := g.probe.lastQuery(); q != (Query{Zone: "example.com."}) {
		t.Errorf("query = %+v, want the SOA of example.com.", q)
	}

	// B removed while healthy, C added: B is reported withdrawn at once,
	// C starts unhealthy, A keeps its verdict and counts.
	before := g.status(pfxA)
	if err := g.s.Apply(cfgFor([]string{pfxA, pfxC}, []string{tgA1, tgC}, "example.org")); err != nil {
		t.Fatal(err)
	}
	g.expectEvents(event{pfxB, false})
	if got := g.status(pfxA); !got.Healthy || got.Successes != before.Successes || got.LastChange != before.LastChange {
		t.Errorf("A after Apply: %+v, want unchanged %+v", got, before)
	}
	if st := g.status(pfxC); st.Healthy || st.Successes != 0 {
		t.Errorf("new prefix C: %+v, want unhealthy with no successes", st)
	}
	if n := len(g.s.Status()); n != 2 {
		t.Errorf("Status has %d prefixes, want 2", n)
	}
	g.step(3)
	g.expectEvents(event{pfxC, true})
	if q := g.probe.lastQuery(); q != (Query{Zone: "example.org."}) {
		t.Errorf("query after Apply = %+v, want the SOA of example.org.", q)
	}

	// A's target moves to an address that does not answer: A stays up
	// through the change and falls after Fall rounds, as any failure.
	g.probe.set(tgA2, false)
	if err := g.s.Apply(cfgFor([]string{pfxA, pfxC}, []string{tgA2, tgC}, "example.org")); err != nil {
		t.Fatal(err)
	}
	g.expectEvents()
	g.step(2)
	g.expectEvents(event{pfxA, false})
	if st := g.status(pfxA); len(st.Targets) != 1 || st.Targets[0].String() != tgA2 {
		t.Errorf("A targets = %v, want [%s]", st.Targets, tgA2)
	}

	// A bad config changes nothing.
	if err := g.s.Apply(cfgFor([]string{"not a prefix"}, nil)); err == nil {
		t.Error("Apply of a bad prefix succeeded")
	}
	if n := len(g.s.Status()); n != 2 {
		t.Errorf("after a failed Apply, Status has %d prefixes, want 2", n)
	}
}

// TestApplyDropsStaleRound checks that a round probed before an Apply is
// not counted against the new config.
func TestApplyDropsStaleRound(t *testing.T) {
	g := startGate(t, cfgFor([]string{pfxA}, []string{tgA1}), Options{}, nil)
	epoch := g.s.epoch
	if err := g.s.Apply(cfgFor([]string{pfxA}, []string{tgA2})); err != nil {
		t.Fatal(err)
	}
	before := g.status(pfxA)
	g.s.record(epoch, map[netip.AddrPort]error{netip.MustParseAddrPort(tgA1): nil})
	if got := g.status(pfxA); got.Successes != before.Successes {
		t.Errorf("stale round counted: successes %d, want %d", got.Successes, before.Successes)
	}
}

// TestStopFailsClosed checks that ending Run withdraws every prefix.
func TestStopFailsClosed(t *testing.T) {
	g := startGate(t, cfgFor([]string{pfxA, pfxB}, []string{tgA1}), Options{}, nil)
	g.step(2)
	g.expectEvents(event{pfxA, true})
	g.stop()
	g.expectEvents(event{pfxA, false})
	for _, st := range g.s.Status() {
		if st.Healthy || !errors.Is(st.LastError, ErrStopped) || st.Successes != 0 {
			t.Errorf("after stop: %+v, want unhealthy with ErrStopped", st)
		}
	}
}

// TestNoPrefixes checks a lab node that announces nothing: nothing to
// gate, so healthy.
func TestNoPrefixes(t *testing.T) {
	g := startGate(t, cfgFor(nil, []string{tgA1}), Options{}, nil)
	g.step(3)
	g.expectEvents()
	if err := g.s.Health(); err != nil {
		t.Errorf("Health() = %v, want nil", err)
	}
}

// TestTimes checks the status times against the fake clock.
func TestTimes(t *testing.T) {
	g := startGate(t, cfgFor([]string{pfxA}, []string{tgA1}), Options{}, nil)
	start := g.clk.Now()
	if st := g.status(pfxA); st.LastChange != start || st.LastProbe != start {
		t.Errorf("first round: change %v probe %v, want both %v", st.LastChange, st.LastProbe, start)
	}
	g.step(2)
	if st, want := g.status(pfxA), start.Add(2*testInterval); st.LastChange != want || st.LastProbe != want {
		t.Errorf("turned healthy: change %v probe %v, want both %v", st.LastChange, st.LastProbe, want)
	}
}

// TestFailureBound checks that the defaults leave BGP more than a second
// of the two-second withdrawal budget.
func TestFailureBound(t *testing.T) {
	if got, want := (Options{}).FailureBound(), 850*time.Millisecond; got != want {
		t.Errorf("default FailureBound = %v, want %v", got, want)
	}
	if got, want := (Options{Interval: time.Second, Timeout: 100 * time.Millisecond, Fall: 3}).FailureBound(), 3100*time.Millisecond; got != want {
		t.Errorf("FailureBound = %v, want %v", got, want)
	}
}
