package secondary

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/goleudy/goleudy/provision/config"
	"github.com/goleudy/goleudy/services/dns/dnsserver"
)

// collect calls m.Transfer and returns the messages it sent.
func collect(t *testing.T, m *Manager, req *dns.Msg, key *config.TSIGKey, src string) ([][]byte, []*dns.Msg) {
	t.Helper()
	var wire []byte
	var err error
	if key != nil {
		k, _ := newTSIGKey(*key)
		if wire, _, err = k.sign(req, "", false); err != nil {
			t.Fatal(err)
		}
		req = unpack(t, wire)
	} else if wire, err = req.Pack(); err != nil {
		t.Fatal(err)
	}
	var raw [][]byte
	var out []*dns.Msg
	err = m.Transfer(wire, req, netip.MustParseAddrPort(src), func(b []byte) error {
		if len(b) > 65535 {
			t.Errorf("message of %d bytes", len(b))
		}
		raw = append(raw, append([]byte(nil), b...))
		out = append(out, unpack(t, b))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return raw, out
}

func TestTransferOut(t *testing.T) {
	p := startFakePrimary(t)
	p.set("example.com.", genRecords("example.com.", 5, 20_000))
	f := newFixture(t, func(o *Options) {
		o.Downstreams = []Downstream{
			{Addr: netip.MustParseAddrPort("127.0.0.2:0")},
			{Addr: netip.MustParseAddrPort("127.0.0.3:0"), TSIG: "hub."},
		}
	})
	f.m.Configure([]config.Zone{zoneCfg("example.com.", p.Addr)}, nil, []config.TSIGKey{testKey})
	runManager(t, f.m)
	f.waitSerial("example.com.", 5)

	axfr := new(dns.Msg)
	axfr.SetAxfr("example.com.")
	for _, tc := range []struct {
		name, src string
		key       *config.TSIGKey
		rcode     int
	}{
		{"not a downstream", "192.0.2.1:5000", nil, dns.RcodeRefused},
		{"keyed downstream, unsigned", "127.0.0.3:5000", nil, dns.RcodeNotAuth},
		{"keyed downstream, wrong key", "127.0.0.3:5000", &otherKey, dns.RcodeNotAuth},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, out := collect(t, f.m, axfr.Copy(), tc.key, tc.src)
			if len(out) != 1 || out[0].Rcode != tc.rcode || len(out[0].Answer) != 0 {
				t.Fatalf("got %d messages, first %v; want one %s", len(out), out[0].MsgHdr, dns.RcodeToString[tc.rcode])
			}
		})
	}

	check := func(t *testing.T, out []*dns.Msg) {
		t.Helper()
		n := 0
		for _, m := range out {
			n += len(m.Answer)
		}
		if n != 20_001 || len(out) < 2 {
			t.Fatalf("%d records in %d messages, want 20001 in several", n, len(out))
		}
		first, last := out[0].Answer[0], out[len(out)-1].Answer[len(out[len(out)-1].Answer)-1]
		if first.Header().Rrtype != dns.TypeSOA || last.Header().Rrtype != dns.TypeSOA {
			t.Fatal("not framed by SOAs")
		}
	}
	t.Run("AXFR", func(t *testing.T) {
		_, out := collect(t, f.m, axfr.Copy(), nil, "127.0.0.2:5000")
		check(t, out)
		t.Logf("20001 records in %d messages", len(out))
	})
	t.Run("AXFR with TSIG", func(t *testing.T) {
		req := axfr.Copy()
		k, _ := newTSIGKey(testKey)
		wire, mac, _ := k.sign(req, "", false)
		req = unpack(t, wire)
		var out []*dns.Msg
		v := newStreamVerifier(k, mac)
		err := f.m.Transfer(wire, req, netip.MustParseAddrPort("127.0.0.3:1"), func(b []byte) error {
			m := unpack(t, b)
			out = append(out, m)
			return v.next(append([]byte(nil), b...), m)
		})
		if err != nil {
			t.Fatal(err)
		}
		if err := v.done(); err != nil {
			t.Fatal(err)
		}
		check(t, out)
	})
	t.Run("IXFR current", func(t *testing.T) {
		req := new(dns.Msg)
		req.SetIxfr("example.com.", 5, "ns1.example.com.", "hostmaster.example.com.")
		_, out := collect(t, f.m, req, nil, "127.0.0.2:5000")
		if len(out) != 1 || len(out[0].Answer) != 1 || out[0].Answer[0].(*dns.SOA).Serial != 5 {
			t.Fatalf("IXFR from the current serial: %v", out)
		}
	})
	t.Run("IXFR without journal is AXFR-form", func(t *testing.T) {
		req := new(dns.Msg)
		req.SetIxfr("example.com.", 4, "ns1.example.com.", "hostmaster.example.com.")
		_, out := collect(t, f.m, req, nil, "127.0.0.2:5000")
		check(t, out)
	})
	t.Run("unknown zone", func(t *testing.T) {
		req := new(dns.Msg)
		req.SetAxfr("example.org.")
		_, out := collect(t, f.m, req, nil, "127.0.0.2:5000")
		if len(out) != 1 || out[0].Rcode != dns.RcodeNotAuth {
			t.Fatalf("got %v", out)
		}
	})
}

// TestChain runs two Managers, the second a secondary of the first
// through a real dnsserver: AXFR, then NOTIFY out, IXFR from the journal.
func TestChain(t *testing.T) {
	p := startFakePrimary(t)
	v1 := soaZone("example.com.", 1, 3600, 600, 86400, "www IN A 192.0.2.1")
	p.set("example.com.", v1)

	// B listens first, so that A knows where to send NOTIFY.
	fb := newFixture(t)
	srvB := startServer(t, fb.store, fb.m)
	fa := newFixture(t, func(o *Options) {
		o.Downstreams = []Downstream{{Addr: netip.MustParseAddrPort(srvB)}}
	})
	srvA := startServer(t, fa.store, fa.m)
	fa.m.Configure([]config.Zone{zoneCfg("example.com.", p.Addr)}, nil, nil)
	fb.m.Configure([]config.Zone{zoneCfg("example.com.", srvA)}, nil, nil)
	runManager(t, fa.m)
	fa.waitSerial("example.com.", 1)
	runManager(t, fb.m)
	fb.waitSerial("example.com.", 1)

	// A gets serial 2 by IXFR, NOTIFYs B, B asks A for IXFR.
	v2 := soaZone("example.com.", 2, 3600, 600, 86400, "www IN A 192.0.2.2")
	p.mu.Lock()
	p.zones["example.com."] = v2
	p.ixfr = func(*dns.Msg) []dns.RR { return []dns.RR{v2[0], v1[0], v1[3], v2[0], v2[3], v2[0]} }
	p.mu.Unlock()
	fa.waitIdle("example.com.")
	fa.clk.Advance(time.Hour)
	fa.waitSerial("example.com.", 2)
	fb.waitSerial("example.com.", 2)
	waitFor(t, "B's IXFR log", func() bool { return fb.log.count("via=IXFR") == 1 })
	if fa.log.count("serving IXFR") != 1 {
		t.Errorf("A did not serve B an IXFR from its journal:\n%s", fa.log)
	}
}

// startServer serves store and m on a loopback port until the test ends.
// The server binds UDP port 0 and then TCP on the same port, which may be
// taken: it is retried on a new port then.
func startServer(t *testing.T, store *testStore, m *Manager) string {
	t.Helper()
	for attempt := 1; ; attempt++ {
		srv := dnsserver.New(dnsserver.Options{Listen: []string{"127.0.0.1:0"}}, store, m, nil)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- srv.Run(ctx) }()
		deadline := time.Now().Add(10 * time.Second)
		for len(srv.Addrs()) == 0 && len(done) == 0 && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
		if addrs := srv.Addrs(); len(addrs) > 0 {
			t.Cleanup(func() {
				cancel()
				if err := <-done; err != nil {
					t.Error(err)
				}
			})
			return addrs[0]
		}
		cancel()
		err := <-done
		if attempt == 20 {
			t.Fatalf("dns server did not start: %v", err)
		}
	}
}

// The Manager is what dnsserver calls for NOTIFY and transfers.
var _ dnsserver.Transfers = (*Manager)(nil)
