package secondary

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"

	authdns "github.com/goleudy/goleudy/services/dns"
)

// testStore is the real zone store, with a helper for the tests.
type testStore struct{ *authdns.Zones }

func newTestStore() *testStore { return &testStore{authdns.NewZones()} }

func (s *testStore) serial(origin string) (uint32, bool) {
	z := s.Get(origin)
	if z == nil {
		return 0, false
	}
	return z.Serial(), true
}

// fakePrimary is a tiny primary over loopback UDP and TCP for the cases
// NSD cannot play: malformed and oversized transfers, and unit tests that
// must not depend on an external daemon. It answers SOA queries and AXFR
// from its zones; IXFR is answered in AXFR form unless ixfr is set.
type fakePrimary struct {
	Addr string
	udp  net.PacketConn
	tcp  net.Listener
	wg   sync.WaitGroup

	mu    sync.Mutex
	zones map[string][]dns.RR
	// xfr, when set, replaces the answer to AXFR/IXFR with these wire
	// messages.
	xfr func(req *dns.Msg) [][]byte
	// ixfr, when set, returns an IXFR answer's records (or nil for AXFR).
	ixfr  func(req *dns.Msg) []dns.RR
	axfrs atomic.Int32
	ixfrs atomic.Int32
}

func startFakePrimary(tb testing.TB) *fakePrimary {
	tb.Helper()
	// UDP picks the port and TCP takes the same one, which another
	// process may hold: try again with a new port then.
	var udp net.PacketConn
	var tcp net.Listener
	var err error
	for range 20 {
		if udp, err = net.ListenPacket("udp", "127.0.0.1:0"); err != nil {
			tb.Fatal(err)
		}
		if tcp, err = net.Listen("tcp", udp.LocalAddr().String()); err == nil {
			break
		}
		udp.Close()
	}
	if err != nil {
		tb.Fatal(err)
	}
	p := &fakePrimary{Addr: udp.LocalAddr().String(), udp: udp, tcp: tcp, zones: map[string][]dns.RR{}}
	p.wg.Go(p.serveUDP)
	p.wg.Go(p.serveTCP)
	tb.Cleanup(p.stop)
	return p
}

func (p *fakePrimary) stop() {
	p.udp.Close()
	p.tcp.Close()
	p.wg.Wait()
}

func (p *fakePrimary) set(origin string, rrs []dns.RR) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.zones[canonical(origin)] = rrs
}

func (p *fakePrimary) serveUDP() {
	buf := make([]byte, 65535)
	for {
		n, addr, err := p.udp.ReadFrom(buf)
		if err != nil {
			return
		}
		req := new(dns.Msg)
		if req.Unpack(buf[:n]) != nil {
			continue
		}
		if out := p.answer(req); out != nil {
			b, _ := out.Pack()
			p.udp.WriteTo(b, addr)
		}
	}
}

func (p *fakePrimary) serveTCP() {
	var conns sync.WaitGroup
	defer conns.Wait()
	for {
		c, err := p.tcp.Accept()
		if err != nil {
			return
		}
		conns.Go(func() {
			defer c.Close()
			c.SetDeadline(time.Now().Add(10 * time.Second))
			for {
				b, err := readMsg(c, make([]byte, 0, 65535))
				if err != nil {
					return
				}
				req := new(dns.Msg)
				if req.Unpack(b) != nil || len(req.Question) != 1 {
					return
				}
				out, closeAfter := p.tcpAnswer(req)
				for _, b := range out {
					if writeMsg(c, b) != nil {
						return
					}
				}
				if closeAfter {
					return
				}
			}
		})
	}
}

func (p *fakePrimary) answer(req *dns.Msg) *dns.Msg {
	r := new(dns.Msg)
	r.SetReply(req)
	p.mu.Lock()
	rrs := p.zones[canonical(req.Question[0].Name)]
	p.mu.Unlock()
	if rrs == nil {
		r.Rcode = dns.RcodeRefused
		return r
	}
	r.Authoritative = true
	r.Answer = []dns.RR{rrs[0]}
	return r
}

// tcpAnswer returns the answer and whether to close the connection
// after it, as a primary does after a broken transfer.
func (p *fakePrimary) tcpAnswer(req *dns.Msg) ([][]byte, bool) {
	q := req.Question[0]
	if q.Qtype != dns.TypeAXFR && q.Qtype != dns.TypeIXFR {
		b, _ := p.answer(req).Pack()
		return [][]byte{b}, false
	}
	if q.Qtype == dns.TypeAXFR {
		p.axfrs.Add(1)
	} else {
		p.ixfrs.Add(1)
	}
	p.mu.Lock()
	xfr, ixfr := p.xfr, p.ixfr
	rrs := p.zones[canonical(q.Name)]
	p.mu.Unlock()
	if xfr != nil {
		return xfr(req), true
	}
	if rrs == nil {
		r := new(dns.Msg)
		r.SetRcode(req, dns.RcodeRefused)
		b, _ := r.Pack()
		return [][]byte{b}, false
	}
	stream := append(append([]dns.RR{}, rrs...), rrs[0])
	if q.Qtype == dns.TypeIXFR && ixfr != nil {
		if s := ixfr(req); s != nil {
			stream = s
		}
	}
	return packStream(req, stream, 50), false
}

// packStream packs a transfer answer, n records a message.
func packStream(req *dns.Msg, rrs []dns.RR, n int) [][]byte {
	var out [][]byte
	for i, m := range msgs(rrs, n) {
		m.Id = req.Id
		m.Authoritative = true
		if i == 0 {
			m.Question = req.Question
		}
		b, err := m.Pack()
		if err != nil {
			panic(err)
		}
		out = append(out, b)
	}
	return out
}

// testLog collects log lines for assertions and shows them on failure.
type testLog struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func newTestLog() (*slog.Logger, *testLog) {
	l := &testLog{}
	return slog.New(slog.NewTextHandler(l, &slog.HandlerOptions{Level: slog.LevelDebug})), l
}

func (l *testLog) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(b)
}

func (l *testLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

func (l *testLog) count(substr string) int { return strings.Count(l.String(), substr) }

// waitFor polls cond for up to 10 s of real time; the code under test
// talks to sockets, which the fake clock does not control.
func waitFor(tb testing.TB, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// runManager runs m until the test ends.
func runManager(tb testing.TB, m *Manager) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	tb.Cleanup(func() {
		cancel()
		if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
			tb.Error(err)
		}
	})
}

// deadAddr is a loopback address where nothing listens.
func deadAddr(tb testing.TB) string {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	a := l.Addr().String()
	l.Close()
	return a
}
