package info

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/goleudy/goleudy/provision/config"
	"github.com/goleudy/goleudy/services/listeners"
	"github.com/goleudy/goleudy/services/supervisor"
)

var (
	_ supervisor.Service       = (*Service)(nil)
	_ supervisor.HealthChecker = (*Service)(nil)
)

// alban is the node of DESIGN.md, listening on loopback "anycast"
// addresses with any free port.
func alban(listen ...string) *config.Config {
	return &config.Config{
		Schema: config.Schema, Serial: 7,
		Node: config.Node{ID: "alban", FQDN: "alban.nodes.example.net", Location: config.Location{
			Display: "Scotland, Edinburgh", City: "Edinburgh", Country: "Scotland", CountryISO: "gb", Lat: 55.93, Lng: -3.29,
		}},
		Info: config.Info{Listen: listen},
	}
}

// run starts s until the test ends and waits until it has n addresses.
func run(t *testing.T, s *Service, n int) {
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

// newClient returns a client that connects from the local address from
// (any if invalid) and closes its idle connections when the test ends.
func newClient(t *testing.T, from netip.Addr) *http.Client {
	t.Helper()
	d := &net.Dialer{Timeout: 5 * time.Second}
	if from.IsValid() {
		d.LocalAddr = net.TCPAddrFromAddrPort(netip.AddrPortFrom(from, 0))
	}
	tr := &http.Transport{DialContext: d.DialContext}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 5 * time.Second}
}

type answer struct {
	code   int
	header http.Header
	body   string
}

func do(t *testing.T, c *http.Client, method, url string) answer {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return answer{resp.StatusCode, resp.Header, string(b)}
}

func decode(t *testing.T, body string) Document {
	t.Helper()
	var d Document
	dec := json.NewDecoder(strings.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&d); err != nil {
		t.Fatalf("document %q: %v", body, err)
	}
	return d
}

// TestDocument asks the page on an IPv4 and an IPv6 "anycast" address and
// checks every field, including the addresses of the connection as the
// node saw them.
func TestDocument(t *testing.T) {
	s, err := New(alban("127.0.0.53:0", "[::1]:0"), Options{Version: func() string { return "v1.2.0" }})
	if err != nil {
		t.Fatal(err)
	}
	run(t, s, 2)
	for i, from := range []netip.Addr{netip.MustParseAddr("127.0.0.99"), netip.IPv6Loopback()} {
		addr := s.Addrs()[i]
		a := do(t, newClient(t, from), http.MethodGet, "http://"+addr.String()+"/")
		if a.code != http.StatusOK {
			t.Fatalf("GET / on %s: %d %s", addr, a.code, a.body)
		}
		for k, want := range map[string]string{
			"Content-Type":                "application/json",
			"Cache-Control":               "no-store",
			"X-Content-Type-Options":      "nosniff",
			"Access-Control-Allow-Origin": "*",
		} {
			if got := a.header.Get(k); got != want {
				t.Errorf("%s: %s = %q, want %q", addr, k, got, want)
			}
		}
		d := decode(t, a.body)
		client, err := netip.ParseAddrPort(d.Client)
		if err != nil || client.Addr() != from {
			t.Errorf("%s: client %q, want %s:port", addr, d.Client, from)
		}
		d.Client = ""
		want := Document{
			Node: "alban", FQDN: "alban.nodes.example.net", Display: "Scotland, Edinburgh", City: "Edinburgh",
			Country: "Scotland", CountryISO: "gb", Lat: 55.93, Lng: -3.29, Version: "v1.2.0", Server: addr.String(),
		}
		if d != want {
			t.Errorf("%s: document\n%+v\nwant\n%+v", addr, d, want)
		}
	}
}

// TestRequests is the page's whole HTTP surface.
func TestRequests(t *testing.T) {
	s, err := New(alban("127.0.0.53:0"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	run(t, s, 1)
	base := "http://" + s.Addrs()[0].String()
	c := newClient(t, netip.Addr{})
	tests := []struct {
		method, path string
		code         int
		allow        string
		errText      string
	}{
		{"GET", "/", 200, "", ""},
		{"GET", "/?format=json", 200, "", ""},
		{"HEAD", "/", 200, "", ""},
		{"POST", "/", 405, "GET, HEAD", "method POST not allowed"},
		{"PUT", "/", 405, "GET, HEAD", "method PUT not allowed"},
		{"DELETE", "/", 405, "GET, HEAD", "method DELETE not allowed"},
		{"OPTIONS", "/", 405, "GET, HEAD", "method OPTIONS not allowed"},
		{"GET", "/index.html", 404, "", "not found"},
		{"GET", "/metrics", 404, "", "not found"},
		{"POST", "/v1/reboot", 404, "", "not found"},
	}
	for _, tt := range tests {
		a := do(t, c, tt.method, base+tt.path)
		if a.code != tt.code || a.header.Get("Allow") != tt.allow {
			t.Errorf("%s %s: %d Allow=%q, want %d Allow=%q", tt.method, tt.path, a.code, a.header.Get("Allow"), tt.code, tt.allow)
		}
		if a.header.Get("Cache-Control") != "no-store" {
			t.Errorf("%s %s: Cache-Control %q", tt.method, tt.path, a.header.Get("Cache-Control"))
		}
		switch {
		case tt.method == "HEAD":
			if a.body != "" || a.header.Get("Content-Length") == "0" {
				t.Errorf("HEAD: body %q, Content-Length %q", a.body, a.header.Get("Content-Length"))
			}
		case tt.errText != "":
			var e struct{ Error string }
			if err := json.Unmarshal([]byte(a.body), &e); err != nil || !strings.Contains(e.Error, tt.errText) {
				t.Errorf("%s %s: body %q, want a JSON error with %q", tt.method, tt.path, a.body, tt.errText)
			}
		default:
			decode(t, a.body)
		}
	}
}

// TestLimits: oversized headers are refused, and a client that sends its
// header too slowly (or not at all) is cut off at the header timeout.
func TestLimits(t *testing.T) {
	l := defaultLimits
	l.readHeader = 300 * time.Millisecond
	s, err := newService(alban("127.0.0.53:0"), Options{}, l)
	if err != nil {
		t.Fatal(err)
	}
	run(t, s, 1)
	addr := s.Addrs()[0].String()

	req, _ := http.NewRequest("GET", "http://"+addr+"/", nil)
	req.Header.Set("X-Big", strings.Repeat("a", 16<<10))
	resp, err := newClient(t, netip.Addr{}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("16 KiB header: %d, want 431", resp.StatusCode)
	}

	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	io.WriteString(conn, "GET / HTTP/1.1\r\nHost: x\r\n") // and never the blank line
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	start := time.Now()
	b, _ := io.ReadAll(conn)
	if took := time.Since(start); took > 3*time.Second || strings.Contains(string(b), "200 OK") {
		t.Errorf("slow header: closed after %v with %q, want closed within the header timeout", took, b)
	}
}

// TestApply changes location and addresses live: the location shows in
// the next answer; the kept address answers over the connection it had
// (the node sees the same client port); the dropped one stops; a bad
// listen list changes nothing.
func TestApply(t *testing.T) {
	s, err := New(alban("127.0.0.53:0", "127.0.0.54:0"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	run(t, s, 2)
	keep, drop := s.Addrs()[0], s.Addrs()[1]
	c := newClient(t, netip.Addr{})
	get := func(addr netip.AddrPort) Document {
		t.Helper()
		a := do(t, c, "GET", "http://"+addr.String()+"/")
		if a.code != 200 {
			t.Fatalf("GET %s: %d", addr, a.code)
		}
		return decode(t, a.body)
	}
	before := get(keep)
	get(drop)

	moved := alban("127.0.0.53:0", "127.0.0.55:0")
	moved.Node.Location = config.Location{Display: "Wales, Cardiff", City: "Cardiff", Country: "Wales", CountryISO: "gb", Lat: 51.48, Lng: -3.18}
	if err := s.Apply(moved); err != nil {
		t.Fatal(err)
	}
	after := get(keep)
	if after.Client != before.Client {
		t.Errorf("kept address: client %s after Apply, was %s: the connection was dropped", after.Client, before.Client)
	}
	if after.City != "Cardiff" || after.Display != "Wales, Cardiff" || after.Lat != 51.48 {
		t.Errorf("location after Apply: %+v", after)
	}
	added := s.Addrs()[1]
	if added.Addr() != netip.MustParseAddr("127.0.0.55") || get(added).Server != added.String() {
		t.Errorf("added address %s not served", added)
	}
	waitFor(t, "dropped address to refuse", func() bool {
		conn, err := net.DialTimeout("tcp", drop.String(), time.Second)
		if err == nil {
			conn.Close()
		}
		return err != nil
	})

	bad := alban("127.0.0.53:0", "anycast:80")
	bad.Node.Location.City = "Nowhere"
	err = s.Apply(bad)
	if !errors.Is(err, listeners.ErrAddress) || !strings.Contains(err.Error(), `info.listen: "anycast:80"`) {
		t.Errorf("Apply with a bad address: %v", err)
	}
	if d := get(keep); d.City != "Cardiff" {
		t.Errorf("a refused config changed the page: %+v", d)
	}
	if err := s.Apply(nil); err == nil {
		t.Error("Apply(nil) succeeded")
	}
}

func TestNew(t *testing.T) {
	if _, err := New(alban("[2001:db8::53]"), Options{}); err == nil || !strings.Contains(err.Error(), "info.listen") {
		t.Errorf("New with a bad listen address: %v", err)
	}
	if _, err := New(nil, Options{}); err == nil {
		t.Error("New(nil) succeeded")
	}
	// No info.listen: the service runs and serves nothing until told to.
	s, err := New(alban(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	run(t, s, 0)
	if err := s.Apply(alban("127.0.0.56:0")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the first address", func() bool { return len(s.Addrs()) == 1 })
	if s.Name() != "info" || s.Health() != nil {
		t.Errorf("Name %q Health %v", s.Name(), s.Health())
	}
}

// TestUnderSupervisor runs the page as the node does, under the
// supervisor, and stops it with the supervisor.
func TestUnderSupervisor(t *testing.T) {
	s, err := New(alban("127.0.0.57:0"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	sup, err := supervisor.New(supervisor.Options{}, s)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- sup.Run(ctx) }()
	waitFor(t, "listener", func() bool { return len(s.Addrs()) == 1 })
	if a := do(t, newClient(t, netip.Addr{}), "GET", "http://"+s.Addrs()[0].String()+"/"); a.code != 200 {
		t.Errorf("GET: %d", a.code)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("supervisor: %v", err)
	}
}
