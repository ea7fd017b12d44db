package health

import (
	"context"
	"errors"
	"github.com/goleudy/goleudy/tools/lab"
	"net"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	authdns "github.com/goleudy/goleudy/services/dns"
	"github.com/goleudy/goleudy/services/dns/dnsserver"
)

// These tests run the gate with its defaults and the real prober against
// the project's own DNS server on loopback, in real time. 127.0.0.0/8
// stands in for an anycast prefix, so 127.0.0.1 is a service address.

const zoneText = `
$ORIGIN example.com.
$TTL 300
@    SOA  ns1 hostmaster 1 3600 600 86400 300
@    NS   ns1
ns1  A    192.0.2.1
`

const (
	loopPrefix = "127.0.0.0/8"
	budget     = 2 * time.Second // the end-to-end withdrawal budget
)

// server is a dnsserver running until stopped.
type server struct {
	cancel context.CancelFunc
	done   chan error
	addr   string
}

// startServer serves zones on addr ("127.0.0.1:0" for a free port) and
// returns once it is bound.
func startServer(t *testing.T, addr string, zones *authdns.Zones) *server {
	t.Helper()
	s := dnsserver.New(dnsserver.Options{Listen: []string{addr}, Identity: "node1"}, zones, nil, nil)
	ctx, cancel := context.WithCancel(context.Background())
	srv := &server{cancel: cancel, done: make(chan error, 1)}
	go func() { srv.done <- s.Run(ctx) }()
	t.Cleanup(srv.stop)
	for deadline := time.Now().Add(10 * time.Second); len(s.Addrs()) == 0; time.Sleep(time.Millisecond) {
		select {
		case err := <-srv.done:
			t.Fatalf("dns server: %v", err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("dns server did not bind")
		}
	}
	srv.addr = s.Addrs()[0]
	return srv
}

// stop stops the server and waits until its sockets are closed; it is
// idempotent.
func (s *server) stop() {
	s.cancel()
	if s.done != nil {
		<-s.done
		s.done = nil
	}
}

func zonesWith(t *testing.T, text string) *authdns.Zones {
	t.Helper()
	z, err := authdns.ParseZone(strings.NewReader(text), "example.com.", "test")
	if err != nil {
		t.Fatal(err)
	}
	zs := authdns.NewZones()
	if err := zs.Add(z); err != nil {
		t.Fatal(err)
	}
	return zs
}

// realGate runs the gate with its defaults and the real prober until the
// test ends; its OnChange calls arrive on the returned channel.
func realGate(t *testing.T, listen string, zones ...string) (*Service, <-chan bool) {
	t.Helper()
	ch := make(chan bool, 100)
	s, err := New(cfgFor([]string{loopPrefix}, []string{listen}, zones...), Options{
		OnChange: func(p netip.Prefix, healthy bool) {
			if p.String() == loopPrefix {
				ch <- healthy
			}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	lab.Run(t, s.Run)
	return s, ch
}

// await waits for the OnChange call reporting want and returns how long
// it took from since. It fails the test after limit.
func await(t *testing.T, ch <-chan bool, want bool, since time.Time, limit time.Duration) time.Duration {
	t.Helper()
	select {
	case got := <-ch:
		d := time.Since(since)
		if got != want {
			t.Fatalf("OnChange(%s, %v), want %v", loopPrefix, got, want)
		}
		return d
	case <-time.After(limit):
		t.Fatalf("no OnChange(%s, %v) within %v", loopPrefix, want, limit)
		return 0
	}
}

// TestServerStopsAndStarts stops and restarts the DNS server several
// times and checks that the prefix is withdrawn within the budget and
// comes back, logging the figures.
func TestServerStopsAndStarts(t *testing.T) {
	zones := zonesWith(t, zoneText)
	srv := startServer(t, "127.0.0.1:0", zones)
	addr := srv.addr
	start := time.Now()
	s, ch := realGate(t, addr, "example.com")
	t.Logf("first announce after %v", await(t, ch, true, start, 5*time.Second))

	trials := 5
	if testing.Short() {
		trials = 1
	}
	var down, up []time.Duration
	for range trials {
		srv.stop()
		stopped := time.Now()
		down = append(down, await(t, ch, false, stopped, budget))
		st := s.Status()[0]
		if st.Healthy || st.LastError == nil {
			t.Errorf("server stopped: %+v, want unhealthy with an error", st)
		}
		srv = startServer(t, addr, zones)
		up = append(up, await(t, ch, true, time.Now(), 5*time.Second))
	}
	slices.Sort(down)
	slices.Sort(up)
	t.Logf("server stop → withdraw: median %v, max %v over %d trials (FailureBound %v)", down[trials/2], down[trials-1], trials, Options{}.FailureBound())
	t.Logf("server start → announce: median %v, max %v", up[trials/2], up[trials-1])
}

// TestServfail checks that a server that answers, but SERVFAIL, is
// withdrawn, and announced again when it answers correctly.
func TestServfail(t *testing.T) {
	zones := zonesWith(t, zoneText)
	srv := startServer(t, "127.0.0.1:0", zones)
	s, ch := realGate(t, srv.addr, "example.com")
	await(t, ch, true, time.Now(), 5*time.Second)

	zones.SetServfail("example.com.", true)
	t.Logf("SERVFAIL → withdraw: %v", await(t, ch, false, time.Now(), budget))
	if err := s.Status()[0].LastError; !errors.Is(err, ErrRcode) {
		t.Errorf("last error = %v, want ErrRcode", err)
	}
	zones.SetServfail("example.com.", false)
	t.Logf("answering again → announce: %v", await(t, ch, true, time.Now(), 5*time.Second))
}

// TestBlackHole replaces the server with a socket that swallows queries,
// as a firewall dropping DNS would, so that every probe waits out its
// timeout: the slowest failure to detect.
func TestBlackHole(t *testing.T) {
	zones := zonesWith(t, zoneText)
	srv := startServer(t, "127.0.0.1:0", zones)
	addr := srv.addr
	s, ch := realGate(t, addr, "example.com")
	await(t, ch, true, time.Now(), 5*time.Second)

	srv.stop()
	hole, err := net.ListenPacket("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer hole.Close()
	d := await(t, ch, false, time.Now(), budget)
	t.Logf("black hole → withdraw: %v (FailureBound %v)", d, Options{}.FailureBound())
	if err := s.Status()[0].LastError; !errors.Is(err, ErrTimeout) {
		t.Errorf("last error = %v, want ErrTimeout", err)
	}
	hole.Close()
	startServer(t, addr, zones)
	await(t, ch, true, time.Now(), 5*time.Second)
}

// TestChaosIdentity checks the probe used when no zones are configured:
// CHAOS id.server must name this node.
func TestChaosIdentity(t *testing.T) {
	srv := startServer(t, "127.0.0.1:0", authdns.NewZones())
	_, ch := realGate(t, srv.addr)
	await(t, ch, true, time.Now(), 5*time.Second)

	err := ProbeDNS(context.Background(), netip.MustParseAddrPort(srv.addr), Query{Identity: "someone-else"})
	if !errors.Is(err, ErrWrongAnswer) {
		t.Errorf("probe for another identity = %v, want ErrWrongAnswer", err)
	}
	err = ProbeDNS(context.Background(), netip.MustParseAddrPort(srv.addr), Query{Zone: "example.com."})
	if !errors.Is(err, ErrRcode) {
		t.Errorf("SOA of a zone not served = %v, want ErrRcode", err)
	}
}
