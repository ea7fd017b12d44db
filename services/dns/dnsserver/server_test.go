package dnsserver

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	"go.uber.org/goleak"

	authdns "github.com/goleudy/goleudy/services/dns"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const zoneText = `
$ORIGIN example.com.
$TTL 300
@       SOA   ns1 hostmaster 1 3600 600 86400 300
@       NS    ns1
ns1     A     192.0.2.1
www     A     192.0.2.80
www     AAAA  2001:db8::80
big     TXT   "` + "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" + `"
big     TXT   "` + "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb" + `"
big     TXT   "` + "ccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc" + `"
big     TXT   "` + "ddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd" + `"
big     TXT   "` + "eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee" + `"
big     TXT   "` + "fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff" + `"
`

func newBackend(t testing.TB, text string) *authdns.Zones {
	t.Helper()
	z, err := authdns.ParseZone(strings.NewReader(text), "example.com.", "test")
	if err != nil {
		t.Fatal(err)
	}
	b := authdns.NewZones()
	if err := b.Add(z); err != nil {
		t.Fatal(err)
	}
	return b
}

// serve runs a server on a free loopback port until the test ends.
func serve(t testing.TB, b Backend, o Options) (*Server, string) {
	t.Helper()
	if o.Listen == nil {
		o.Listen = []string{"127.0.0.1:0"}
	}
	s := New(o, b, nil, nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	deadline := time.Now().Add(5 * time.Second)
	for len(s.Addrs()) == 0 {
		select {
		case err := <-done:
			done <- err // for the cleanup
			t.Fatalf("server stopped: %v", err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("server did not bind")
		}
		time.Sleep(time.Millisecond)
	}
	return s, s.Addrs()[0]
}

func ask(t testing.TB, addr, network string, m *dns.Msg) *dns.Msg {
	t.Helper()
	c := &dns.Client{Net: network, Timeout: 2 * time.Second, UDPSize: 65535}
	r, _, err := c.Exchange(m, addr)
	if err != nil {
		t.Fatalf("%s %s: %v", network, m.Question[0].String(), err)
	}
	return r
}

func question(name string, qtype uint16) *dns.Msg {
	m := new(dns.Msg)
	m.SetQuestion(name, qtype)
	return m
}

func TestAnswers(t *testing.T) {
	b := newBackend(t, zoneText)
	_, addr := serve(t, b, Options{Identity: "alban", NSID: "alban-nsid"})
	for _, network := range []string{"udp", "tcp"} {
		for i := range 3 { // the second and third come from the cache
			m := question("WwW.Example.COM.", dns.TypeA)
			m.Id = uint16(100 + i)
			m.RecursionDesired = i%2 == 0
			r := ask(t, addr, network, m)
			if r.Id != m.Id || r.Rcode != dns.RcodeSuccess || !r.Authoritative || r.RecursionAvailable ||
				r.RecursionDesired != m.RecursionDesired || r.Question[0].Name != "WwW.Example.COM." {
				t.Fatalf("%s #%d: %v", network, i, r)
			}
			if len(r.Answer) != 1 || r.Answer[0].(*dns.A).A.String() != "192.0.2.80" {
				t.Fatalf("answer: %v", r.Answer)
			}
			if r.IsEdns0() != nil {
				t.Error("OPT in a response to a query without EDNS")
			}
		}
	}
	// Outside our zones.
	if r := ask(t, addr, "udp", question("example.net.", dns.TypeA)); r.Rcode != dns.RcodeRefused {
		t.Errorf("out of zone: %v", r)
	}
}

func TestEDNS(t *testing.T) {
	b := newBackend(t, zoneText)
	_, addr := serve(t, b, Options{NSID: "alban"})
	m := question("www.example.com.", dns.TypeA)
	m.SetEdns0(4096, true)
	m.IsEdns0().Option = append(m.IsEdns0().Option, &dns.EDNS0_NSID{Code: dns.EDNS0NSID})
	r := ask(t, addr, "udp", m)
	opt := r.IsEdns0()
	if opt == nil || opt.UDPSize() != DefaultUDPSize || !opt.Do() || opt.Version() != 0 {
		t.Fatalf("OPT = %v", opt)
	}
	if len(opt.Option) != 1 || opt.Option[0].(*dns.EDNS0_NSID).Nsid != hexString("alban") {
		t.Errorf("NSID = %v", opt.Option)
	}
	// Without the NSID option, no NSID.
	m = question("www.example.com.", dns.TypeA)
	m.SetEdns0(1232, false)
	if r := ask(t, addr, "udp", m); len(r.IsEdns0().Option) != 0 || r.IsEdns0().Do() {
		t.Errorf("unrequested NSID or DO: %v", r.IsEdns0())
	}
	// EDNS version 1 gets BADVERS with version 0.
	m = question("www.example.com.", dns.TypeA)
	m.SetEdns0(1232, false)
	m.IsEdns0().SetVersion(1)
	r = ask(t, addr, "udp", m)
	if r.Rcode != dns.RcodeBadVers || r.IsEdns0() == nil || r.IsEdns0().Version() != 0 || len(r.Answer) != 0 {
		t.Errorf("BADVERS: %v", r)
	}
}

func TestTruncation(t *testing.T) {
	b := newBackend(t, zoneText)
	_, addr := serve(t, b, Options{})
	r := ask(t, addr, "udp", question("big.example.com.", dns.TypeTXT))
	if !r.Truncated || len(r.Answer) != 0 {
		t.Errorf("no EDNS, 600 bytes of TXT: TC=%v with %d answers", r.Truncated, len(r.Answer))
	}
	m := question("big.example.com.", dns.TypeTXT)
	m.SetEdns0(1232, false)
	if r = ask(t, addr, "udp", m); r.Truncated || len(r.Answer) != 6 {
		t.Errorf("EDNS 1232: TC=%v with %d answers", r.Truncated, len(r.Answer))
	}
	if r = ask(t, addr, "tcp", question("big.example.com.", dns.TypeTXT)); r.Truncated || len(r.Answer) != 6 {
		t.Errorf("TCP: TC=%v with %d answers", r.Truncated, len(r.Answer))
	}
}

func TestChaos(t *testing.T) {
	b := newBackend(t, zoneText)
	s, addr := serve(t, b, Options{Identity: "alban"})
	chaos := func(name string) *dns.Msg {
		m := question(name, dns.TypeTXT)
		m.Question[0].Qclass = dns.ClassCHAOS
		return ask(t, addr, "udp", m)
	}
	for _, name := range []string{"id.server.", "HOSTNAME.BIND."} {
		r := chaos(name)
		if r.Rcode != dns.RcodeSuccess || len(r.Answer) != 1 || r.Answer[0].(*dns.TXT).Txt[0] != "alban" || r.Answer[0].Header().Class != dns.ClassCHAOS {
			t.Errorf("%s: %v", name, r)
		}
	}
	if r := chaos("version.bind."); r.Rcode != dns.RcodeRefused {
		t.Errorf("hidden version: %v", r)
	}
	s.SetOptions(Options{Identity: "alban", Version: "goleudy 1.0"})
	if r := chaos("version.bind."); r.Rcode != dns.RcodeSuccess || r.Answer[0].(*dns.TXT).Txt[0] != "goleudy 1.0" {
		t.Errorf("version: %v", r)
	}
}

func TestFormErr(t *testing.T) {
	b := newBackend(t, zoneText)
	_, addr := serve(t, b, Options{})
	c, err := net.Dial("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// A header claiming one question, then garbage.
	c.Write([]byte{0xbe, 0xef, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 63, 'x'})
	c.SetReadDeadline(time.Now().Add(2 * time.Second))
	buf := make([]byte, 512)
	n, err := c.Read(buf)
	if err != nil {
		t.Fatal(err)
	}
	var r dns.Msg
	if err := r.Unpack(buf[:n]); err != nil || r.Id != 0xbeef || !r.Response || r.Rcode != dns.RcodeFormatError || !r.RecursionDesired {
		t.Errorf("FORMERR: %v %v", r, err)
	}
}

func TestTCPPipelining(t *testing.T) {
	b := newBackend(t, zoneText)
	_, addr := serve(t, b, Options{})
	conn, err := dns.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	names := []string{"www.example.com.", "ns1.example.com.", "nope.example.com."}
	for i, n := range names {
		m := question(n, dns.TypeA)
		m.Id = uint16(i + 1)
		if err := conn.WriteMsg(m); err != nil {
			t.Fatal(err)
		}
	}
	conn.SetReadDeadline(time.Now().Add(2 * time.Second))
	for i, n := range names {
		r, err := conn.ReadMsg()
		if err != nil {
			t.Fatal(err)
		}
		if r.Id != uint16(i+1) || r.Question[0].Name != n {
			t.Errorf("response %d: %v", i, r)
		}
	}
}

func TestGenerationInvalidatesCache(t *testing.T) {
	b := newBackend(t, zoneText)
	_, addr := serve(t, b, Options{})
	ask(t, addr, "udp", question("www.example.com.", dns.TypeA))
	z, err := authdns.ParseZone(strings.NewReader(strings.Replace(zoneText, "192.0.2.80", "192.0.2.81", 1)), "example.com.", "v2")
	if err != nil {
		t.Fatal(err)
	}
	b.Replace(z)
	r := ask(t, addr, "udp", question("www.example.com.", dns.TypeA))
	if got := r.Answer[0].(*dns.A).A.String(); got != "192.0.2.81" {
		t.Errorf("after a zone change the server still answers %s", got)
	}
}

func TestBindError(t *testing.T) {
	b := newBackend(t, zoneText)
	l, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	s := New(Options{Listen: []string{l.LocalAddr().String()}}, b, nil, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err = s.Run(ctx)
	if err == nil || !strings.Contains(err.Error(), l.LocalAddr().String()) {
		t.Errorf("binding a used port: %v", err)
	}
}

func TestIPv6(t *testing.T) {
	b := newBackend(t, zoneText)
	_, addr := serve(t, b, Options{Listen: []string{"[::1]:0"}})
	for _, network := range []string{"udp", "tcp"} {
		r := ask(t, addr, network, question("www.example.com.", dns.TypeAAAA))
		if len(r.Answer) != 1 || r.Answer[0].(*dns.AAAA).AAAA.String() != "2001:db8::80" {
			t.Errorf("%s over IPv6: %v", network, r)
		}
	}
}
