package secondary

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/goleudy/goleudy/provision/config"
)

const hubCatalog = "catalog.goleudy.invalid."

// downstream is where the published-zone tests transfer from.
const downstreamSrc = "127.0.0.2:5000"

func hubFixture(t *testing.T, edit ...func(*Options)) *fixture {
	t.Helper()
	return newFixture(t, append([]func(*Options){func(o *Options) {
		o.Downstreams = []Downstream{{Addr: netip.MustParseAddrPort("127.0.0.2:0")}}
	}}, edit...)...)
}

func (f *fixture) publish(origin string, rrs []dns.RR) {
	f.t.Helper()
	if err := f.m.Publish(origin, rrs); err != nil {
		f.t.Fatal(err)
	}
}

// xfrStrings runs a transfer from the downstream and returns its records.
func xfrStrings(t *testing.T, m *Manager, req *dns.Msg) []string {
	t.Helper()
	_, out := collect(t, m, req, nil, downstreamSrc)
	var rrs []dns.RR
	for _, msg := range out {
		if msg.Rcode != dns.RcodeSuccess {
			t.Fatalf("transfer answered %s", dns.RcodeToString[msg.Rcode])
		}
		rrs = append(rrs, msg.Answer...)
	}
	return rrStrings(rrs)
}

func ixfrReq(origin string, serial uint32) *dns.Msg {
	req := new(dns.Msg)
	req.SetIxfr(origin, serial, "invalid.", "invalid.")
	return req
}

func TestPublishServesAndTransfers(t *testing.T) {
	f := hubFixture(t)
	cat := mustBuildCatalog(t, hubCatalog, 1, "a.test.", "b.test.")
	f.publish(hubCatalog, cat)
	f.waitSerial(hubCatalog, 1)

	q := new(dns.Msg)
	q.SetQuestion("version."+hubCatalog, dns.TypeTXT)
	if r := f.store.Answer(q, false); r.Rcode != dns.RcodeSuccess || len(r.Answer) != 1 || !r.Authoritative {
		t.Errorf("query for the version property: %v", r)
	}
	st := f.status(hubCatalog)
	if st.Source != SourceLocal || !st.Loaded || st.Serial != 1 || st.Records != 5 || st.Catalog || st.Expired || !st.NextRefresh.IsZero() {
		t.Errorf("status %+v", st)
	}
	if all := f.m.Status(); len(all) != 1 || all[0].Zone != hubCatalog || all[0].Source != SourceLocal {
		t.Errorf("Status() = %+v", all)
	}

	axfr := new(dns.Msg)
	axfr.SetAxfr(hubCatalog)
	got := xfrStrings(t, f.m, axfr)
	want := append(rrStrings(cat), rrStrings(cat[:1])...)
	// The zone's order after the SOA is its own; compare as sets, framing
	// apart.
	if got[0] != want[0] || got[len(got)-1] != want[0] {
		t.Fatalf("AXFR not framed by the SOA:\n%s", strings.Join(got, "\n"))
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("AXFR:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	// Not a downstream: refused, as for transferred zones.
	_, out := collect(t, f.m, axfr.Copy(), nil, "192.0.2.1:5000")
	if len(out) != 1 || out[0].Rcode != dns.RcodeRefused {
		t.Errorf("transfer to a stranger: %v", out)
	}
	// Nobody may NOTIFY us about it: it has no primary.
	wire, req := notifyMsg(t, hubCatalog, nil)
	if r := unpack(t, f.m.Notify(wire, req, netip.MustParseAddrPort("127.0.0.1:53"))); r.Rcode != dns.RcodeRefused {
		t.Errorf("NOTIFY for a published zone answered %s", dns.RcodeToString[r.Rcode])
	}
}

func TestPublishIXFR(t *testing.T) {
	f := hubFixture(t)
	v1 := mustBuildCatalog(t, hubCatalog, 1, "a.test.", "b.test.")
	v2 := mustBuildCatalog(t, hubCatalog, 2, "a.test.", "b.test.", "c.test.")
	v3 := mustBuildCatalog(t, hubCatalog, 3, "b.test.", "c.test.")
	soa := func(rrs []dns.RR) string { return rrs[0].String() }
	ptr := func(rrs []dns.RR, member string) string {
		for _, rr := range rrs {
			if p, ok := rr.(*dns.PTR); ok && p.Ptr == member {
				return rr.String()
			}
		}
		t.Fatalf("no PTR for %s", member)
		return ""
	}
	f.publish(hubCatalog, v1)
	f.publish(hubCatalog, v2)

	got := xfrStrings(t, f.m, ixfrReq(hubCatalog, 1))
	want := []string{soa(v2), soa(v1), soa(v2), ptr(v2, "c.test."), soa(v2)}
	if !slices.Equal(got, want) {
		t.Fatalf("IXFR from 1:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	f.publish(hubCatalog, v3)
	for _, tc := range []struct {
		from uint32
		want []string
	}{
		{2, []string{soa(v3), soa(v2), ptr(v1, "a.test."), soa(v3), soa(v3)}},
		{1, []string{soa(v3), soa(v1), soa(v2), ptr(v2, "c.test."), soa(v2), ptr(v1, "a.test."), soa(v3), soa(v3)}},
		{3, []string{soa(v3)}},
	} {
		got := xfrStrings(t, f.m, ixfrReq(hubCatalog, tc.from))
		if !slices.Equal(got, tc.want) {
			t.Errorf("IXFR from %d:\n%s\nwant:\n%s", tc.from, strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
		}
	}

	// The journal's diffs apply to the old version, as a downstream
	// applies them.
	f.m.mu.Lock()
	diffs, ok := f.m.zones[hubCatalog].journal.since(1)
	f.m.mu.Unlock()
	if !ok {
		t.Fatal("journal does not reach serial 1")
	}
	rrs, err := applyDiffs(mustZone(t, hubCatalog, v1), diffs)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := zoneStrings(mustZone(t, hubCatalog, rrs)), zoneStrings(mustZone(t, hubCatalog, v3)); !slices.Equal(got, want) {
		t.Errorf("v1 + diffs:\n%s\nwant v3:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestPublishTTLChangeIsADiff(t *testing.T) {
	f := hubFixture(t)
	f.publish("local.test.", soaZone("local.test.", 1, 60, 10, 3600, "www IN A 192.0.2.1"))
	v2 := soaZone("local.test.", 2, 60, 10, 3600, "www 60 IN A 192.0.2.1")
	f.publish("local.test.", v2)
	got := xfrStrings(t, f.m, ixfrReq("local.test.", 1))
	if len(got) != 6 || !strings.Contains(got[2], "\t3600\t") || !strings.Contains(got[4], "\t60\t") {
		t.Fatalf("IXFR for a TTL change:\n%s", strings.Join(got, "\n"))
	}
}

func TestPublishSerials(t *testing.T) {
	f := hubFixture(t)
	v5 := mustBuildCatalog(t, hubCatalog, 5, "a.test.")
	f.publish(hubCatalog, v5)

	for _, tc := range []struct {
		name string
		rrs  []dns.RR
	}{
		{"older serial", mustBuildCatalog(t, hubCatalog, 4, "a.test.", "b.test.")},
		{"same serial, other content", mustBuildCatalog(t, hubCatalog, 5, "a.test.", "b.test.")},
		{"same serial, other SOA timers", func() []dns.RR {
			rrs := mustBuildCatalog(t, hubCatalog, 5, "a.test.")
			rrs[0].(*dns.SOA).Refresh = 120
			return rrs
		}()},
		{"2^31 ahead is not newer", mustBuildCatalog(t, hubCatalog, 5+1<<31, "a.test.", "b.test.")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := f.m.Publish(hubCatalog, tc.rrs)
			if !errors.Is(err, ErrNotNewer) {
				t.Fatalf("err = %v, want ErrNotNewer", err)
			}
			if s, _ := f.store.serial(hubCatalog); s != 5 {
				t.Errorf("serving serial %d after a refused version", s)
			}
			if got := xfrStrings(t, f.m, ixfrReq(hubCatalog, 4)); len(got) != 4+1 {
				t.Errorf("the refused version changed the zone or its journal:\n%s", strings.Join(got, "\n"))
			}
		})
	}

	// The same content again is a no-op, even in another order and case.
	before := f.log.count("zone published")
	again := mustBuildCatalog(t, hubCatalog, 5, "A.TEST")
	slices.Reverse(again)
	if err := f.m.Publish(strings.ToUpper(hubCatalog), again); err != nil {
		t.Fatalf("republishing the same version: %v", err)
	}
	if f.log.count("zone published") != before {
		t.Error("republishing the same version was not a no-op")
	}

	// Serials wrap (RFC 1982).
	f.publish(hubCatalog, mustBuildCatalog(t, hubCatalog, 1<<31, "a.test.", "b.test."))
	f.publish(hubCatalog, mustBuildCatalog(t, hubCatalog, 0xffffffff, "a.test."))
	f.publish(hubCatalog, mustBuildCatalog(t, hubCatalog, 1, "a.test.", "b.test."))
	f.waitSerial(hubCatalog, 1)
	got := xfrStrings(t, f.m, ixfrReq(hubCatalog, 0xffffffff))
	if len(got) != 5 || f.log.count("serving IXFR") != 1 {
		t.Errorf("IXFR across the wrap:\n%s", strings.Join(got, "\n"))
	}
}

func TestPublishRejects(t *testing.T) {
	f := hubFixture(t)
	f.m.Configure([]config.Zone{zoneCfg("example.com.", "192.0.2.1:53")},
		[]config.Zone{zoneCfg("cat.test.", "192.0.2.9:53")}, nil)
	for _, tc := range []struct {
		name    string
		origin  string
		rrs     []dns.RR
		wantErr error
	}{
		{"configured zone", "Example.COM", soaZone("example.com.", 1, 60, 10, 3600), ErrConflict},
		{"configured catalog", "cat.test.", mustBuildCatalog(t, "cat.test.", 1), ErrConflict},
		{"no SOA", "x.test.", soaZone("x.test.", 1, 60, 10, 3600)[1:], ErrMalformed},
		{"out of zone", "x.test.", soaZone("y.test.", 1, 60, 10, 3600), ErrMalformed},
		{"bad name", "x..test.", nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := f.m.Publish(tc.origin, tc.rrs)
			if err == nil || tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			if !strings.Contains(err.Error(), canonical(tc.origin)) && !strings.Contains(err.Error(), tc.origin) {
				t.Errorf("error %q does not name the zone", err)
			}
		})
	}
	if st := f.status("example.com."); st.Source != "config" || st.Loaded {
		t.Errorf("the configured zone changed: %+v", st)
	}
	if len(f.m.Status()) != 2 {
		t.Errorf("zones %+v", f.m.Status())
	}
}

// TestPublishCopiesRecords: the caller may reuse its records.
func TestPublishCopiesRecords(t *testing.T) {
	f := hubFixture(t)
	rrs := mustBuildCatalog(t, hubCatalog, 1, "a.test.")
	f.publish(hubCatalog, rrs)
	rrs[0].(*dns.SOA).Serial = 2
	rrs[3].(*dns.PTR).Ptr = "evil.test."
	if s, _ := f.store.serial(hubCatalog); s != 1 {
		t.Fatalf("the caller's change reached the served zone: serial %d", s)
	}
	if got := xfrStrings(t, f.m, ixfrReq(hubCatalog, 0)); strings.Contains(strings.Join(got, "\n"), "evil") {
		t.Fatalf("the caller's change reached the served zone:\n%s", strings.Join(got, "\n"))
	}
}

func TestConfigureKeepsPublished(t *testing.T) {
	p := startFakePrimary(t)
	p.set("local.test.", soaZone("local.test.", 100, 60, 10, 3600))
	p.set("other.test.", soaZone("other.test.", 1, 60, 10, 3600))
	f := hubFixture(t)
	f.publish("local.test.", soaZone("local.test.", 7, 60, 10, 3600))
	runManager(t, f.m)

	// A configured zone of the published name is ignored, loudly.
	f.m.Configure([]config.Zone{zoneCfg("LOCAL.test.", p.Addr), zoneCfg("other.test.", p.Addr)}, nil, nil)
	f.waitSerial("other.test.", 1)
	if f.log.count("zone is published locally") == 0 {
		t.Error("no warning for the configured zone that is published")
	}
	f.m.Configure(nil, nil, nil)
	waitFor(t, "other.test. removal", func() bool { _, ok := f.store.serial("other.test."); return !ok })
	if st := f.status("local.test."); st.Source != SourceLocal || st.Serial != 7 {
		t.Fatalf("published zone after Configure: %+v", st)
	}
	if s, _ := f.store.serial("local.test."); s != 7 {
		t.Fatalf("serving serial %d, want the published 7", s)
	}

	// Unpublished, the configured zone takes over.
	f.m.Configure([]config.Zone{zoneCfg("local.test.", p.Addr)}, nil, nil)
	if !f.m.Unpublish("local.test.") {
		t.Fatal("Unpublish found nothing")
	}
	f.waitSerial("local.test.", 100)
	if st := f.status("local.test."); st.Source != "config" || st.Primary != p.Addr {
		t.Errorf("status after Unpublish: %+v", st)
	}
	if f.m.Unpublish("local.test.") {
		t.Error("Unpublish removed a configured zone")
	}
	if err := f.m.Publish("local.test.", soaZone("local.test.", 200, 60, 10, 3600)); !errors.Is(err, ErrConflict) {
		t.Errorf("Publish over the configured zone: %v", err)
	}

	// Unpublished with nothing configured: gone.
	f.publish("gone.test.", soaZone("gone.test.", 1, 60, 10, 3600))
	f.m.Unpublish("gone.test.")
	if _, ok := f.store.serial("gone.test."); ok {
		t.Error("unpublished zone still served")
	}
	if _, ok := f.m.ZoneStatus("gone.test."); ok {
		t.Error("unpublished zone still in the status")
	}
}

func TestPublishedNeverRefreshedNorExpired(t *testing.T) {
	f := hubFixture(t)
	f.publish("local.test.", soaZone("local.test.", 1, 60, 10, 3600))
	runManager(t, f.m)
	waitFor(t, "the scheduler", func() bool { return f.clk.Pending() > 0 })

	f.clk.Advance(9 * 7 * 24 * time.Hour) // past any refresh and expire
	waitFor(t, "the scheduler", func() bool { return f.clk.Pending() > 0 })
	if wait := f.m.tick(); wait != idleWait {
		t.Errorf("scheduler wakes in %v for a published zone, want idle (%v)", wait, idleWait)
	}
	f.m.mu.Lock()
	z := f.m.zones["local.test."]
	running, active := z.running, f.m.active
	f.m.mu.Unlock()
	st := f.status("local.test.")
	if running || active != 0 || !st.LastAttempt.IsZero() || st.Failures != 0 || st.Expired {
		t.Fatalf("published zone was refreshed or expired: running %v, %+v", running, st)
	}
	if f.store.Servfail("local.test.") {
		t.Fatal("published zone answers SERVFAIL")
	}
	if s, _ := f.store.serial("local.test."); s != 1 {
		t.Fatalf("serving serial %d", s)
	}
	f.m.trigger("local.test.") // what a NOTIFY would do, were it accepted
	if f.m.tick(); f.status("local.test.").LastAttempt != (time.Time{}) {
		t.Fatal("a trigger refreshed the published zone")
	}
}

// notifySink records the NOTIFYs sent to it and answers them.
type notifySink struct {
	addr string
	conn net.PacketConn
	wg   sync.WaitGroup

	mu  sync.Mutex
	got []string // "zone serial"
}

func startNotifySink(t *testing.T) *notifySink {
	t.Helper()
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &notifySink{addr: c.LocalAddr().String(), conn: c}
	s.wg.Go(func() {
		buf := make([]byte, 65535)
		for {
			n, from, err := c.ReadFrom(buf)
			if err != nil {
				return
			}
			req := new(dns.Msg)
			if req.Unpack(buf[:n]) != nil || req.Opcode != dns.OpcodeNotify || len(req.Question) != 1 || len(req.Answer) != 1 {
				continue
			}
			s.mu.Lock()
			s.got = append(s.got, fmt.Sprintf("%s %d", req.Question[0].Name, req.Answer[0].(*dns.SOA).Serial))
			s.mu.Unlock()
			resp := new(dns.Msg)
			resp.SetReply(req)
			resp.Authoritative = true
			b, _ := resp.Pack()
			c.WriteTo(b, from)
		}
	})
	t.Cleanup(func() {
		c.Close()
		s.wg.Wait()
	})
	return s
}

func (s *notifySink) received() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.got)
}

func TestPublishNotifiesDownstreams(t *testing.T) {
	sink := startNotifySink(t)
	f := newFixture(t, func(o *Options) {
		o.Downstreams = []Downstream{{Addr: netip.MustParseAddrPort(sink.addr)}}
	})
	// Before Run: nothing is sent then, but Run sends it when it starts.
	f.publish(hubCatalog, mustBuildCatalog(t, hubCatalog, 1, "a.test."))
	time.Sleep(20 * time.Millisecond)
	if got := sink.received(); len(got) != 0 {
		t.Fatalf("NOTIFY before Run: %v", got)
	}
	runManager(t, f.m)
	waitFor(t, "NOTIFY at start", func() bool { return slices.Contains(sink.received(), hubCatalog+" 1") })

	f.publish(hubCatalog, mustBuildCatalog(t, hubCatalog, 2, "a.test.", "b.test."))
	waitFor(t, "NOTIFY of serial 2", func() bool { return slices.Contains(sink.received(), hubCatalog+" 2") })

	// A no-op or refused Publish sends nothing.
	f.publish(hubCatalog, mustBuildCatalog(t, hubCatalog, 2, "a.test.", "b.test."))
	f.m.Publish(hubCatalog, mustBuildCatalog(t, hubCatalog, 1, "c.test."))
	time.Sleep(20 * time.Millisecond)
	if got := sink.received(); len(got) != 2 {
		t.Errorf("NOTIFYs %v, want one per version", got)
	}
}

// TestPublishedCatalogConsumed runs the zone hub and a node over real
// sockets: the hub publishes a catalog and its members, the node consumes
// the catalog and follows changes by NOTIFY and IXFR.
func TestPublishedCatalogConsumed(t *testing.T) {
	node := newFixture(t)
	srvNode := startServer(t, node.store, node.m)
	hub := newFixture(t, func(o *Options) {
		o.Downstreams = []Downstream{{Addr: netip.MustParseAddrPort(srvNode)}}
	})
	srvHub := startServer(t, hub.store, hub.m)

	hub.publish("a.test.", soaZone("a.test.", 1, 3600, 600, 86400, "www IN A 192.0.2.1"))
	hub.publish("b.test.", soaZone("b.test.", 1, 3600, 600, 86400))
	hub.publish(hubCatalog, mustBuildCatalog(t, hubCatalog, 1, "a.test.", "b.test."))
	node.m.Configure(nil, []config.Zone{zoneCfg(hubCatalog, srvHub)}, nil)
	runManager(t, hub.m)
	runManager(t, node.m)
	node.waitSerial("a.test.", 1)
	node.waitSerial("b.test.", 1)
	if st := node.status("a.test."); st.Source != hubCatalog {
		t.Errorf("a.test. on the node: %+v", st)
	}

	// c joins and b leaves; a changes.
	hub.publish("c.test.", soaZone("c.test.", 1, 3600, 600, 86400))
	hub.publish(hubCatalog, mustBuildCatalog(t, hubCatalog, 2, "a.test.", "c.test."))
	hub.publish("a.test.", soaZone("a.test.", 2, 3600, 600, 86400, "www IN A 192.0.2.2"))
	node.waitSerial("c.test.", 1)
	node.waitSerial("a.test.", 2)
	waitFor(t, "b.test. removal on the node", func() bool { _, ok := node.store.serial("b.test."); return !ok })
	waitFor(t, "the node's catalog IXFR", func() bool {
		return strings.Contains(node.log.String(), "zone="+hubCatalog+" from_serial=1 serial=2") &&
			node.log.count("via=IXFR") >= 2
	})
	if hub.log.count("serving IXFR") < 2 {
		t.Errorf("the hub did not serve IXFR from its journal:\n%s", hub.log)
	}
	q := new(dns.Msg)
	q.SetQuestion("www.a.test.", dns.TypeA)
	if r := node.store.Answer(q, false); len(r.Answer) != 1 || r.Answer[0].(*dns.A).A.String() != "192.0.2.2" {
		t.Errorf("the node answers %v", r.Answer)
	}
}
