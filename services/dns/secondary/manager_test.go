package secondary

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/goleudy/goleudy/provision/config"
	"github.com/goleudy/goleudy/services/clock/clocktest"
	authdns "github.com/goleudy/goleudy/services/dns"
)

var epoch = time.Now().Truncate(time.Second)

type fixture struct {
	t     *testing.T
	clk   *clocktest.Fake
	store *testStore
	m     *Manager
	log   *testLog
	dir   string
}

func newFixture(t *testing.T, edit ...func(*Options)) *fixture {
	t.Helper()
	f := &fixture{t: t, clk: clocktest.NewFake(epoch), store: newTestStore(), dir: t.TempDir()}
	lg, l := newTestLog()
	f.log = l
	o := Options{Zones: f.store, Clock: f.clk, Log: lg, StateDir: f.dir}
	for _, e := range edit {
		e(&o)
	}
	m, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	f.m = m
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("manager log:\n%s", f.log)
		}
	})
	return f
}

func (f *fixture) waitSerial(origin string, serial uint32) {
	f.t.Helper()
	waitFor(f.t, fmt.Sprintf("%s serial %d", origin, serial), func() bool {
		s, ok := f.store.serial(origin)
		return ok && s == serial
	})
}

func (f *fixture) status(origin string) ZoneStatus {
	s, _ := f.m.ZoneStatus(origin)
	return s
}

// waitIdle waits until no refresh of origin is in flight and the
// scheduler has armed its timer.
func (f *fixture) waitIdle(origin string) {
	f.t.Helper()
	waitFor(f.t, origin+" idle", func() bool {
		f.m.mu.Lock()
		defer f.m.mu.Unlock()
		z := f.m.zones[canonical(origin)]
		return z != nil && z.ready && !z.running && !z.next.IsZero() && f.clk.Pending() > 0
	})
}

// soaZone returns a small zone with the given SOA timers.
func soaZone(origin string, serial, refresh, retry, expire uint32, extra ...string) []dns.RR {
	text := fmt.Sprintf("$TTL 3600\n@ IN SOA ns1 hostmaster %d %d %d %d 300\n@ IN NS ns1\nns1 IN A 192.0.2.53\n", serial, refresh, retry, expire)
	text += strings.Join(extra, "\n")
	zp := dns.NewZoneParser(strings.NewReader(text), origin, "")
	var rrs []dns.RR
	for rr, ok := zp.Next(); ok; rr, ok = zp.Next() {
		rrs = append(rrs, rr)
	}
	if err := zp.Err(); err != nil {
		panic(err)
	}
	return rrs
}

func zoneCfg(name string, primaries ...string) config.Zone {
	return config.Zone{Name: name, Primaries: primaries}
}

func TestManagerAXFRAndRefreshTimer(t *testing.T) {
	p := startFakePrimary(t)
	p.set("example.com.", soaZone("example.com.", 1, 3600, 600, 86400))
	f := newFixture(t)
	f.m.Configure([]config.Zone{zoneCfg("example.com.", p.Addr)}, nil, nil)
	runManager(t, f.m)
	f.waitSerial("example.com.", 1)
	waitFor(t, "the zone file", func() bool { _, err := os.Stat(fileName(f.dir, "example.com.")); return err == nil })
	s := f.status("example.com.")
	if s.Primary != p.Addr || s.Source != "config" || s.Failures != 0 || !s.LastSuccess.Equal(epoch) {
		t.Errorf("status %+v", s)
	}

	// Nothing happens before the refresh timer; at it, the new serial.
	p.set("example.com.", soaZone("example.com.", 2, 3600, 600, 86400, "new IN A 192.0.2.2"))
	f.waitIdle("example.com.")
	f.clk.Advance(3599 * time.Second)
	f.waitIdle("example.com.")
	if s, _ := f.store.serial("example.com."); s != 1 {
		t.Fatalf("refreshed before the refresh timer: serial %d", s)
	}
	f.clk.Advance(time.Second)
	f.waitSerial("example.com.", 2)
	if p.ixfrs.Load() != 1 || p.axfrs.Load() != 1 {
		t.Errorf("transfers: %d AXFR %d IXFR, want an AXFR then an IXFR (answered in full)", p.axfrs.Load(), p.ixfrs.Load())
	}
	if st := f.status("example.com."); !st.NextRefresh.Equal(epoch.Add(2 * time.Hour)) {
		t.Errorf("next refresh %v, want %v", st.NextRefresh, epoch.Add(2*time.Hour))
	}
}

func TestManagerRetryThenExpireThenRecover(t *testing.T) {
	p := startFakePrimary(t)
	zoneV1 := soaZone("example.com.", 1, 60, 10, 3600)
	p.set("example.com.", zoneV1)
	f := newFixture(t)
	f.m.Configure([]config.Zone{zoneCfg("example.com.", p.Addr)}, nil, nil)
	runManager(t, f.m)
	f.waitSerial("example.com.", 1)

	p.set("example.com.", nil) // the primary now refuses
	f.waitIdle("example.com.")
	f.clk.Advance(60 * time.Second)
	waitFor(t, "a failed refresh", func() bool { return f.status("example.com.").Failures == 1 })
	st := f.status("example.com.")
	if !strings.Contains(st.LastError, "example.com.") || !strings.Contains(st.LastError, p.Addr) || !strings.Contains(st.LastError, "REFUSED") {
		t.Errorf("last error %q should name the zone, the primary and the cause", st.LastError)
	}
	f.waitIdle("example.com.")
	if st := f.status("example.com."); !st.NextRefresh.Equal(epoch.Add(70 * time.Second)) {
		t.Errorf("retry at %v, want refresh+retry %v", st.NextRefresh, epoch.Add(70*time.Second))
	}

	// Past expire: SERVFAIL, data kept.
	f.clk.Advance(3600*time.Second - 60*time.Second)
	waitFor(t, "expiry", func() bool { return f.status("example.com.").Expired })
	q := new(dns.Msg)
	q.SetQuestion("ns1.example.com.", dns.TypeA)
	if r := f.store.Answer(q, false); r.Rcode != dns.RcodeServerFailure {
		t.Fatalf("expired zone answered %s, want SERVFAIL", dns.RcodeToString[r.Rcode])
	}

	// The primary comes back: the next retry clears it.
	p.set("example.com.", zoneV1)
	f.waitIdle("example.com.")
	f.clk.Advance(10 * time.Second)
	waitFor(t, "recovery", func() bool { return !f.status("example.com.").Expired })
	if r := f.store.Answer(q, false); r.Rcode != dns.RcodeSuccess || len(r.Answer) != 1 {
		t.Fatalf("recovered zone answered %v", r)
	}
}

func TestManagerFailover(t *testing.T) {
	p := startFakePrimary(t)
	p.set("example.com.", soaZone("example.com.", 5, 3600, 600, 86400))
	f := newFixture(t)
	dead := deadAddr(t)
	f.m.Configure([]config.Zone{zoneCfg("example.com.", dead, p.Addr)}, nil, nil)
	runManager(t, f.m)
	f.waitSerial("example.com.", 5)
	if st := f.status("example.com."); st.Primary != p.Addr || st.Failures != 0 {
		t.Errorf("status %+v, want success from the second primary", st)
	}
}

func TestManagerRejectsBadTransfers(t *testing.T) {
	good := soaZone("example.com.", 1, 3600, 600, 86400)
	v2 := func(extra ...string) []dns.RR { return soaZone("example.com.", 2, 3600, 600, 86400, extra...) }
	for _, tc := range []struct {
		name    string
		stream  func(req *dns.Msg) [][]byte
		limits  Limits
		wantErr error
	}{
		{"different final SOA", func(req *dns.Msg) [][]byte {
			rrs := v2("www IN A 192.0.2.1")
			return packStream(req, append(rrs, soaZone("example.com.", 3, 1, 1, 1)[0]), 10)
		}, Limits{}, ErrMalformed},
		{"out of zone record", func(req *dns.Msg) [][]byte {
			rrs := v2("www.example.net. IN A 192.0.2.1")
			return packStream(req, append(rrs, rrs[0]), 10)
		}, Limits{}, ErrMalformed},
		{"truncated stream", func(req *dns.Msg) [][]byte {
			return packStream(req, v2("www IN A 192.0.2.1"), 10)
		}, Limits{}, ErrMalformed},
		{"garbage message", func(req *dns.Msg) [][]byte {
			return [][]byte{{0, 1, 2, 3, 4, 5}}
		}, Limits{}, ErrMalformed},
		{"CNAME and other data", func(req *dns.Msg) [][]byte {
			rrs := v2("www IN A 192.0.2.1", "www IN CNAME ns1")
			return packStream(req, append(rrs, rrs[0]), 10)
		}, Limits{}, ErrMalformed},
		{"too many records", func(req *dns.Msg) [][]byte {
			var extra []string
			for i := range 50 {
				extra = append(extra, fmt.Sprintf("h%d IN A 192.0.2.1", i))
			}
			rrs := v2(extra...)
			return packStream(req, append(rrs, rrs[0]), 10)
		}, Limits{MaxRecords: 20}, ErrTooLarge},
		{"too many bytes", func(req *dns.Msg) [][]byte {
			rrs := v2("big IN TXT \"" + strings.Repeat("x", 250) + "\"")
			return packStream(req, append(rrs, rrs[0]), 10)
		}, Limits{MaxBytes: 300}, ErrTooLarge},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := startFakePrimary(t)
			p.set("example.com.", good)
			f := newFixture(t, func(o *Options) { o.Limits = tc.limits })
			f.m.Configure([]config.Zone{zoneCfg("example.com.", p.Addr)}, nil, nil)
			runManager(t, f.m)
			f.waitSerial("example.com.", 1)
			f.waitIdle("example.com.")

			p.mu.Lock()
			p.zones["example.com."] = v2()
			p.xfr = tc.stream
			p.mu.Unlock()
			f.clk.Advance(time.Hour)
			waitFor(t, "the failed refresh", func() bool { return f.status("example.com.").Failures > 0 })
			st := f.status("example.com.")
			for _, want := range []string{"example.com.", p.Addr} {
				if !strings.Contains(st.LastError, want) {
					t.Errorf("error %q does not name %s", st.LastError, want)
				}
			}
			if s, _ := f.store.serial("example.com."); s != 1 {
				t.Errorf("serving serial %d, want the old zone (1)", s)
			}
			if !strings.Contains(f.log.String(), "refresh failed") {
				t.Error("no log line for the failed refresh")
			}
			_ = tc.wantErr // the wrapped sentinel is checked in TestTransferErrors
		})
	}
}

func TestTransferErrors(t *testing.T) {
	p := startFakePrimary(t)
	p.set("example.com.", soaZone("example.com.", 2, 3600, 600, 86400))
	p.xfr = func(req *dns.Msg) [][]byte {
		rrs := soaZone("example.com.", 2, 3600, 600, 86400, "x.example.net. IN A 192.0.2.1")
		return packStream(req, append(rrs, rrs[0]), 10)
	}
	_, err := transfer(t.Context(), p.Addr, "example.com.", nil, nil, Limits{MaxRecords: 100, MaxBytes: 1 << 20})
	if !errors.Is(err, ErrMalformed) {
		t.Fatalf("err = %v, want ErrMalformed", err)
	}
}

func TestManagerIXFR(t *testing.T) {
	p := startFakePrimary(t)
	v1 := soaZone("example.com.", 1, 3600, 600, 86400, "www IN A 192.0.2.1")
	p.set("example.com.", v1)
	f := newFixture(t)
	f.m.Configure([]config.Zone{zoneCfg("example.com.", p.Addr)}, nil, nil)
	runManager(t, f.m)
	f.waitSerial("example.com.", 1)

	v2 := soaZone("example.com.", 2, 3600, 600, 86400, "www IN A 192.0.2.2")
	p.mu.Lock()
	p.zones["example.com."] = v2
	chain := []dns.RR{v2[0], v1[0], v1[3], v2[0], v2[3], v2[0]}
	broken := false
	p.ixfr = func(req *dns.Msg) []dns.RR {
		if broken {
			return []dns.RR{v2[0], v2[0], v1[3], v2[0], v2[3], v2[0]} // starts at serial 2
		}
		return chain
	}
	p.mu.Unlock()
	f.waitIdle("example.com.")
	f.clk.Advance(time.Hour)
	f.waitSerial("example.com.", 2)
	if p.axfrs.Load() != 1 || p.ixfrs.Load() != 1 {
		t.Fatalf("%d AXFR %d IXFR, want 1 and 1", p.axfrs.Load(), p.ixfrs.Load())
	}
	q := new(dns.Msg)
	q.SetQuestion("www.example.com.", dns.TypeA)
	if r := f.store.Answer(q, false); len(r.Answer) != 1 || r.Answer[0].(*dns.A).A.String() != "192.0.2.2" {
		t.Fatalf("after IXFR www is %v", r.Answer)
	}

	// A broken chain falls back to AXFR from the same primary.
	v3 := soaZone("example.com.", 3, 3600, 600, 86400, "www IN A 192.0.2.3")
	p.mu.Lock()
	p.zones["example.com."] = v3
	broken = true
	p.mu.Unlock()
	f.waitIdle("example.com.")
	f.clk.Advance(time.Hour)
	f.waitSerial("example.com.", 3)
	if p.axfrs.Load() != 2 || p.ixfrs.Load() != 2 {
		t.Fatalf("%d AXFR %d IXFR, want 2 and 2", p.axfrs.Load(), p.ixfrs.Load())
	}
	if !strings.Contains(f.log.String(), "IXFR failed; trying AXFR") {
		t.Error("no log line for the IXFR fallback")
	}
}

func TestManagerRestartServesFromStateDir(t *testing.T) {
	p := startFakePrimary(t)
	p.set("example.com.", soaZone("example.com.", 7, 3600, 600, 86400))
	p.set("example.net.", soaZone("example.net.", 9, 3600, 600, 86400))
	dir := t.TempDir()
	zones := []config.Zone{zoneCfg("example.com.", p.Addr), zoneCfg("example.net.", p.Addr)}

	f1 := newFixture(t, func(o *Options) { o.StateDir = dir })
	f1.m.Configure(zones, nil, nil)
	ctx, cancel := contextWithCancel()
	done := make(chan error)
	go func() { done <- f1.m.Run(ctx) }()
	f1.waitSerial("example.com.", 7)
	f1.waitSerial("example.net.", 9)
	cancel()
	<-done
	p.stop() // no primary from now on

	f2 := newFixture(t, func(o *Options) { o.StateDir = dir })
	f2.m.Configure(zones, nil, nil)
	start := time.Now()
	runManager(t, f2.m)
	f2.waitSerial("example.com.", 7)
	f2.waitSerial("example.net.", 9)
	t.Logf("served from the state dir %v after Run", time.Since(start))
	st := f2.status("example.com.")
	if st.Failures != 0 && st.Expired {
		t.Errorf("status %+v", st)
	}
}

func TestManagerCorruptFileIsDroppedAndRetransferred(t *testing.T) {
	p := startFakePrimary(t)
	p.set("example.com.", soaZone("example.com.", 3, 3600, 600, 86400))
	f := newFixture(t)
	good, err := encodeZone(mustZone(t, "example.com.", soaZone("example.com.", 2, 3600, 600, 86400)))
	if err != nil {
		t.Fatal(err)
	}
	good[len(good)-3] ^= 0xff
	if err := os.WriteFile(fileName(f.dir, "example.com."), good, 0o644); err != nil {
		t.Fatal(err)
	}
	f.m.Configure([]config.Zone{zoneCfg("example.com.", p.Addr)}, nil, nil)
	runManager(t, f.m)
	f.waitSerial("example.com.", 3)
	if !strings.Contains(f.log.String(), "dropping zone file") || !strings.Contains(f.log.String(), "checksum") {
		t.Errorf("corruption not logged:\n%s", f.log)
	}
	waitFor(t, "the new zone file", func() bool {
		z, _, err := loadZone(f.dir, "example.com.")
		return err == nil && z != nil && z.Serial() == 3
	})
}

func TestManagerStaleFileRefreshesAtOnce(t *testing.T) {
	p := startFakePrimary(t)
	p.set("example.com.", soaZone("example.com.", 3, 3600, 600, 86400))
	f := newFixture(t)
	if err := saveZone(f.dir, mustZone(t, "example.com.", soaZone("example.com.", 2, 3600, 600, 86400))); err != nil {
		t.Fatal(err)
	}
	old := epoch.Add(-2 * time.Hour) // older than refresh, younger than expire
	os.Chtimes(fileName(f.dir, "example.com."), old, old)
	f.m.Configure([]config.Zone{zoneCfg("example.com.", p.Addr)}, nil, nil)
	runManager(t, f.m)
	f.waitSerial("example.com.", 3)

	// A file older than expire is served as expired until refreshed.
	p.set("example.net.", nil)
	if err := saveZone(f.dir, mustZone(t, "example.net.", soaZone("example.net.", 2, 3600, 600, 7200))); err != nil {
		t.Fatal(err)
	}
	older := epoch.Add(-3 * time.Hour)
	os.Chtimes(fileName(f.dir, "example.net."), older, older)
	f.m.Configure([]config.Zone{zoneCfg("example.com.", p.Addr), zoneCfg("example.net.", p.Addr)}, nil, nil)
	if st := f.status("example.net."); !st.Loaded || !st.Expired {
		t.Errorf("status %+v, want loaded and expired", st)
	}
}

func TestConfigureLive(t *testing.T) {
	p := startFakePrimary(t)
	p.set("a.test.", soaZone("a.test.", 1, 3600, 600, 86400))
	p.set("b.test.", soaZone("b.test.", 1, 3600, 600, 86400))
	f := newFixture(t)
	f.m.Configure([]config.Zone{zoneCfg("a.test.", p.Addr)}, nil, nil)
	runManager(t, f.m)
	f.waitSerial("a.test.", 1)

	// Add b; a keeps serving throughout.
	f.m.Configure([]config.Zone{zoneCfg("a.test.", p.Addr), zoneCfg("b.test.", p.Addr)}, nil, nil)
	f.waitSerial("b.test.", 1)
	if _, ok := f.store.serial("a.test."); !ok {
		t.Fatal("a.test. dropped while adding b.test.")
	}

	// New primaries for a: data kept, no transfer needed.
	p2 := startFakePrimary(t)
	p2.set("a.test.", soaZone("a.test.", 1, 3600, 600, 86400))
	gen := f.store.Generation()
	f.m.Configure([]config.Zone{zoneCfg("a.test.", p2.Addr), zoneCfg("b.test.", p.Addr)}, nil, nil)
	if f.store.Generation() != gen {
		t.Error("changing primaries touched the served zones")
	}
	if st := f.status("a.test."); st.Serial != 1 || !st.Loaded {
		t.Errorf("a.test. after primaries change: %+v", st)
	}
	f.m.trigger("a.test.")
	waitFor(t, "refresh from the new primary", func() bool { return f.status("a.test.").Primary == p2.Addr })

	// Remove b: no longer served, file gone.
	f.waitIdle("b.test.")
	f.m.Configure([]config.Zone{zoneCfg("a.test.", p2.Addr)}, nil, nil)
	if _, ok := f.store.serial("b.test."); ok {
		t.Error("b.test. still served after removal")
	}
	if _, err := os.Stat(fileName(f.dir, "b.test.")); !os.IsNotExist(err) {
		t.Errorf("b.test. file still there: %v", err)
	}
	if _, ok := f.m.ZoneStatus("b.test."); ok {
		t.Error("b.test. still in status")
	}
}

func TestNotifyTriggersRefresh(t *testing.T) {
	p := startFakePrimary(t)
	p.set("example.com.", soaZone("example.com.", 1, 3600, 600, 86400))
	f := newFixture(t)
	f.m.Configure([]config.Zone{zoneCfg("example.com.", p.Addr)}, nil, nil)
	runManager(t, f.m)
	f.waitSerial("example.com.", 1)
	f.waitIdle("example.com.")

	p.set("example.com.", soaZone("example.com.", 2, 3600, 600, 86400))
	req := new(dns.Msg)
	req.SetNotify("Example.COM.")
	wire, _ := req.Pack()
	resp := unpack(t, f.m.Notify(wire, req, netip.MustParseAddrPort("127.0.0.1:40000")))
	if resp.Rcode != dns.RcodeSuccess || !resp.Authoritative || resp.Opcode != dns.OpcodeNotify ||
		len(resp.Question) != 1 || resp.Question[0].Name != "Example.COM." || resp.Id != req.Id {
		t.Fatalf("NOTIFY answer %v", resp)
	}
	f.waitSerial("example.com.", 2) // without moving the clock
}

func unpack(tb testing.TB, b []byte) *dns.Msg {
	tb.Helper()
	if b == nil {
		tb.Fatal("no response")
	}
	m := new(dns.Msg)
	if err := m.Unpack(b); err != nil {
		tb.Fatal(err)
	}
	return m
}

// TestPendingZoneServfail: a configured zone whose primary cannot be reached
// answers SERVFAIL, not REFUSED, until it is transferred; removing it from
// the config makes it REFUSED again.
func TestPendingZoneServfail(t *testing.T) {
	p := startFakePrimary(t)
	f := newFixture(t)
	f.m.Configure([]config.Zone{zoneCfg("pending.test.", "127.0.0.1:1")}, nil, nil)
	runManager(t, f.m)
	rcode := func() int {
		return f.store.Lookup(authdns.Question{Name: "www.pending.test.", Type: dns.TypeA, Class: dns.ClassINET}).Rcode
	}
	waitFor(t, "SERVFAIL for the pending zone", func() bool { return rcode() == dns.RcodeServerFailure })
	p.set("pending.test.", soaZone("pending.test.", 1, 3600, 600, 86400))
	f.m.Configure([]config.Zone{zoneCfg("pending.test.", p.Addr)}, nil, nil)
	// The retry timer may be re-armed at any moment by the failing
	// attempts against the old primary, so keep time moving until the
	// transfer from the new one lands.
	waitFor(t, "pending.test. transferred", func() bool {
		f.clk.Advance(time.Minute)
		_, ok := f.store.serial("pending.test.")
		return ok
	})
	if got := rcode(); got != dns.RcodeNameError {
		t.Errorf("after transfer: %s", dns.RcodeToString[got])
	}
	f.m.Configure(nil, nil, nil)
	waitFor(t, "REFUSED after removal", func() bool { return rcode() == dns.RcodeRefused })
}
