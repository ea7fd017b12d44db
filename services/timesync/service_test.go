package timesync

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/goleudy/goleudy/services/clock/clocktest"
)

var (
	unixEpoch = time.Unix(0, 0).UTC() // where a Pi without an RTC boots
	floorTime = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	realTime  = time.Date(2025, 9, 1, 8, 30, 0, 0, time.UTC) // what the servers say
)

// setter stands in for clock_settime: it moves the fake clock.
type setter struct {
	clk *clocktest.Fake
	err error

	mu    sync.Mutex
	calls []time.Time
}

func (s *setter) set(t time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = append(s.calls, t)
	if s.err != nil {
		return s.err
	}
	s.clk.Set(t)
	return nil
}

func (s *setter) called() []time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Time(nil), s.calls...)
}

// fixture is a Service on a fake clock with a fake setter.
type fixture struct {
	dir string
	clk *clocktest.Fake
	set *setter
	svc *Service
}

func newFixture(t *testing.T, start time.Time, o Options) *fixture {
	t.Helper()
	f := &fixture{dir: o.Dir, clk: clocktest.NewFake(start)}
	if f.dir == "" {
		f.dir = t.TempDir()
	}
	f.set = &setter{clk: f.clk}
	o.Dir, o.Clock, o.Setter, o.Log = f.dir, f.clk, f.set.set, testLog(t)
	if o.Timeout == 0 {
		o.Timeout = 300 * time.Millisecond
	}
	svc, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	f.svc = svc
	return f
}

func writeFloor(t *testing.T, dir string, tm time.Time) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, FloorFile), []byte(tm.Format(time.RFC3339)+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
}

func readFloor(t *testing.T, dir string) time.Time {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, FloorFile))
	if err != nil {
		t.Fatal(err)
	}
	tm, err := ParseFloor(data)
	if err != nil {
		t.Fatal(err)
	}
	return tm
}

// run runs the Service until the test ends, then checks that it stops
// promptly and cleanly.
func (f *fixture) run(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- f.svc.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(5 * time.Second):
			t.Error("Run did not return within 5s of cancel")
		}
	})
}

// eventually polls cond for up to 5s of real time.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func within(a, b time.Time, d time.Duration) bool { return a.Sub(b).Abs() <= d }

func TestBootClockBelowFloor(t *testing.T) {
	dir := t.TempDir()
	writeFloor(t, dir, floorTime)
	f := newFixture(t, unixEpoch, Options{Dir: dir, SetClock: true})
	if got := f.set.called(); len(got) != 1 || !got[0].Equal(floorTime) {
		t.Fatalf("setter calls %v, want one to %v", got, floorTime)
	}
	now, ok := f.svc.Trusted()
	if !ok || !now.Equal(floorTime) {
		t.Errorf("Trusted() = %v, %v; want %v, true", now, ok, floorTime)
	}
	st := f.svc.Status()
	if st.Synced || !st.SteppedToFloor || !st.Floor.Equal(floorTime) {
		t.Errorf("Status = %+v; want unsynced, stepped to floor %v", st, floorTime)
	}
	if f.svc.Name() != "timesync" {
		t.Errorf("Name() = %q", f.svc.Name())
	}
}

// A process that may not set the clock leaves it alone, and a clock
// below the floor is then not trusted.
func TestBootClockBelowFloorNotAllowed(t *testing.T) {
	dir := t.TempDir()
	writeFloor(t, dir, floorTime)
	f := newFixture(t, unixEpoch, Options{Dir: dir})
	if got := f.set.called(); len(got) != 0 {
		t.Fatalf("clock set to %v without SetClock", got)
	}
	if _, ok := f.svc.Trusted(); ok {
		t.Error("a clock below the floor is trusted")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := f.svc.Wait(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Wait = %v, want DeadlineExceeded", err)
	}
}

func TestBootSetterFails(t *testing.T) {
	dir := t.TempDir()
	writeFloor(t, dir, floorTime)
	clk := clocktest.NewFake(unixEpoch)
	svc, err := New(Options{Dir: dir, SetClock: true, Clock: clk, Log: testLog(t),
		Setter: func(time.Time) error { return errors.New("EPERM") }})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := svc.Trusted(); ok || svc.Status().SteppedToFloor {
		t.Error("trusted although the clock could not be set")
	}
}

func TestBootClockAboveFloor(t *testing.T) {
	dir := t.TempDir()
	writeFloor(t, dir, floorTime)
	f := newFixture(t, realTime, Options{Dir: dir, SetClock: true})
	if got := f.set.called(); len(got) != 0 {
		t.Errorf("clock above the floor was set to %v", got)
	}
	if now, ok := f.svc.Trusted(); !ok || !now.Equal(realTime) {
		t.Errorf("Trusted() = %v, %v", now, ok)
	}
}

func TestBootNoFloor(t *testing.T) {
	f := newFixture(t, unixEpoch, Options{SetClock: true})
	if _, ok := f.svc.Trusted(); ok {
		t.Error("trusted with no floor and no sync")
	}
	if len(f.set.called()) != 0 {
		t.Error("clock set with no floor")
	}

	// The image's build time is a floor too.
	g := newFixture(t, unixEpoch, Options{SetClock: true, Epoch: floorTime})
	if now, ok := g.svc.Trusted(); !ok || !now.Equal(floorTime) {
		t.Errorf("with Epoch: Trusted() = %v, %v; want %v, true", now, ok, floorTime)
	}
	if got := readFloor(t, g.dir); !got.Equal(floorTime) {
		t.Errorf("floor file %v, want the epoch %v", got, floorTime)
	}
}

// A damaged floor file does not stop the boot; the next sync rewrites it.
func TestCorruptFloorFile(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, FloorFile), []byte("\x00\x01garbage"), 0o644); err != nil {
		t.Fatal(err)
	}
	srv := startSNTP(t, answering(clockAt(realTime)))
	f := newFixture(t, unixEpoch, Options{Dir: dir, SetClock: true, Servers: []string{srv.addr}})
	if _, ok := f.svc.Trusted(); ok {
		t.Fatal("trusted on a damaged floor")
	}
	f.run(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := f.svc.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	eventually(t, "floor rewritten", func() bool {
		data, _ := os.ReadFile(filepath.Join(dir, FloorFile))
		tm, err := ParseFloor(data)
		return err == nil && within(tm, realTime, 2*time.Second)
	})
}

// The Pi case: boots in 1970, syncs, steps the clock, is trusted and
// records the floor.
func TestServiceSyncs(t *testing.T) {
	srv := startSNTP(t, answering(clockAt(realTime)))
	f := newFixture(t, unixEpoch, Options{SetClock: true, Servers: []string{srv.addr}})
	if _, ok := f.svc.Trusted(); ok {
		t.Fatal("trusted before sync")
	}
	f.run(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := f.svc.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	now, ok := f.svc.Trusted()
	if !ok || !within(now, realTime, 2*time.Second) {
		t.Errorf("Trusted() = %v, %v; want about %v", now, ok, realTime)
	}
	if !within(f.clk.Now(), realTime, 2*time.Second) {
		t.Errorf("clock %v not stepped to about %v", f.clk.Now(), realTime)
	}
	st := f.svc.Status()
	if !st.Synced || st.Server != srv.addr || !within(unixEpoch.Add(st.Offset), realTime, 2*time.Second) || st.LastError != "" {
		t.Errorf("Status = %+v", st)
	}
	if !within(st.LastSync, realTime, 2*time.Second) {
		t.Errorf("LastSync = %v", st.LastSync)
	}
	eventually(t, "floor written", func() bool {
		data, _ := os.ReadFile(filepath.Join(f.dir, FloorFile))
		tm, err := ParseFloor(data)
		return err == nil && within(tm, realTime, 2*time.Second)
	})
}

// Without SetClock the clock is left alone and Trusted corrects for it.
func TestServiceSyncsWithoutSetting(t *testing.T) {
	srv := startSNTP(t, answering(clockAt(realTime)))
	hostClock := realTime.Add(-90 * time.Minute)
	f := newFixture(t, hostClock, Options{Servers: []string{srv.addr}})
	f.run(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := f.svc.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	if len(f.set.called()) != 0 {
		t.Error("clock set without SetClock")
	}
	if !f.clk.Now().Equal(hostClock) {
		t.Errorf("clock moved to %v", f.clk.Now())
	}
	if now, ok := f.svc.Trusted(); !ok || !within(now, realTime, 2*time.Second) {
		t.Errorf("Trusted() = %v, %v; want the server's time %v", now, ok, realTime)
	}
}

// A server that refuses us (DENY) is left alone; one that does not answer
// is retried after a backoff, and the sync succeeds when it answers.
func TestServiceBackoffAndKissOfDeath(t *testing.T) {
	deny := startSNTP(t, func(q sntpRequest) [][]byte {
		r := answer(q, realTime)
		r.stratum, r.refID = 0, "DENY"
		return [][]byte{r.bytes()}
	})
	good := clockAt(realTime)
	late := startSNTP(t, func(q sntpRequest) [][]byte {
		if q.n == 1 {
			return nil // lost
		}
		return [][]byte{answer(q, good()).bytes()}
	})
	f := newFixture(t, unixEpoch, Options{SetClock: true, Servers: []string{deny.addr, late.addr},
		MinBackoff: 10 * time.Second, MaxBackoff: time.Minute})
	f.run(t)

	// The first round fails; Run waits on its retry and floor timers.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := f.clk.BlockUntil(ctx, 2); err != nil {
		t.Fatal(err)
	}
	st := f.svc.Status()
	if st.Synced || st.LastError == "" {
		t.Fatalf("after a failed round: %+v", st)
	}
	if deny.count() != 1 || late.count() != 1 {
		t.Fatalf("queries: deny %d, late %d; want 1 each", deny.count(), late.count())
	}
	f.clk.Advance(8 * time.Second) // below the backoff less its jitter
	if f.clk.Pending() != 2 {
		t.Fatal("retried before the backoff")
	}
	f.clk.Advance(4 * time.Second)
	if err := f.svc.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	st = f.svc.Status()
	if !st.Synced || st.Server != late.addr || st.LastError != "" {
		t.Errorf("Status = %+v; want synced from %s", st, late.addr)
	}
	if deny.count() != 1 {
		t.Errorf("the server that said DENY was asked again (%d queries)", deny.count())
	}
}

// The floor follows a synced clock every FloorEvery.
func TestServiceRaisesFloorHourly(t *testing.T) {
	srv := startSNTP(t, answering(clockAt(realTime)))
	f := newFixture(t, unixEpoch, Options{SetClock: true, Servers: []string{srv.addr},
		Interval: 24 * time.Hour, FloorEvery: time.Hour})
	f.run(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := f.svc.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	if err := f.clk.BlockUntil(ctx, 2); err != nil {
		t.Fatal(err)
	}
	synced := f.clk.Now()
	f.clk.Advance(time.Hour)
	want := synced.Add(time.Hour).Truncate(time.Second)
	eventually(t, "floor raised an hour", func() bool {
		return f.svc.Status().Floor.Equal(want)
	})
	if got := readFloor(t, f.dir); !got.Equal(want) {
		t.Errorf("floor file %v, want %v", got, want)
	}
}

// Unsynced, the floor rises by the time the node has been up, from the
// floor at boot.
func TestServiceRaisesFloorUnsynced(t *testing.T) {
	dir := t.TempDir()
	writeFloor(t, dir, floorTime)
	f := newFixture(t, unixEpoch, Options{Dir: dir, SetClock: true, FloorEvery: time.Hour})
	f.run(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := f.clk.BlockUntil(ctx, 1); err != nil {
		t.Fatal(err)
	}
	f.clk.Advance(time.Hour)
	want := floorTime.Add(time.Hour)
	eventually(t, "floor raised", func() bool { return readFloor(t, dir).Equal(want) })
	if f.svc.Status().Synced {
		t.Error("synced with no servers")
	}
}

// Cancelling Run in the middle of a query returns at once and records
// the floor.
func TestServiceStopsMidQuery(t *testing.T) {
	srv := startSNTP(t, func(sntpRequest) [][]byte { return nil })
	dir := t.TempDir()
	writeFloor(t, dir, floorTime)
	f := newFixture(t, unixEpoch, Options{Dir: dir, SetClock: true, Servers: []string{srv.addr}, Timeout: time.Minute})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- f.svc.Run(ctx) }()
	eventually(t, "query sent", func() bool { return srv.count() == 1 })
	f.clk.Advance(30 * time.Minute) // up 30 minutes, by the clock
	start := time.Now()
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run = %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return")
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("Run took %v to stop", d)
	}
	if got, want := readFloor(t, dir), floorTime.Add(30*time.Minute); !got.Equal(want) {
		t.Errorf("floor at exit %v, want %v", got, want)
	}
}
