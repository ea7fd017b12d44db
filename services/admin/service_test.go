package admin

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/goleudy/goleudy/provision/api"
	"github.com/goleudy/goleudy/services/clock/clocktest"
	"github.com/goleudy/goleudy/services/listeners"
	"github.com/goleudy/goleudy/services/logring"
	"github.com/goleudy/goleudy/services/supervisor"
)

var (
	_ supervisor.Service       = (*Service)(nil)
	_ supervisor.HealthChecker = (*Service)(nil)
)

// The loopback stands in for the tunnel: the node listens on 127.0.0.7,
// the hub calls from 127.0.0.1, and 127.0.0.9 is a stranger outside the
// allowed 127.0.0.0/29.
var (
	tunnelListen = "127.0.0.7:0"
	allowed      = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/29")}
	hub          = netip.MustParseAddr("127.0.0.1")
	stranger     = netip.MustParseAddr("127.0.0.9")
)

// fakeNode records what the API asked of the node.
type fakeNode struct {
	mu       sync.Mutex
	drains   []bool
	reboots  int
	drainErr error
	rebooted chan struct{}
}

func (n *fakeNode) drain(d bool) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.drains = append(n.drains, d)
	return n.drainErr
}

func (n *fakeNode) reboot() error {
	n.mu.Lock()
	n.reboots++
	n.mu.Unlock()
	n.rebooted <- struct{}{}
	return nil
}

type harness struct {
	t     *testing.T
	svc   *Service
	node  *fakeNode
	clk   *clocktest.Fake
	ring  *logring.Ring
	log   *slog.Logger
	base  string
	cli   *http.Client // from the hub
	stop  func() error
	heart api.Heartbeat
}

// newHarness starts an admin API with every callback, a fake clock and a
// log ring, on the "tunnel" address.
func newHarness(t *testing.T, edit func(*Options)) *harness {
	t.Helper()
	h := &harness{t: t, node: &fakeNode{rebooted: make(chan struct{}, 4)}, clk: clocktest.NewFake(time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC))}
	h.ring = logring.New(nil, 50)
	h.log = slog.New(h.ring.Handler())
	h.heart = api.Heartbeat{NodeID: "alban", Version: "v1.2.0", State: "live", Ready: true, Healthy: true, ConfigSerial: 7,
		Zones: []api.ZoneSerial{{Name: "example.com.", Serial: 2025060101}}}
	opts := Options{
		Listen:  tunnelListen,
		Allowed: func() []netip.Prefix { return allowed },
		Log:     h.log,
		Clock:   h.clk,
		Status:  func() any { return h.heart },
		Logs:    h.ring,
		Drain:   h.node.drain,
		Reboot:  h.node.reboot,
	}
	if edit != nil {
		edit(&opts)
	}
	svc, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	h.svc = svc
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- svc.Run(ctx) }()
	var once sync.Once
	var runErr error
	h.stop = func() error {
		once.Do(func() { cancel(); runErr = <-done })
		return runErr
	}
	t.Cleanup(func() {
		if err := h.stop(); err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	waitFor(t, "listener", func() bool { return len(svc.Addrs()) == 1 })
	h.base = "http://" + svc.Addrs()[0].String()
	h.cli = newClient(t, hub)
	return h
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// newClient returns a client whose connections come from the address
// from, closed when the test ends.
func newClient(t *testing.T, from netip.Addr) *http.Client {
	d := &net.Dialer{Timeout: 5 * time.Second, LocalAddr: net.TCPAddrFromAddrPort(netip.AddrPortFrom(from, 0))}
	tr := &http.Transport{DialContext: d.DialContext}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 5 * time.Second}
}

type answer struct {
	code   int
	header http.Header
	body   string
}

func (h *harness) do(c *http.Client, method, path string, hdr ...string) answer {
	h.t.Helper()
	req, err := http.NewRequest(method, h.base+path, nil)
	if err != nil {
		h.t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := c.Do(req)
	if err != nil {
		h.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		h.t.Fatal(err)
	}
	return answer{resp.StatusCode, resp.Header, string(b)}
}

// decode reads body strictly into v.
func decode(t *testing.T, body string, v any) {
	t.Helper()
	if err := api.DecodeBytes([]byte(body), v); err != nil {
		t.Fatalf("body %q: %v", body, err)
	}
}

func errorText(t *testing.T, a answer) string {
	t.Helper()
	var e api.Error
	decode(t, a.body, &e)
	if e.Error == "" {
		t.Errorf("error answer %d without text", a.code)
	}
	return e.Error
}

func TestStatus(t *testing.T) {
	h := newHarness(t, nil)
	a := h.do(h.cli, "GET", "/v1/status")
	if a.code != 200 || a.header.Get("Content-Type") != "application/json" || a.header.Get("Cache-Control") != "no-store" {
		t.Fatalf("GET /v1/status: %d %v", a.code, a.header)
	}
	var got api.Heartbeat
	decode(t, a.body, &got)
	if fmt.Sprint(got) != fmt.Sprint(h.heart) {
		t.Errorf("status %+v, want %+v", got, h.heart)
	}
	if a := h.do(h.cli, "HEAD", "/v1/status"); a.code != 200 || a.body != "" {
		t.Errorf("HEAD /v1/status: %d %q", a.code, a.body)
	}
}

// TestMethodsAndPaths: every endpoint refuses the other methods with 405
// and Allow; unknown paths are 404; all as api.Error JSON.
func TestMethodsAndPaths(t *testing.T) {
	h := newHarness(t, nil)
	for _, tt := range []struct {
		method, path string
		code         int
		allow        string
	}{
		{"POST", "/v1/status", 405, "GET, HEAD"},
		{"DELETE", "/v1/log", 405, "GET, HEAD"},
		{"GET", "/v1/drain", 405, "POST"},
		{"PUT", "/v1/undrain", 405, "POST"},
		{"GET", "/v1/reboot", 405, "POST"},
		{"GET", "/", 404, ""},
		{"GET", "/v1/", 404, ""},
		{"GET", "/v1/status/extra", 404, ""},
		{"POST", "/v2/reboot", 404, ""},
	} {
		a := h.do(h.cli, tt.method, tt.path)
		if a.code != tt.code || a.header.Get("Allow") != tt.allow {
			t.Errorf("%s %s: %d Allow=%q, want %d Allow=%q", tt.method, tt.path, a.code, a.header.Get("Allow"), tt.code, tt.allow)
		}
		if msg := errorText(t, a); !strings.Contains(msg, tt.path) {
			t.Errorf("%s %s: error %q does not name the path", tt.method, tt.path, msg)
		}
	}
	h.node.mu.Lock()
	defer h.node.mu.Unlock()
	if len(h.node.drains) != 0 || h.node.reboots != 0 {
		t.Errorf("refused requests reached the node: %+v", h.node)
	}
}

func TestDrain(t *testing.T) {
	h := newHarness(t, nil)
	for _, tt := range []struct {
		path string
		want bool
	}{{"/v1/drain", true}, {"/v1/undrain", false}, {"/v1/drain", true}} {
		a := h.do(h.cli, "POST", tt.path)
		var st DrainState
		decode(t, a.body, &st)
		if a.code != 200 || st.Drained != tt.want {
			t.Errorf("POST %s: %d %+v", tt.path, a.code, st)
		}
	}
	h.node.mu.Lock()
	got := fmt.Sprint(h.node.drains)
	h.node.drainErr = errors.New("bgp: not running")
	h.node.mu.Unlock()
	if got != "[true false true]" {
		t.Errorf("Drain calls %s", got)
	}
	a := h.do(h.cli, "POST", "/v1/drain")
	if msg := errorText(t, a); a.code != 500 || msg != "drain: bgp: not running" {
		t.Errorf("failing drain: %d %q", a.code, msg)
	}
}

// TestReboot: the answer comes first, the reboot after the delay; a
// second request while waiting joins the first.
func TestReboot(t *testing.T) {
	h := newHarness(t, func(o *Options) { o.RebootDelay = 3 * time.Second })
	a := h.do(h.cli, "POST", "/v1/reboot")
	var ra RebootAnswer
	decode(t, a.body, &ra)
	if a.code != http.StatusAccepted || ra.RebootIn != "3s" {
		t.Fatalf("POST /v1/reboot: %d %+v", a.code, ra)
	}
	if err := h.clk.BlockUntil(context.Background(), 1); err != nil {
		t.Fatal(err)
	}
	if a := h.do(h.cli, "POST", "/v1/reboot"); a.code != http.StatusAccepted {
		t.Errorf("second reboot request: %d", a.code)
	}
	h.clk.Advance(3*time.Second - 1)
	select {
	case <-h.node.rebooted:
		t.Fatal("rebooted before the delay")
	case <-time.After(50 * time.Millisecond):
	}
	h.clk.Advance(1)
	select {
	case <-h.node.rebooted:
	case <-time.After(5 * time.Second):
		t.Fatal("no reboot after the delay")
	}
	select {
	case <-h.node.rebooted:
		t.Fatal("rebooted twice")
	case <-time.After(50 * time.Millisecond):
	}
	if es := h.ring.Records(0, 0); !strings.Contains(msgs(es), "admin: reboot asked for") || !strings.Contains(msgs(es), "admin: rebooting as asked") {
		t.Errorf("log: %s", msgs(es))
	}
}

// TestRebootAbandoned: a reboot still waiting when the service stops is
// not carried out.
func TestRebootAbandoned(t *testing.T) {
	h := newHarness(t, nil)
	if a := h.do(h.cli, "POST", "/v1/reboot"); a.code != http.StatusAccepted {
		t.Fatalf("POST /v1/reboot: %d", a.code)
	}
	if err := h.clk.BlockUntil(context.Background(), 1); err != nil {
		t.Fatal(err)
	}
	if err := h.stop(); err != nil {
		t.Fatal(err)
	}
	h.clk.Advance(time.Hour)
	select {
	case <-h.node.rebooted:
		t.Fatal("rebooted after the service stopped")
	case <-time.After(50 * time.Millisecond):
	}
	if !strings.Contains(msgs(h.ring.Records(0, 0)), "admin: reboot abandoned") {
		t.Error("abandoned reboot not logged")
	}
}

func msgs(es []logring.Entry) string {
	var s []string
	for _, e := range es {
		s = append(s, e.Message)
	}
	return strings.Join(s, " | ")
}

// TestNotImplemented: a node given no callback for a feature says so.
func TestNotImplemented(t *testing.T) {
	h := newHarness(t, func(o *Options) { o.Status, o.Logs, o.Drain, o.Reboot = nil, nil, nil, nil })
	for _, tt := range []struct{ method, path, what string }{
		{"GET", "/v1/status", "status"}, {"GET", "/v1/log", "log"},
		{"POST", "/v1/drain", "drain"}, {"POST", "/v1/undrain", "undrain"}, {"POST", "/v1/reboot", "reboot"},
	} {
		a := h.do(h.cli, tt.method, tt.path)
		if msg := errorText(t, a); a.code != 501 || msg != tt.what+": not available on this node" {
			t.Errorf("%s %s: %d %q", tt.method, tt.path, a.code, msg)
		}
	}
}

// TestPanickingStatus: a status callback that panics gives a 500, and
// the service keeps serving.
func TestPanickingStatus(t *testing.T) {
	h := newHarness(t, func(o *Options) { o.Status = func() any { panic("heartbeat not ready") } })
	a := h.do(h.cli, "GET", "/v1/status")
	if msg := errorText(t, a); a.code != 500 || !strings.Contains(msg, "/v1/status") {
		t.Errorf("panicking status: %d %q", a.code, msg)
	}
	if a := h.do(h.cli, "POST", "/v1/drain"); a.code != 200 {
		t.Errorf("after a panic: %d", a.code)
	}
	if es := h.ring.Records(0, 0); !strings.Contains(msgs(es), "admin: handler panicked") {
		t.Errorf("panic not logged: %s", msgs(es))
	}
}

// TestForbidden: a caller outside the allowed prefixes gets 403 on every
// path and method, nothing reaches the node, and the refusals are logged
// at most once per interval with a count.
func TestForbidden(t *testing.T) {
	h := newHarness(t, nil)
	c := newClient(t, stranger)
	for _, rt := range []struct{ method, path string }{
		{"GET", "/v1/status"}, {"GET", "/v1/log"}, {"POST", "/v1/drain"}, {"POST", "/v1/undrain"},
		{"POST", "/v1/reboot"}, {"GET", "/nowhere"}, {"DELETE", "/v1/status"},
	} {
		a := h.do(c, rt.method, rt.path)
		if msg := errorText(t, a); a.code != 403 || !strings.Contains(msg, "127.0.0.9 is not in the management network") {
			t.Errorf("%s %s from %s: %d %q", rt.method, rt.path, stranger, a.code, msg)
		}
	}
	h.node.mu.Lock()
	if len(h.node.drains) != 0 || h.node.reboots != 0 {
		t.Errorf("a stranger reached the node: %+v", h.node)
	}
	h.node.mu.Unlock()
	if h.clk.Pending() != 0 {
		t.Error("a stranger scheduled a reboot")
	}
	refusals := func() []logring.Entry {
		var out []logring.Entry
		for _, e := range h.ring.Records(0, 0) {
			if e.Message == "admin: refused a caller outside the management network" {
				out = append(out, e)
			}
		}
		return out
	}
	if r := refusals(); len(r) != 1 || r[0].Attrs["from"] != "127.0.0.9" {
		t.Fatalf("refusals logged: %+v", r)
	}
	h.clk.Advance(refusedLogEvery)
	h.do(c, "GET", "/v1/status")
	if r := refusals(); len(r) != 2 || r[1].Attrs["refused"] != int64(7) {
		t.Errorf("second refusal log: %+v, want one counting the 7 since the first", r)
	}

	// The allowed set is asked at every request: emptied, it refuses the
	// hub too.
	h2 := newHarness(t, func(o *Options) { o.Allowed = func() []netip.Prefix { return nil } })
	if a := h2.do(h2.cli, "GET", "/v1/status"); a.code != 403 {
		t.Errorf("with no allowed prefixes: %d", a.code)
	}
}

// TestCrossOrigin: a browser on another origin cannot POST (CSRF), though
// it may read, and a non-browser client is unaffected.
func TestCrossOrigin(t *testing.T) {
	h := newHarness(t, nil)
	if a := h.do(h.cli, "POST", "/v1/reboot", "Sec-Fetch-Site", "cross-site"); a.code != 403 {
		t.Errorf("cross-site POST: %d", a.code)
	}
	if a := h.do(h.cli, "POST", "/v1/drain", "Origin", "http://evil.example"); a.code != 403 {
		t.Errorf("cross-origin POST: %d", a.code)
	}
	if a := h.do(h.cli, "GET", "/v1/status", "Sec-Fetch-Site", "cross-site"); a.code != 200 {
		t.Errorf("cross-site GET: %d", a.code)
	}
	if h.clk.Pending() != 0 {
		t.Error("a cross-site request scheduled a reboot")
	}
}

// TestLog reads the ring through the API: the newest entries without
// since, forward pages with it, and a fresh start after a node restart.
func TestLog(t *testing.T) {
	h := newHarness(t, nil)
	base, _ := h.ring.Bounds() // the listener's own log lines came first
	for i := range 10 {
		h.log.Info("zone loaded", "zone", fmt.Sprintf("z%d.example.", i), "serial", i)
	}
	_, last := h.ring.Bounds()
	get := func(query string) LogPage {
		t.Helper()
		a := h.do(h.cli, "GET", "/v1/log"+query)
		if a.code != 200 {
			t.Fatalf("GET /v1/log%s: %d %s", query, a.code, a.body)
		}
		var p LogPage
		decode(t, a.body, &p)
		return p
	}
	p := get("?limit=3")
	if len(p.Entries) != 3 || p.Entries[2].Seq != last || p.Next != last || p.Last != last || p.First != base {
		t.Errorf("tail: first %d last %d next %d, %d entries ending %d", p.First, p.Last, p.Next, len(p.Entries), p.Entries[len(p.Entries)-1].Seq)
	}
	if e := p.Entries[2]; e.Message != "zone loaded" || e.Attrs["zone"] != "z9.example." || e.Attrs["serial"] != 9.0 || e.Level != "INFO" {
		t.Errorf("entry: %+v", e)
	}
	// Page forward through everything with limit 4.
	var seen []uint64
	since := uint64(0)
	for range 10 {
		p := get(fmt.Sprintf("?since=%d&limit=4", since))
		for _, e := range p.Entries {
			seen = append(seen, e.Seq)
		}
		if len(p.Entries) == 0 {
			if p.Next != since {
				t.Errorf("empty page: next %d, want %d", p.Next, since)
			}
			break
		}
		since = p.Next
	}
	if uint64(len(seen)) != last-base+1 || seen[0] != base || seen[len(seen)-1] != last {
		t.Errorf("paging saw %v, want %d..%d", seen, base, last)
	}
	// A reader from before a restart (a since never given out) starts over.
	if p := get(fmt.Sprintf("?since=%d&limit=2", last+1000)); len(p.Entries) != 2 || p.Entries[0].Seq != base {
		t.Errorf("since beyond the newest: %+v", p)
	}
	if p := get(""); len(p.Entries) != int(last-base+1) {
		t.Errorf("default limit: %d entries", len(p.Entries))
	}
	for _, bad := range []struct{ query, want string }{
		{"?limit=0", "limit"},
		{"?limit=1001", "limit"},
		{"?since=-1", "since"},
		{"?since=abc", "since"},
		{"?limt=5", `unknown parameter "limt"`},
		{"?since=1&since=2", `"since" given 2 times`},
		{"?since=%zz", "since"},
	} {
		a := h.do(h.cli, "GET", "/v1/log"+bad.query)
		if msg := errorText(t, a); a.code != 400 || !strings.Contains(msg, bad.want) || !strings.HasPrefix(msg, "/v1/log: ") {
			t.Errorf("GET /v1/log%s: %d %q, want 400 naming %s", bad.query, a.code, msg, bad.want)
		}
	}
}

// TestListen: a wildcard is refused by New and Apply, Allowed is
// required, and Apply moves the API to a new tunnel address while an
// unchanged address keeps its connection.
func TestListen(t *testing.T) {
	allow := func() []netip.Prefix { return allowed }
	for _, w := range []string{"0.0.0.0:9053", "[::]:9053"} {
		if _, err := New(Options{Listen: w, Allowed: allow}); !errors.Is(err, listeners.ErrWildcard) || !strings.Contains(err.Error(), w) {
			t.Errorf("New(%s): %v", w, err)
		}
	}
	if _, err := New(Options{Listen: "tunnel:9053", Allowed: allow}); !errors.Is(err, listeners.ErrAddress) {
		t.Errorf("New with a host name: %v", err)
	}
	if _, err := New(Options{Listen: "10.53.0.7:9053"}); err == nil || !strings.Contains(err.Error(), "Allowed") {
		t.Errorf("New without Allowed: %v", err)
	}

	h := newHarness(t, nil)
	first := h.svc.Addrs()[0]
	if err := h.svc.Apply("[::]:0"); !errors.Is(err, listeners.ErrWildcard) {
		t.Errorf("Apply(wildcard) = %v", err)
	}
	if err := h.svc.Apply(tunnelListen); err != nil {
		t.Fatal(err)
	}
	if got := h.svc.Addrs(); len(got) != 1 || got[0] != first {
		t.Errorf("after an unchanged Apply: %v, want %v", got, first)
	}
	if a := h.do(h.cli, "GET", "/v1/status"); a.code != 200 {
		t.Errorf("after unchanged Apply: %d", a.code)
	}
	if err := h.svc.Apply("127.0.0.6:0"); err != nil {
		t.Fatal(err)
	}
	moved := h.svc.Addrs()
	if len(moved) != 1 || moved[0].Addr() != netip.MustParseAddr("127.0.0.6") {
		t.Fatalf("after the move: %v", moved)
	}
	h.base = "http://" + moved[0].String()
	if a := h.do(h.cli, "GET", "/v1/status"); a.code != 200 {
		t.Errorf("on the new address: %d", a.code)
	}
	waitFor(t, "the old address to refuse", func() bool {
		conn, err := net.DialTimeout("tcp", first.String(), time.Second)
		if err == nil {
			conn.Close()
		}
		return err != nil
	})
	if err := h.svc.Apply(""); err != nil || len(h.svc.Addrs()) != 0 {
		t.Errorf("Apply(\"\") = %v, Addrs %v", err, h.svc.Addrs())
	}
	if h.svc.Name() != "admin" || h.svc.Health() != nil {
		t.Errorf("Name %q Health %v", h.svc.Name(), h.svc.Health())
	}
}

// TestKeepAliveAcrossApply: the hub's open connection survives an Apply
// that keeps the address.
func TestKeepAliveAcrossApply(t *testing.T) {
	h := newHarness(t, nil)
	conn, err := net.DialTCP("tcp", net.TCPAddrFromAddrPort(netip.AddrPortFrom(hub, 0)), net.TCPAddrFromAddrPort(h.svc.Addrs()[0]))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ask := func() string {
		t.Helper()
		fmt.Fprintf(conn, "POST /v1/drain HTTP/1.1\r\nHost: node\r\nContent-Length: 0\r\n\r\n")
		conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		buf := make([]byte, 1024)
		n, err := conn.Read(buf)
		if err != nil {
			t.Fatalf("on the kept connection: %v", err)
		}
		return strings.SplitN(string(buf[:n]), "\r\n", 2)[0]
	}
	if got := ask(); got != "HTTP/1.1 200 OK" {
		t.Fatalf("first: %s", got)
	}
	if err := h.svc.Apply(tunnelListen); err != nil {
		t.Fatal(err)
	}
	if got := ask(); got != "HTTP/1.1 200 OK" {
		t.Errorf("after Apply: %s", got)
	}
}

func FuzzParseLogQuery(f *testing.F) {
	for _, s := range []string{"", "since=1", "limit=1000", "since=18446744073709551615&limit=1", "since=18446744073709551616",
		"limit=0", "since=+1", "since=0x10", "since=1_0", "a=b", "since=1&since=1", "since=%31", "since=1;limit=2", "%zz"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		q, err := ParseLogQuery(raw)
		if err != nil {
			if err.Error() == "" {
				t.Error("empty error")
			}
			return
		}
		if q.Limit < 1 || q.Limit > MaxLogLimit {
			t.Errorf("%q: limit %d accepted", raw, q.Limit)
		}
		again := fmt.Sprintf("limit=%d", q.Limit)
		if q.HasSince {
			again += fmt.Sprintf("&since=%d", q.Since)
		}
		if q2, err := ParseLogQuery(again); err != nil || q2 != q {
			t.Errorf("%q parsed as %+v, which as %q reads %+v, %v", raw, q, again, q2, err)
		}
	})
}
