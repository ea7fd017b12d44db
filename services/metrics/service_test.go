package metrics

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/goleudy/goleudy/services/listeners"
	"github.com/goleudy/goleudy/services/supervisor"
)

var (
	_ supervisor.Service       = (*Service)(nil)
	_ supervisor.HealthChecker = (*Service)(nil)
)

// listenVar is an Options.Listen the test changes, as the tunnel address
// would.
type listenVar struct {
	mu    sync.Mutex
	addrs []string
}

func (l *listenVar) set(a ...string) {
	l.mu.Lock()
	l.addrs = a
	l.mu.Unlock()
}

func (l *listenVar) get() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.addrs
}

func start(t *testing.T, s *Service, n int) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	waitFor(t, "listeners", func() bool { return len(s.Addrs()) == n })
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

func client(t *testing.T) *http.Client {
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 5 * time.Second}
}

func fetch(t *testing.T, c *http.Client, method, url string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest(method, url, nil)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
}

// TestScrape scrapes a node's metrics over loopback, as Prometheus does
// over the tunnel, and reads them with the strict parser.
func TestScrape(t *testing.T) {
	tunnel := &listenVar{}
	tunnel.set("127.0.0.7:0")
	s, err := New(Options{Listen: tunnel.get})
	if err != nil {
		t.Fatal(err)
	}
	q := must[*CounterVec](t)(s.Registry().NewCounterVec("goleudy_dns_queries_total", "Queries answered.", "rcode"))
	q.With("NOERROR").Add(41)
	q.With("NOERROR").Inc()
	start(t, s, 1)
	url := "http://" + s.Addrs()[0].String() + "/metrics"
	c := client(t)
	resp, body := fetch(t, c, "GET", url)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != ContentType {
		t.Fatalf("GET /metrics: %d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	fams, err := parseExposition(body)
	if err != nil {
		t.Fatalf("strict parse: %v\n%s", err, body)
	}
	got := map[string]Family{}
	for _, f := range fams {
		got[f.Name] = f
	}
	if f := got["goleudy_dns_queries_total"]; f.Type != CounterType || len(f.Samples) != 1 || f.Samples[0].Value != 42 {
		t.Errorf("queries family: %+v", f)
	}
	if f := got["go_goroutines"]; f.Type != GaugeType || f.Samples[0].Value < 1 {
		t.Errorf("the default registry has no runtime metrics: %+v", f)
	}

	for _, tt := range []struct {
		method, path string
		code         int
	}{
		{"HEAD", "/metrics", 200},
		{"POST", "/metrics", 405},
		{"DELETE", "/metrics", 405},
		{"GET", "/", 404},
		{"GET", "/metrics/x", 404},
	} {
		resp, body := fetch(t, c, tt.method, strings.TrimSuffix(url, "/metrics")+tt.path)
		if resp.StatusCode != tt.code {
			t.Errorf("%s %s: %d, want %d", tt.method, tt.path, resp.StatusCode, tt.code)
		}
		if tt.code == 405 && resp.Header.Get("Allow") != "GET, HEAD" {
			t.Errorf("%s: Allow %q", tt.method, resp.Header.Get("Allow"))
		}
		if tt.method == "HEAD" && body != "" {
			t.Errorf("HEAD body %q", body)
		}
	}
}

// TestWildcardRefused: 0.0.0.0 or :: would expose the metrics on the IX
// side; New and Apply refuse them and Apply keeps the old address.
func TestWildcardRefused(t *testing.T) {
	for _, w := range []string{"0.0.0.0:9100", "[::]:9100"} {
		_, err := New(Options{Listen: func() []string { return []string{w} }})
		if !errors.Is(err, listeners.ErrWildcard) || !strings.Contains(err.Error(), "metrics: listen: \""+w+"\"") {
			t.Errorf("New(%s) = %v, want ErrWildcard naming it", w, err)
		}
	}
	tunnel := &listenVar{}
	tunnel.set("127.0.0.7:0")
	s, err := New(Options{Listen: tunnel.get})
	if err != nil {
		t.Fatal(err)
	}
	start(t, s, 1)
	old := s.Addrs()
	tunnel.set("0.0.0.0:0")
	if err := s.Apply(); !errors.Is(err, listeners.ErrWildcard) {
		t.Errorf("Apply with a wildcard = %v", err)
	}
	if got := s.Addrs(); len(got) != 1 || got[0] != old[0] {
		t.Errorf("after a refused Apply: %v, want %v", got, old)
	}
	if resp, _ := fetch(t, client(t), "GET", "http://"+old[0].String()+"/metrics"); resp.StatusCode != 200 {
		t.Errorf("old address: %d", resp.StatusCode)
	}
}

// TestApplyMoves follows the tunnel address: a new address is served, the
// old one stops, and an Apply with nothing changed keeps the connection.
func TestApplyMoves(t *testing.T) {
	tunnel := &listenVar{}
	tunnel.set("127.0.0.7:0")
	s, err := New(Options{Listen: tunnel.get})
	if err != nil {
		t.Fatal(err)
	}
	start(t, s, 1)
	first := s.Addrs()[0]
	c := client(t)
	var conns []string
	trace := func() {
		t.Helper()
		req, _ := http.NewRequest("GET", "http://"+first.String()+"/metrics", nil)
		var local string
		req = req.WithContext(withConnTrace(req.Context(), &local))
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		conns = append(conns, local)
	}
	trace()
	if err := s.Apply(); err != nil {
		t.Fatal(err)
	}
	trace()
	if conns[0] != conns[1] {
		t.Errorf("an Apply that changed nothing dropped the connection: %v", conns)
	}

	tunnel.set("127.0.0.8:0")
	if err := s.Apply(); err != nil {
		t.Fatal(err)
	}
	moved := s.Addrs()
	if len(moved) != 1 || moved[0].Addr() != netip.MustParseAddr("127.0.0.8") {
		t.Fatalf("after the move: %v", moved)
	}
	if resp, _ := fetch(t, c, "GET", "http://"+moved[0].String()+"/metrics"); resp.StatusCode != 200 {
		t.Errorf("new address: %d", resp.StatusCode)
	}
	waitFor(t, "the old address to refuse", func() bool {
		conn, err := net.DialTimeout("tcp", first.String(), time.Second)
		if err == nil {
			conn.Close()
		}
		return err != nil
	})
}

// TestProblemsLoggedOnChange: a broken collector is logged once, not at
// every scrape, and its recovery once.
func TestProblemsLoggedOnChange(t *testing.T) {
	var logged strings.Builder
	var mu sync.Mutex
	log := slog.New(slog.NewTextHandler(&lockedWriter{w: &logged, mu: &mu}, nil))
	broken := true
	var bmu sync.Mutex
	reg := NewRegistry()
	reg.Register(func() []Family {
		bmu.Lock()
		defer bmu.Unlock()
		if broken {
			panic("zone store gone")
		}
		return nil
	})
	s, err := New(Options{Log: log, Registry: reg, Listen: func() []string { return []string{"127.0.0.7:0"} }})
	if err != nil {
		t.Fatal(err)
	}
	start(t, s, 1)
	url := "http://" + s.Addrs()[0].String() + "/metrics"
	c := client(t)
	for range 3 {
		fetch(t, c, "GET", url)
	}
	bmu.Lock()
	broken = false
	bmu.Unlock()
	fetch(t, c, "GET", url)
	fetch(t, c, "GET", url)
	mu.Lock()
	out := logged.String()
	mu.Unlock()
	if n := strings.Count(out, "metrics: some metrics left out"); n != 1 || !strings.Contains(out, "zone store gone") {
		t.Errorf("problem logged %d times:\n%s", n, out)
	}
	if n := strings.Count(out, "metrics: all metrics collected again"); n != 1 {
		t.Errorf("recovery logged %d times:\n%s", n, out)
	}
}

type lockedWriter struct {
	w  io.Writer
	mu *sync.Mutex
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// withConnTrace records the client-side address of the connection a
// request goes out on.
func withConnTrace(ctx context.Context, local *string) context.Context {
	return httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
		GotConn: func(info httptrace.GotConnInfo) { *local = info.Conn.LocalAddr().String() },
	})
}
