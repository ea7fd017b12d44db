package secondary

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/goleudy/goleudy/provision/config"
)

var testKey = config.TSIGKey{Name: "hub.", Algorithm: "hmac-sha256", Secret: "c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0"}
var otherKey = config.TSIGKey{Name: "hub.", Algorithm: "hmac-sha256", Secret: "b3RoZXJvdGhlcm90aGVyb3RoZXJvdGhlcg=="}

func notifyMsg(tb testing.TB, zone string, key *config.TSIGKey) ([]byte, *dns.Msg) {
	tb.Helper()
	req := new(dns.Msg)
	req.SetNotify(zone)
	if key == nil {
		b, err := req.Pack()
		if err != nil {
			tb.Fatal(err)
		}
		return b, req
	}
	k, err := newTSIGKey(*key)
	if err != nil {
		tb.Fatal(err)
	}
	b, _, err := k.sign(req, "", false)
	if err != nil {
		tb.Fatal(err)
	}
	m := new(dns.Msg)
	if err := m.Unpack(b); err != nil {
		tb.Fatal(err)
	}
	return b, m
}

func TestNotifyAcceptance(t *testing.T) {
	f := newFixture(t)
	signed := zoneCfg("signed.test.", "127.0.0.1:5300")
	signed.TSIG = "hub."
	f.m.Configure([]config.Zone{
		zoneCfg("example.com.", "192.0.2.1:53", "[2001:db8::1]:5353"),
		signed,
	}, []config.Zone{zoneCfg("catalog.test.", "192.0.2.9:53")}, []config.TSIGKey{testKey})

	primary := netip.MustParseAddrPort("192.0.2.1:1234")
	for _, tc := range []struct {
		name  string
		zone  string
		src   string
		key   *config.TSIGKey
		rcode int
	}{
		{"from primary", "example.com.", "192.0.2.1:1234", nil, dns.RcodeSuccess},
		{"from second primary, any port", "example.com.", "[2001:db8::1]:9999", nil, dns.RcodeSuccess},
		{"v4-mapped primary", "example.com.", "[::ffff:192.0.2.1]:53", nil, dns.RcodeSuccess},
		{"catalog from its primary", "catalog.test.", "192.0.2.9:53", nil, dns.RcodeSuccess},
		{"unknown source", "example.com.", "198.51.100.7:53", nil, dns.RcodeRefused},
		{"primary of another zone", "catalog.test.", primary.String(), nil, dns.RcodeRefused},
		{"unknown zone", "example.org.", primary.String(), nil, dns.RcodeRefused},
		{"signed zone, unsigned NOTIFY", "signed.test.", "127.0.0.1:1", nil, dns.RcodeNotAuth},
		{"signed zone, wrong secret", "signed.test.", "127.0.0.1:1", &otherKey, dns.RcodeNotAuth},
		{"signed zone, good signature", "signed.test.", "127.0.0.1:1", &testKey, dns.RcodeSuccess},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wire, req := notifyMsg(t, tc.zone, tc.key)
			resp := unpack(t, f.m.Notify(wire, req, netip.MustParseAddrPort(tc.src)))
			if resp.Rcode != tc.rcode {
				t.Fatalf("rcode %s, want %s", dns.RcodeToString[resp.Rcode], dns.RcodeToString[tc.rcode])
			}
			if resp.Authoritative != (tc.rcode == dns.RcodeSuccess) || resp.Opcode != dns.OpcodeNotify || !resp.Response {
				t.Errorf("flags: %v", resp.MsgHdr)
			}
			if tc.key != nil && tc.rcode == dns.RcodeSuccess {
				k, _ := newTSIGKey(*tc.key)
				if _, err := k.verify(f.m.Notify(wire, req, netip.MustParseAddrPort(tc.src)), resp, req.IsTsig().MAC); err != nil {
					t.Errorf("answer not signed: %v", err)
				}
			}
		})
	}
}

func TestNotifyRefusalLogIsRateLimited(t *testing.T) {
	f := newFixture(t)
	f.m.Configure([]config.Zone{zoneCfg("example.com.", "192.0.2.1:53")}, nil, nil)
	wire, req := notifyMsg(t, "example.com.", nil)
	bad := netip.MustParseAddrPort("198.51.100.7:53")
	other := netip.MustParseAddrPort("198.51.100.8:53")
	for range 50 {
		f.m.Notify(wire, req, bad)
	}
	f.m.Notify(wire, req, other)
	if n := f.log.count("NOTIFY refused"); n != 2 {
		t.Fatalf("%d log lines for 51 refusals from two sources, want 2:\n%s", n, f.log)
	}
	f.clk.Advance(59 * time.Second)
	f.m.Notify(wire, req, bad)
	if n := f.log.count("NOTIFY refused"); n != 2 {
		t.Fatalf("logged again within the minute")
	}
	f.clk.Advance(time.Second)
	f.m.Notify(wire, req, bad)
	if n := f.log.count("NOTIFY refused"); n != 3 {
		t.Fatalf("%d lines, want a third after a minute", n)
	}
	if !strings.Contains(f.log.String(), "suppressed=50") {
		t.Errorf("the line after the minute should count 50 suppressed:\n%s", f.log)
	}
}

func TestRateLogBounded(t *testing.T) {
	f := newFixture(t)
	r := newRateLog(f.clk, time.Minute, 8)
	for i := range 100 {
		a := netip.AddrFrom4([4]byte{10, 0, 0, byte(i)})
		if ok, _ := r.allow(a); !ok {
			t.Fatalf("first line from a new source %v suppressed", a)
		}
	}
	if len(r.src) > 8 {
		t.Fatalf("remembers %d sources, bound is 8", len(r.src))
	}
}

func TestNotifyCoalesces(t *testing.T) {
	f := newFixture(t)
	f.m.Configure([]config.Zone{zoneCfg("example.com.", "192.0.2.1:53")}, nil, nil)
	f.m.mu.Lock()
	z := f.m.zones["example.com."]
	z.running = true // a refresh in flight
	f.m.mu.Unlock()
	wire, req := notifyMsg(t, "example.com.", nil)
	for range 100 {
		f.m.Notify(wire, req, netip.MustParseAddrPort("192.0.2.1:53"))
	}
	f.m.mu.Lock()
	defer f.m.mu.Unlock()
	if !z.again {
		t.Fatal("NOTIFY during a refresh did not ask for another")
	}
}
