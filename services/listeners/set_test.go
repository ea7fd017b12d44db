package listeners

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// echo answers with the local and remote address of the connection, so a
// test can tell which listener and which connection served it.
var echo = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	local, _ := r.Context().Value(http.LocalAddrContextKey).(net.Addr)
	fmt.Fprintf(w, "%s %s", local, r.RemoteAddr)
})

// client is an HTTP client whose idle connections are closed when the
// test ends, so the leak check does not see them.
func client(t *testing.T) *http.Client {
	t.Helper()
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 5 * time.Second}
}

func get(t *testing.T, c *http.Client, addr netip.AddrPort) (string, error) {
	t.Helper()
	resp, err := c.Get("http://" + addr.String() + "/")
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}

// start runs s until the test ends and waits for it to have bound.
func start(t *testing.T, s *Set, wantAddrs int) {
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
	waitFor(t, "listeners bound", func() bool { return len(s.Addrs()) == wantAddrs })
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestParse(t *testing.T) {
	tests := []struct {
		in       []string
		wildcard bool
		want     string
		wantErr  error
		errText  string
	}{
		{in: nil, want: "[]"},
		{in: []string{"192.0.2.53:80", "[2001:db8:53::53]:80"}, want: "[192.0.2.53:80 [2001:db8:53::53]:80]"},
		{in: []string{"127.0.0.53:0"}, want: "[127.0.0.53:0]"},
		{in: []string{"[::ffff:10.53.0.7]:9100"}, want: "[10.53.0.7:9100]"},
		{in: []string{"0.0.0.0:80"}, want: "[0.0.0.0:80]"},
		{in: []string{"0.0.0.0:80"}, wildcard: true, wantErr: ErrWildcard, errText: `"0.0.0.0:80"`},
		{in: []string{"[::]:9053"}, wildcard: true, wantErr: ErrWildcard, errText: `"[::]:9053"`},
		{in: []string{"[::ffff:0.0.0.0]:9053"}, wildcard: true, wantErr: ErrWildcard},
		{in: []string{"localhost:80"}, wantErr: ErrAddress, errText: `"localhost:80"`},
		{in: []string{":80"}, wantErr: ErrAddress, errText: `":80"`},
		{in: []string{"10.53.0.7"}, wantErr: ErrAddress},
		{in: []string{"10.53.0.7:99999"}, wantErr: ErrAddress},
		{in: []string{"2001:db8::1:80"}, wantErr: ErrAddress},
		{in: []string{"10.0.0.1:80", "10.0.0.1:80"}, errText: "more than once"},
	}
	for _, tt := range tests {
		got, err := Parse(tt.in, tt.wildcard)
		switch {
		case tt.wantErr == nil && tt.errText == "":
			if err != nil || fmt.Sprint(got) != tt.want {
				t.Errorf("Parse(%q) = %v, %v; want %s", tt.in, got, err, tt.want)
			}
		case err == nil:
			t.Errorf("Parse(%q) = %v, want an error", tt.in, got)
		case tt.wantErr != nil && !errors.Is(err, tt.wantErr), !strings.Contains(err.Error(), tt.errText):
			t.Errorf("Parse(%q) error %q, want %v naming %s", tt.in, err, tt.wantErr, tt.errText)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"192.0.2.53:80", "[2001:db8::53]:80", "[fe80::1%eth0]:80", "0.0.0.0:0", ":80", "a:b:c", "[::ffff:1.2.3.4]:1"} {
		f.Add(s, true)
	}
	f.Fuzz(func(t *testing.T, s string, wildcard bool) {
		aps, err := Parse([]string{s}, wildcard)
		if err != nil {
			if !strings.Contains(err.Error(), fmt.Sprintf("%q", s)) {
				t.Errorf("error %q does not quote the address", err)
			}
			return
		}
		ap := aps[0]
		if !ap.IsValid() || ap.Addr().Is4In6() || (wildcard && ap.Addr().IsUnspecified()) {
			t.Errorf("Parse(%q) accepted %v", s, ap)
		}
		again, err := Parse([]string{ap.String()}, wildcard)
		if err != nil || again[0] != ap {
			t.Errorf("Parse(%q) = %v, which does not parse back: %v %v", s, ap, again, err)
		}
	})
}

// TestApplyWhileRunning moves a Set from {keep, drop} to {keep, add} and
// shows: the kept address still serves over the same connection it had
// before, the dropped one refuses connections, the added one serves.
func TestApplyWhileRunning(t *testing.T) {
	s := New(Options{Name: "test", Handler: echo})
	if err := s.Apply([]string{"127.0.0.61:0", "127.0.0.62:0"}); err != nil {
		t.Fatal(err)
	}
	start(t, s, 2)
	addrs := s.Addrs()
	keep, drop := addrs[0], addrs[1]
	c := client(t)
	before, err := get(t, c, keep)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := get(t, c, drop); err != nil {
		t.Fatal(err)
	}

	if err := s.Apply([]string{"127.0.0.61:0", "127.0.0.63:0"}); err != nil {
		t.Fatal(err)
	}
	after, err := get(t, c, keep)
	if err != nil {
		t.Fatalf("kept address: %v", err)
	}
	if after != before {
		t.Errorf("kept address served %q after Apply, want the same connection as before (%q)", after, before)
	}
	got := s.Addrs()
	if len(got) != 2 || got[0] != keep || got[1].Addr() != netip.MustParseAddr("127.0.0.63") {
		t.Fatalf("Addrs = %v, want %v and 127.0.0.63", got, keep)
	}
	if body, err := get(t, c, got[1]); err != nil || !strings.HasPrefix(body, got[1].String()+" ") {
		t.Errorf("added address: %q, %v", body, err)
	}
	waitFor(t, "dropped address to refuse", func() bool {
		conn, err := net.DialTimeout("tcp", drop.String(), time.Second)
		if err == nil {
			conn.Close()
		}
		return err != nil
	})
}

// TestBadApplyChangesNothing: a list with a wildcard (refused here) or a
// bad address is refused whole and the old addresses keep serving.
func TestBadApplyChangesNothing(t *testing.T) {
	s := New(Options{Handler: echo, RefuseWildcard: true, Name: "admin"})
	if err := s.Apply([]string{"127.0.0.64:0"}); err != nil {
		t.Fatal(err)
	}
	start(t, s, 1)
	old := s.Addrs()
	for _, bad := range [][]string{{"127.0.0.65:0", "0.0.0.0:9053"}, {"[::]:0"}, {"127.0.0.65:0", "nonsense"}} {
		err := s.Apply(bad)
		if err == nil || !strings.HasPrefix(err.Error(), "admin: listen: ") {
			t.Errorf("Apply(%q) = %v, want an error naming the service", bad, err)
		}
		if got := s.Addrs(); fmt.Sprint(got) != fmt.Sprint(old) {
			t.Errorf("after refused Apply(%q): Addrs = %v, want %v", bad, got, old)
		}
	}
	if _, err := get(t, client(t), old[0]); err != nil {
		t.Error(err)
	}
}

// TestBindFailure: an address that is taken fails Apply and shows in
// Health while the other addresses serve; once free, Apply binds it. At
// start, a taken address makes Run fail so the supervisor retries.
func TestBindFailure(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.66:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	takenAddr := taken.Addr().String()

	s := New(Options{Name: "info", Handler: echo})
	if err := s.Apply([]string{"127.0.0.67:0", takenAddr}); err != nil {
		t.Fatal(err)
	}
	if err := s.Run(context.Background()); err == nil || !strings.HasPrefix(err.Error(), "info: listen tcp "+takenAddr+": bind: ") {
		t.Errorf("Run with a taken address = %v, want the listen error", err)
	}

	if err := s.Apply([]string{"127.0.0.67:0"}); err != nil {
		t.Fatal(err)
	}
	start(t, s, 1)
	if err := s.Apply([]string{"127.0.0.67:0", takenAddr}); err == nil {
		t.Error("Apply with a taken address succeeded")
	}
	if err := s.Health(); !errors.Is(err, ErrNotBound) || !strings.Contains(err.Error(), takenAddr) {
		t.Errorf("Health = %v, want ErrNotBound naming %s", err, takenAddr)
	}
	if _, err := get(t, client(t), s.Addrs()[0]); err != nil {
		t.Errorf("the free address stopped serving: %v", err)
	}
	taken.Close()
	if err := s.Apply([]string{"127.0.0.67:0", takenAddr}); err != nil {
		t.Fatalf("Apply after the address was freed: %v", err)
	}
	if err := s.Health(); err != nil {
		t.Errorf("Health = %v after binding", err)
	}
	if got := s.Addrs(); len(got) != 2 || got[1].String() != takenAddr {
		t.Errorf("Addrs = %v", got)
	}
}

func TestRunTwice(t *testing.T) {
	s := New(Options{Handler: echo})
	if err := s.Apply([]string{"127.0.0.68:0"}); err != nil {
		t.Fatal(err)
	}
	start(t, s, 1)
	if err := s.Run(context.Background()); !errors.Is(err, ErrRunning) {
		t.Errorf("second Run = %v, want ErrRunning", err)
	}
}

// TestRestart: after Run returns, a new Run serves the same addresses
// again (the supervisor's restart).
func TestRestart(t *testing.T) {
	s := New(Options{Handler: echo})
	if err := s.Apply([]string{"127.0.0.69:0"}); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- s.Run(ctx) }()
		waitFor(t, "bound", func() bool { return len(s.Addrs()) == 1 })
		if _, err := get(t, client(t), s.Addrs()[0]); err != nil {
			t.Error(err)
		}
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if got := s.Addrs(); len(got) != 0 {
			t.Errorf("Addrs after Run = %v", got)
		}
	}
}

// TestGracefulShutdown: a request in flight when Run's context ends is
// answered; one that outlasts ShutdownTimeout is cut.
func TestGracefulShutdown(t *testing.T) {
	release := make(chan struct{})
	var started atomic.Int32
	slow := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		started.Add(1)
		<-release
		io.WriteString(w, "done")
	})
	s := New(Options{Handler: slow, ShutdownTimeout: 3 * time.Second})
	if err := s.Apply([]string{"127.0.0.70:0"}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	waitFor(t, "bound", func() bool { return len(s.Addrs()) == 1 })
	addr := s.Addrs()[0]
	got := make(chan string, 1)
	go func() {
		body, err := get(t, client(t), addr)
		if err != nil {
			body = err.Error()
		}
		got <- body
	}()
	waitFor(t, "request in flight", func() bool { return started.Load() == 1 })
	cancel()
	time.Sleep(50 * time.Millisecond)
	close(release)
	if body := <-got; body != "done" {
		t.Errorf("request in flight at shutdown got %q", body)
	}
	if err := <-done; err != nil {
		t.Error(err)
	}
}

// TestMaxConns: with room for one connection, a second waits until the
// first closes.
func TestMaxConns(t *testing.T) {
	s := New(Options{Handler: echo, MaxConns: 1})
	if err := s.Apply([]string{"127.0.0.71:0"}); err != nil {
		t.Fatal(err)
	}
	start(t, s, 1)
	addr := s.Addrs()[0].String()
	first, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(first, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	buf := make([]byte, 512)
	if _, err := first.Read(buf); err != nil {
		t.Fatal(err)
	}
	answered := make(chan error, 1)
	go func() {
		c := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 5 * time.Second}
		resp, err := c.Get("http://" + addr + "/")
		if err == nil {
			resp.Body.Close()
		}
		answered <- err
	}()
	select {
	case err := <-answered:
		t.Fatalf("second connection answered (%v) while the first was open", err)
	case <-time.After(200 * time.Millisecond):
	}
	first.Close()
	if err := <-answered; err != nil {
		t.Errorf("second connection after the first closed: %v", err)
	}
}
