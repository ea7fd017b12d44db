package netconf

import (
	"context"
	"errors"
	"net/netip"
	"testing"
	"time"

	"github.com/goleudy/goleudy/services/clock/clocktest"
)

// A worker alone, on a fake clock and a scripted client: every timing of
// the lease state machine is checked to the second without waiting.
type workerRig struct {
	w      *leaseWorker
	c      *fakeClient
	clk    *clocktest.Fake
	events chan leaseEvent
}

func newWorkerRig(t *testing.T) *workerRig {
	r := &workerRig{
		c: &fakeClient{name: "dhcp4 eth0", acquireC: make(chan result), renewC: make(chan result),
			rebindC: make(chan result), calls: make(chan string, 64)},
		clk:    clocktest.NewFake(epoch),
		events: make(chan leaseEvent, 16),
	}
	tn := defaultTuning()
	r.w = newLeaseWorker(SourceDHCP4, "eth0", r.c, r.clk, testLogger(t), tn, r.events)
	r.w.start(context.Background())
	t.Cleanup(func() {
		r.w.stop()
		if !r.c.closed {
			t.Error("worker did not close its client")
		}
	})
	return r
}

// parked waits until the worker sleeps on its one timer.
func (r *workerRig) parked(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := r.clk.BlockUntil(ctx, 1); err != nil {
		t.Fatal(err)
	}
}

// at moves the clock to epoch+d once the worker is parked.
func (r *workerRig) at(t *testing.T, d time.Duration) {
	t.Helper()
	r.parked(t)
	r.clk.Set(epoch.Add(d))
}

// step moves the clock on by d once the worker is parked. If that fires
// the worker's timer, it returns what the worker did next: an exchange or
// an event.
func (r *workerRig) step(t *testing.T, d time.Duration) (string, *leaseEvent) {
	t.Helper()
	r.parked(t)
	r.clk.Advance(d)
	if r.clk.Pending() > 0 {
		return "", nil
	}
	select {
	case c := <-r.c.calls:
		// The worker reports before it starts a new exchange.
		select {
		case ev := <-r.events:
			return c, &ev
		default:
			return c, nil
		}
	case ev := <-r.events:
		return "", &ev
	case <-time.After(5 * time.Second):
		t.Fatal("the worker's timer fired but it did nothing")
		return "", nil
	}
}

func (r *workerRig) quiet(t *testing.T, what string) {
	t.Helper()
	select {
	case got := <-r.c.calls:
		t.Fatalf("%s: unexpected %s", what, got)
	case ev := <-r.events:
		t.Fatalf("%s: unexpected event %+v", what, ev)
	case <-time.After(20 * time.Millisecond):
	}
}

func (r *workerRig) event(t *testing.T) leaseEvent {
	t.Helper()
	select {
	case ev := <-r.events:
		return ev
	case <-time.After(5 * time.Second):
		t.Fatal("no lease event within 5s")
		return leaseEvent{}
	}
}

func TestLeaseRenewRebindExpire(t *testing.T) {
	r := newWorkerRig(t)
	r.c.expect(t, "acquire")
	r.c.answer(t, r.c.acquireC, lease4("10.0.0.50/24", "10.0.0.1", time.Hour), nil)
	ev := r.event(t)
	if ev.lost || ev.lease.addr.String() != "10.0.0.50/24" || !ev.lease.start.Equal(epoch) {
		t.Fatalf("first event %+v", ev)
	}
	// T1 is half the lease: nothing before it.
	r.at(t, 30*time.Minute-time.Second)
	r.quiet(t, "before T1")
	r.clk.Set(epoch.Add(30 * time.Minute))
	r.c.expect(t, "renew")
	r.c.answer(t, r.c.renewC, nil, errors.New("no answer"))
	// Retry after half the time to T2 (52m30s): 11m15s.
	r.at(t, 41*time.Minute+15*time.Second-time.Second)
	r.quiet(t, "before the renew retry")
	r.clk.Set(epoch.Add(41*time.Minute + 15*time.Second))
	r.c.expect(t, "renew")
	r.c.answer(t, r.c.renewC, lease4("10.0.0.50/24", "10.0.0.1", time.Hour), nil)
	ev = r.event(t)
	renewed := epoch.Add(41*time.Minute + 15*time.Second)
	if ev.lost || !ev.lease.start.Equal(renewed) {
		t.Fatalf("renew event %+v, want start %s", ev, renewed)
	}
	// Renewals keep failing: at least a minute apart, until T2.
	r.at(t, 41*time.Minute+15*time.Second+30*time.Minute)
	r.c.expect(t, "renew")
	fails := 1
	r.c.answer(t, r.c.renewC, nil, errors.New("no answer"))
	for {
		got, _ := r.step(t, time.Minute)
		if got == "" {
			continue
		}
		if got == "rebind" {
			break
		}
		fails++
		r.c.answer(t, r.c.renewC, nil, errors.New("no answer"))
	}
	if now, t2 := r.clk.Now(), renewed.Add(52*time.Minute+30*time.Second); now.Before(t2) {
		t.Fatalf("rebind at %s, before T2 %s", now, t2)
	}
	if fails < 4 {
		t.Errorf("only %d renewals between T1 and T2", fails)
	}
	// Rebinding fails until the lease runs out: the address goes.
	r.c.answer(t, r.c.rebindC, nil, errors.New("no answer"))
	for {
		got, ev := r.step(t, time.Minute)
		switch {
		case ev != nil:
			if !ev.lost || ev.lease.addr.String() != "10.0.0.50/24" {
				t.Fatalf("event %+v, want the lease lost", ev)
			}
			if now, exp := r.clk.Now(), renewed.Add(time.Hour); now.Before(exp) {
				t.Fatalf("lost at %s, before expiry %s", now, exp)
			}
			if got != "acquire" {
				r.c.expect(t, "acquire")
			}
			return
		case got == "rebind":
			r.c.answer(t, r.c.rebindC, nil, errors.New("no answer"))
		case got != "":
			t.Fatalf("%s while rebinding", got)
		}
	}
}

func TestLeaseNakDropsAtOnce(t *testing.T) {
	r := newWorkerRig(t)
	r.c.expect(t, "acquire")
	r.c.answer(t, r.c.acquireC, lease4("10.0.0.50/24", "", 10*time.Minute), nil)
	r.event(t)
	r.at(t, 5*time.Minute)
	r.c.expect(t, "renew")
	r.c.answer(t, r.c.renewC, nil, errNak)
	if ev := r.event(t); !ev.lost {
		t.Fatalf("NAK gave %+v, want lost", ev)
	}
	r.c.expect(t, "acquire")
}

func TestLeaseRedoKeepsOldUntilNew(t *testing.T) {
	r := newWorkerRig(t)
	r.c.expect(t, "acquire")
	r.c.answer(t, r.c.acquireC, lease4("10.0.0.50/24", "", time.Hour), nil)
	r.event(t)
	r.parked(t)
	r.w.redo()
	r.c.expect(t, "acquire") // at once, not at T1
	if now := r.clk.Now(); !now.Equal(epoch) {
		t.Fatalf("redo at %s, want at once", now)
	}
	// No server answers; the old lease stays until it expires.
	r.c.answer(t, r.c.acquireC, nil, ErrNoLease)
	for {
		got, ev := r.step(t, 10*time.Second)
		switch {
		case ev != nil:
			if !ev.lost || r.clk.Now().Before(epoch.Add(time.Hour)) {
				t.Fatalf("event %+v at %s, want lost at expiry", ev, r.clk.Now())
			}
			return
		case got == "acquire":
			r.c.answer(t, r.c.acquireC, nil, ErrNoLease)
		case got != "":
			t.Fatalf("%s while acquiring", got)
		}
	}
}

func TestLeaseRedoNewAddress(t *testing.T) {
	r := newWorkerRig(t)
	r.c.expect(t, "acquire")
	r.c.answer(t, r.c.acquireC, lease4("10.0.0.50/24", "", time.Hour), nil)
	r.event(t)
	r.parked(t)
	r.w.redo()
	r.c.expect(t, "acquire")
	r.c.answer(t, r.c.acquireC, lease4("10.9.0.7/24", "", time.Hour), nil)
	if ev := r.event(t); ev.lost || ev.lease.addr != netip.MustParsePrefix("10.9.0.7/24") {
		t.Fatalf("event %+v, want the new lease", ev)
	}
}

func TestLeaseForeverArmsNothing(t *testing.T) {
	r := newWorkerRig(t)
	r.c.expect(t, "acquire")
	l := lease4("10.0.0.50/24", "", infinite)
	l.forever = true
	r.c.answer(t, r.c.acquireC, l, nil)
	r.event(t)
	time.Sleep(20 * time.Millisecond)
	if n := r.clk.Pending(); n != 0 {
		t.Fatalf("%d timers armed for an infinite lease", n)
	}
	r.clk.Advance(100 * 365 * 24 * time.Hour)
	r.quiet(t, "a century later")
}

func TestAcquireBacksOff(t *testing.T) {
	r := newWorkerRig(t)
	tn := defaultTuning()
	start := r.clk.Now()
	want := tn.retryMin
	for i := range 9 {
		r.c.expect(t, "acquire")
		r.c.answer(t, r.c.acquireC, nil, ErrNoLease)
		r.parked(t)
		r.clk.Set(start.Add(time.Duration(float64(want) * 0.89)))
		r.quiet(t, "before the backoff")
		r.clk.Set(start.Add(time.Duration(float64(want) * 1.11)))
		start = r.clk.Now()
		if i < 8 {
			want = min(2*want, tn.retryMax)
		}
	}
	if want != tn.retryMax {
		t.Errorf("backoff reached %s, want the cap %s", want, tn.retryMax)
	}
	r.c.expect(t, "acquire")
}

// panicky panics in its first exchange, as a parser bug on a strange
// packet would.
type panicky struct {
	*fakeClient
	done bool
}

func (p *panicky) acquire(ctx context.Context) (*lease, error) {
	if !p.done {
		p.done = true
		panic("bad packet")
	}
	return p.fakeClient.acquire(ctx)
}

func TestLeaseWorkerSurvivesPanic(t *testing.T) {
	c := &fakeClient{name: "dhcp4 eth0", acquireC: make(chan result), calls: make(chan string, 8)}
	clk := clocktest.NewFake(epoch)
	events := make(chan leaseEvent, 4)
	w := newLeaseWorker(SourceDHCP4, "eth0", &panicky{fakeClient: c}, clk, testLogger(t), defaultTuning(), events)
	w.start(context.Background())
	defer w.stop()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := clk.BlockUntil(ctx, 1); err != nil {
		t.Fatal(err)
	}
	clk.Advance(defaultTuning().retryMax)
	c.expect(t, "acquire")
	c.answer(t, c.acquireC, lease4("10.0.0.50/24", "", time.Hour), nil)
	if ev := <-events; ev.lost || ev.lease == nil {
		t.Fatalf("event %+v after the restart", ev)
	}
}
