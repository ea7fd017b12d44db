package secondary

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/goleudy/goleudy/provision/config"
	"github.com/goleudy/goleudy/services/clock"
	"github.com/goleudy/goleudy/tools/lab"
)

// These tests run a real NSD 4.6 (Debian package nsd) on loopback as the
// primary, through tools/lab. They fail, never skip, when it is missing.

// nsdZone is the text of example.test. at serial, with n host records.
func nsdZone(serial, n int, extra ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "$TTL 3600\n@ IN SOA ns1.example.test. hostmaster.example.test. %d 3600 600 86400 300\n", serial)
	b.WriteString("@ IN NS ns1\nns1 IN A 192.0.2.53\n")
	for i := range n {
		fmt.Fprintf(&b, "h%d IN A 10.0.%d.%d\n", i, i/256%256, i%256)
	}
	for _, e := range extra {
		b.WriteString(e + "\n")
	}
	return b.String()
}

// node is our side: a Manager behind a real dnsserver.
type node struct {
	*fixture
	addr string
}

func startNode(t *testing.T, edit ...func(*Options)) *node {
	f := newFixture(t, edit...)
	return &node{fixture: f, addr: startServer(t, f.store, f.m)}
}

// serial asks our server over UDP.
func (n *node) serial(zone string) (uint32, int, error) {
	q := new(dns.Msg)
	q.SetQuestion(zone, dns.TypeSOA)
	c := &dns.Client{Timeout: time.Second}
	r, _, err := c.Exchange(q, n.addr)
	if err != nil {
		return 0, 0, err
	}
	if r.Rcode != dns.RcodeSuccess || len(r.Answer) == 0 {
		return 0, r.Rcode, nil
	}
	return r.Answer[0].(*dns.SOA).Serial, r.Rcode, nil
}

func (n *node) waitServed(zone string, serial uint32) time.Duration {
	n.t.Helper()
	start := time.Now()
	waitFor(n.t, fmt.Sprintf("%s serial %d served", zone, serial), func() bool {
		s, _, err := n.serial(zone)
		return err == nil && s == serial
	})
	return time.Since(start)
}

func TestNSDTransferNotifyIXFR(t *testing.T) {
	n := startNode(t, func(o *Options) { o.Clock = clock.Real() })
	nsd := lab.StartNSD(t, lab.Options{
		Zones:  []lab.Zone{{Name: "example.test.", Text: nsdZone(1, 1000)}},
		XFR:    true,
		Notify: []string{n.addr},
	})
	n.m.Configure([]config.Zone{zoneCfg("example.test.", nsd.Addr)}, nil, nil)
	runManager(t, n.m)
	n.waitServed("example.test.", 1)
	if st := n.status("example.test."); st.Records != 1003 {
		t.Fatalf("status %+v", st)
	}

	// Each change: NSD reloads, NOTIFYs us, we IXFR and serve it.
	var worst time.Duration
	for serial := 2; serial <= 6; serial++ {
		start := time.Now()
		if err := nsd.UpdateZone("example.test.", nsdZone(serial, 1000, fmt.Sprintf("new%d IN TXT \"change %d\"", serial, serial))); err != nil {
			t.Fatal(err)
		}
		nsdServing := time.Since(start)
		lat := n.waitServed("example.test.", uint32(serial))
		t.Logf("serial %d: NSD serving after %v; we served it %v later (%v after the zone file changed)",
			serial, nsdServing.Round(time.Microsecond), lat.Round(time.Microsecond), (nsdServing + lat).Round(time.Microsecond))
		worst = max(worst, lat)
		if lat > time.Second {
			t.Errorf("serial %d served %v after the primary, want under 1 s", serial, lat)
		}
	}
	t.Logf("NOTIFY → served: worst %v over 5 changes", worst.Round(time.Microsecond))
	if got := n.log.count("via=IXFR"); got != 5 {
		t.Errorf("%d changes came by IXFR, want 5:\n%s", got, n.log)
	}
	q := new(dns.Msg)
	q.SetQuestion("new6.example.test.", dns.TypeTXT)
	if r := n.store.Answer(q, false); len(r.Answer) != 1 {
		t.Fatalf("new6 TXT not served: %v", r)
	}
	if r := n.store.Answer(func() *dns.Msg { q.SetQuestion("new5.example.test.", dns.TypeTXT); return q }(), false); r.Rcode != dns.RcodeNameError {
		t.Fatalf("new5 (deleted by the IXFR) still answers: %v", r)
	}

	// Restart with the state dir and no primary: served at once.
	dir := n.dir
	waitFor(t, "the zone file at serial 6", func() bool {
		z, _, err := loadZone(dir, "example.test.")
		return err == nil && z != nil && z.Serial() == 6
	})
	if err := nsd.Stop(); err != nil {
		t.Fatal(err)
	}
	n2 := startNode(t, func(o *Options) { o.Clock = clock.Real(); o.StateDir = dir })
	n2.m.Configure([]config.Zone{zoneCfg("example.test.", nsd.Addr)}, nil, nil)
	runManager(t, n2.m)
	lat := n2.waitServed("example.test.", 6)
	t.Logf("restart with the primary down: served from the state dir %v after Run", lat.Round(time.Microsecond))
}

func TestNSDTSIG(t *testing.T) {
	key := lab.TSIG{Name: "hub.", Algorithm: "hmac-sha256", Secret: testKey.Secret}
	n := startNode(t, func(o *Options) { o.Clock = clock.Real() })
	// Big enough that NSD leaves messages unsigned between signed ones.
	nsd := lab.StartNSD(t, lab.Options{
		Zones:  []lab.Zone{{Name: "example.test.", Text: nsdZone(1, 60_000)}},
		XFR:    true,
		TSIG:   &key,
		Notify: []string{n.addr},
	})
	zc := zoneCfg("example.test.", nsd.Addr)
	zc.TSIG = "hub."
	n.m.Configure([]config.Zone{zc}, nil, []config.TSIGKey{testKey})
	runManager(t, n.m)
	n.waitServed("example.test.", 1)

	if err := nsd.UpdateZone("example.test.", nsdZone(2, 60_000, "x IN TXT signed")); err != nil {
		t.Fatal(err)
	}
	lat := n.waitServed("example.test.", 2)
	t.Logf("TSIG: NOTIFY → served %v", lat)
	if n.log.count("bad TSIG") != 0 {
		t.Errorf("signed NOTIFY refused:\n%s", n.log)
	}

	// The wrong secret: NSD refuses, we keep serving what we have.
	n.m.Configure([]config.Zone{zc}, nil, []config.TSIGKey{{Name: "hub.", Algorithm: "hmac-sha256", Secret: otherKey.Secret}})
	if err := nsd.UpdateZone("example.test.", nsdZone(3, 60_000)); err != nil {
		t.Fatal(err)
	}
	n.m.trigger("example.test.")
	waitFor(t, "the failed refresh", func() bool { return n.status("example.test.").Failures > 0 })
	if s, _, _ := n.serial("example.test."); s != 2 {
		t.Errorf("serving %d after a failed signed refresh, want 2", s)
	}
}

func TestNSDFailover(t *testing.T) {
	n := startNode(t, func(o *Options) { o.Clock = clock.Real() })
	nsd := lab.StartNSD(t, lab.Options{Zones: []lab.Zone{{Name: "example.test.", Text: nsdZone(4, 10)}}, XFR: true})
	dead := deadAddr(t)
	n.m.Configure([]config.Zone{zoneCfg("example.test.", dead, nsd.Addr)}, nil, nil)
	runManager(t, n.m)
	n.waitServed("example.test.", 4)
	if st := n.status("example.test."); st.Primary != nsd.Addr {
		t.Errorf("status %+v, want the second primary", st)
	}
}

func TestNSDOversizedRejected(t *testing.T) {
	n := startNode(t, func(o *Options) { o.Clock = clock.Real(); o.Limits.MaxRecords = 500 })
	nsd := lab.StartNSD(t, lab.Options{
		Zones:  []lab.Zone{{Name: "example.test.", Text: nsdZone(1, 100)}},
		XFR:    true,
		Notify: []string{n.addr},
	})
	n.m.Configure([]config.Zone{zoneCfg("example.test.", nsd.Addr)}, nil, nil)
	runManager(t, n.m)
	n.waitServed("example.test.", 1)
	if err := nsd.UpdateZone("example.test.", nsdZone(2, 1000)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the rejected transfer", func() bool { return n.status("example.test.").Failures > 0 })
	st := n.status("example.test.")
	if !strings.Contains(st.LastError, "exceeds limits") || !strings.Contains(st.LastError, nsd.Addr) {
		t.Errorf("error %q should say the limit and name the primary", st.LastError)
	}
	if s, _, _ := n.serial("example.test."); s != 1 {
		t.Errorf("serving %d, want the old zone", s)
	}
}

func TestNSDExpiry(t *testing.T) {
	n := startNode(t) // fake clock
	nsd := lab.StartNSD(t, lab.Options{Zones: []lab.Zone{{Name: "example.test.", Text: nsdZone(1, 10)}}, XFR: true})
	n.m.Configure([]config.Zone{zoneCfg("example.test.", nsd.Addr)}, nil, nil)
	runManager(t, n.m)
	n.waitServed("example.test.", 1)
	if err := nsd.Stop(); err != nil {
		t.Fatal(err)
	}
	n.waitIdle("example.test.")
	n.clk.Advance(86400 * time.Second) // the SOA expire
	waitFor(t, "expiry", func() bool {
		_, rcode, err := n.serial("example.test.")
		return err == nil && rcode == dns.RcodeServerFailure
	})
}
