package bgp_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/goleudy/goleudy/provision/config"
	"github.com/goleudy/goleudy/services/bgp"
	"github.com/goleudy/goleudy/tools/lab"
)

// The lab: the node namespace holds the test binary (re-executed there, so
// that every socket GoBGP opens, from whatever goroutine, is in it); the
// peer namespace holds BIRD. One veth joins them.
var (
	nodeV4 = netip.MustParseAddr("198.51.100.2")
	peerV4 = netip.MustParseAddr("198.51.100.1")
	nodeV6 = netip.MustParseAddr("2001:db8:ffff::2")
	peerV6 = netip.MustParseAddr("2001:db8:ffff::1")
	pfx4   = netip.MustParsePrefix("192.0.2.0/24")
	pfx6   = netip.MustParsePrefix("2001:db8:53::/48")
)

const (
	nodeASN = 64512
	peerASN = 64500
	envPeer = "GOLEUDY_BGP_PEER_NETNS"
)

// TestBIRD proves the speaker against BIRD 2. It needs root and bird2 and
// fails, naming the package, without them.
func TestBIRD(t *testing.T) {
	if _, ok := lab.InNetns(); ok {
		birdChild(t, lab.OpenNetns(os.Getenv(envPeer)))
		return
	}
	if os.Geteuid() != 0 {
		t.Fatal("services/bgp: TestBIRD needs root for network namespaces")
	}
	node := lab.NewNetns(t)
	peer := lab.NewNetns(t)
	lab.Veth(t, node, peer,
		[]string{nodeV4.String() + "/30", nodeV6.String() + "/64"},
		[]string{peerV4.String() + "/30", peerV6.String() + "/64"})
	lab.ExecTest(t, node, "^TestBIRD$", 4*time.Minute, envPeer+"="+peer.Name)
}

func birdChild(t *testing.T, peerNS *lab.Netns) {
	t.Run("Announce", func(t *testing.T) { testAnnounce(t, peerNS) })
	t.Run("WrongMD5", func(t *testing.T) { testWrongMD5(t, peerNS) })
	t.Run("MaxPrefix", func(t *testing.T) { testOffered(t, peerNS, 0) })
	t.Run("ImportNone", func(t *testing.T) { testOffered(t, peerNS, 5000) })
}

func birdPeers(pw4, pw6 string, offer int) lab.BIRDConfig {
	return lab.BIRDConfig{RouterID: peerV4, Peers: []lab.BIRDPeer{
		{Name: "node4", Local: peerV4, LocalASN: peerASN, Neighbor: nodeV4, PeerASN: nodeASN, Password: pw4, Offer: offer},
		{Name: "node6", Local: peerV6, LocalASN: peerASN, Neighbor: nodeV6, PeerASN: nodeASN, Password: pw6, Offer: offer},
	}}
}

func nodeConfig(pw4, pw6 string) *config.Config {
	return &config.Config{
		Schema: 1, Serial: 1,
		Node:    config.Node{ID: "lab", State: config.StateLive},
		Anycast: config.Anycast{ASN: nodeASN, Prefixes: []string{pfx4.String(), pfx6.String()}},
		BGP: config.BGP{RouterID: nodeV4.String(), Peers: []config.Peer{
			{Name: "up4", ASN: peerASN, Neighbor: peerV4.String(), Password: pw4, HoldTime: 9,
				Communities: []string{"64500:100"}, LargeCommunities: []string{"64512:1:2"}, Prepend: 2},
			{Name: "up6", ASN: peerASN, Neighbor: peerV6.String(), Password: pw6, HoldTime: 9,
				Communities: []string{"64500:200"}},
		}},
	}
}

// logBuf collects the service's log for assertions and echoes it to t.
type logBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// startService runs s until the test ends.
func startService(t *testing.T, cfg *config.Config, o bgp.Options) (*bgp.Service, *logBuf) {
	t.Helper()
	logs := &logBuf{}
	o.Logger = slog.New(slog.NewTextHandler(io.MultiWriter(logs, tWriter{t}), &slog.HandlerOptions{Level: slog.LevelInfo}))
	if o.ConnectRetry == 0 {
		o.ConnectRetry = time.Second
	}
	s, err := bgp.New(cfg, o)
	if err != nil {
		t.Fatal(err)
	}
	lab.Run(t, s.Run)
	return s, logs
}

type tWriter struct{ t *testing.T }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// waitFor polls cond every 5ms until it holds or d passes, and returns how
// long it took.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > d {
			t.Fatalf("services/bgp: %s: not within %s", what, d)
		}
		time.Sleep(5 * time.Millisecond)
	}
	return time.Since(start)
}

func routes(t *testing.T, b *lab.BIRD) map[netip.Prefix]lab.BIRDRoute {
	t.Helper()
	rs, err := b.Routes(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	m := map[netip.Prefix]lab.BIRDRoute{}
	for _, r := range rs {
		m[r.Prefix] = r
	}
	return m
}

func established(t *testing.T, b *lab.BIRD, names ...string) bool {
	for _, n := range names {
		ok, err := b.Established(context.Background(), n)
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			return false
		}
	}
	return true
}

func testAnnounce(t *testing.T, peerNS *lab.Netns) {
	b := lab.StartBIRD(t, peerNS, birdPeers("s3cret4", "s3cret6", 0))
	cfg := nodeConfig("s3cret4", "s3cret6")
	s, _ := startService(t, cfg, bgp.Options{DrainPeriod: 2 * time.Second})

	up := waitFor(t, 30*time.Second, "sessions established over IPv4 and IPv6", func() bool {
		return established(t, b, "node4", "node6")
	})
	t.Logf("established after %s", up)
	time.Sleep(300 * time.Millisecond)
	if got := routes(t, b); len(got) != 0 {
		t.Fatalf("announced before healthy: %v", got)
	}

	if err := s.SetAllHealthy(true); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "both prefixes at BIRD", func() bool { return len(routes(t, b)) == 2 })
	got := routes(t, b)
	checkRoute(t, got, pfx4, []uint32{nodeASN, nodeASN, nodeASN}, []string{"64500:100"}, []string{"64512:1:2"})
	checkRoute(t, got, pfx6, []uint32{nodeASN}, []string{"64500:200"}, nil)
	for p := range got {
		if p != pfx4 && p != pfx6 {
			t.Errorf("BIRD holds %s, which is not configured", p)
		}
	}
	st := s.Status()
	for _, p := range st.Peers {
		if p.State != "established" || len(p.Announced) != 1 || p.Uptime <= 0 {
			t.Errorf("status %+v", p)
		}
	}
	if err := s.Health(); err != nil {
		t.Errorf("Health: %v", err)
	}

	t.Run("WithdrawLatency", func(t *testing.T) {
		var lat []time.Duration
		for range 20 {
			start := time.Now()
			if err := s.SetHealthy(pfx4, false); err != nil {
				t.Fatal(err)
			}
			waitFor(t, 2*time.Second, "withdrawal of "+pfx4.String(), func() bool {
				_, ok := routes(t, b)[pfx4]
				return !ok
			})
			lat = append(lat, time.Since(start))
			if _, ok := routes(t, b)[pfx6]; !ok {
				t.Fatal("withdrawing the IPv4 prefix took the IPv6 one too")
			}
			if err := s.SetHealthy(pfx4, true); err != nil {
				t.Fatal(err)
			}
			waitFor(t, 5*time.Second, "re-announcement", func() bool { _, ok := routes(t, b)[pfx4]; return ok })
		}
		slices.Sort(lat)
		t.Logf("withdraw latency (SetHealthy(false) to gone at BIRD, 20 trials): median %s max %s", lat[len(lat)/2], lat[len(lat)-1])
		if lat[len(lat)-1] >= 2*time.Second {
			t.Errorf("worst withdrawal %s, want < 2s", lat[len(lat)-1])
		}
	})

	t.Run("ApplyPrepend", func(t *testing.T) {
		before := s.Status()
		c2 := *cfg
		c2.Serial++
		c2.BGP.Peers = slices.Clone(cfg.BGP.Peers)
		c2.BGP.Peers[1].Prepend = 3
		c2.BGP.Peers[1].Communities = []string{"64500:300"}
		if err := s.Apply(&c2); err != nil {
			t.Fatal(err)
		}
		waitFor(t, 5*time.Second, "new prepend at BIRD", func() bool {
			return len(routes(t, b)[pfx6].ASPath) == 4
		})
		checkRoute(t, routes(t, b), pfx6, []uint32{nodeASN, nodeASN, nodeASN, nodeASN}, []string{"64500:300"}, nil)
		after := s.Status()
		for i := range after.Peers {
			if !after.Peers[i].Since.Equal(before.Peers[i].Since) || after.Peers[i].State != "established" {
				t.Errorf("session %s restarted by a prepend change: %+v -> %+v", after.Peers[i].Name, before.Peers[i], after.Peers[i])
			}
		}
		*cfg = c2
	})

	t.Run("Drain", func(t *testing.T) {
		ctx := context.Background()
		done := make(chan error, 1)
		start := time.Now()
		go func() { done <- s.Drain(ctx) }()
		waitFor(t, 2*time.Second, "65535:0 at BIRD", func() bool {
			got := routes(t, b)
			return len(got) == 2 && slices.Contains(got[pfx4].Communities, "65535:0") &&
				slices.Contains(got[pfx6].Communities, "65535:0")
		})
		gs := time.Since(start)
		checkRoute(t, routes(t, b), pfx4, []uint32{nodeASN, nodeASN, nodeASN}, []string{"64500:100", "65535:0"}, []string{"64512:1:2"})
		waitFor(t, 5*time.Second, "withdrawal after drain", func() bool { return len(routes(t, b)) == 0 })
		t.Logf("GRACEFUL_SHUTDOWN seen after %s, withdrawn after %s", gs, time.Since(start))
		if time.Since(start) < 2*time.Second {
			t.Errorf("withdrawn before the drain period")
		}
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if err := s.Undrain(); err != nil {
			t.Fatal(err)
		}
		waitFor(t, 5*time.Second, "re-announcement after undrain", func() bool { return len(routes(t, b)) == 2 })
		if slices.Contains(routes(t, b)[pfx4].Communities, "65535:0") {
			t.Error("65535:0 still attached after undrain")
		}
	})

	t.Run("StateMaintenance", func(t *testing.T) {
		c2 := *cfg
		c2.Serial++
		c2.Node.State = config.StateMaintenance
		if err := s.Apply(&c2); err != nil {
			t.Fatal(err)
		}
		waitFor(t, 2*time.Second, "65535:0 on maintenance", func() bool {
			return slices.Contains(routes(t, b)[pfx4].Communities, "65535:0")
		})
		waitFor(t, 5*time.Second, "withdrawal on maintenance", func() bool { return len(routes(t, b)) == 0 })
		c2.Serial++
		c2.Node.State = config.StateLive
		if err := s.Apply(&c2); err != nil {
			t.Fatal(err)
		}
		waitFor(t, 5*time.Second, "back on live", func() bool { return len(routes(t, b)) == 2 })
	})

	t.Run("RemovePeer", func(t *testing.T) {
		c2 := *cfg
		c2.Serial += 10
		c2.BGP.Peers = cfg.BGP.Peers[:1]
		since := s.Status().Peers[0].Since
		if err := s.Apply(&c2); err != nil {
			t.Fatal(err)
		}
		waitFor(t, 5*time.Second, "v6 session closed", func() bool { return !established(t, b, "node6") })
		if _, ok := routes(t, b)[pfx4]; !ok || !established(t, b, "node4") {
			t.Error("removing the IPv6 peer disturbed the IPv4 one")
		}
		if got := s.Status().Peers[0].Since; !got.Equal(since) {
			t.Error("IPv4 session restarted")
		}
	})
}

func checkRoute(t *testing.T, got map[netip.Prefix]lab.BIRDRoute, p netip.Prefix, path []uint32, comms, large []string) {
	t.Helper()
	r, ok := got[p]
	if !ok {
		t.Errorf("BIRD lacks %s", p)
		return
	}
	sort.Strings(r.Communities)
	if !slices.Equal(r.ASPath, path) || !slices.Equal(r.Communities, comms) || !slices.Equal(r.LargeCommunities, large) {
		t.Errorf("%s at BIRD: as_path %v communities %v large %v; want %v %v %v", p, r.ASPath, r.Communities, r.LargeCommunities, path, comms, large)
	}
}

func testWrongMD5(t *testing.T, peerNS *lab.Netns) {
	b := lab.StartBIRD(t, peerNS, birdPeers("right", "right", 0))
	s, logs := startService(t, nodeConfig("wrong", "wrong"), bgp.Options{WarnAfter: 2 * time.Second})
	if err := s.SetAllHealthy(true); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "warning about the session", func() bool {
		return strings.Count(logs.String(), "check the TCP-MD5 password") >= 2
	})
	if established(t, b, "node4") || established(t, b, "node6") {
		t.Error("session up with a wrong password")
	}
	for _, p := range s.Status().Peers {
		if p.State == "established" || p.LastError == "" {
			t.Errorf("status %+v", p)
		}
	}
	if !errors.Is(s.Health(), bgp.ErrNoSession) {
		t.Errorf("Health = %v", s.Health())
	}
}

// testOffered has BIRD offer 1,000 routes per session. With the default
// max-prefix the node resets the session; with a limit above 1,000 the
// session stays up and the import policy rejects every route while the
// node's own prefixes still go out.
func testOffered(t *testing.T, peerNS *lab.Netns, maxPrefixes uint32) {
	b := lab.StartBIRD(t, peerNS, birdPeers("", "", 1000))
	s, logs := startService(t, nodeConfig("", ""), bgp.Options{MaxPrefixes: maxPrefixes})
	if err := s.SetAllHealthy(true); err != nil {
		t.Fatal(err)
	}
	if maxPrefixes == 0 {
		waitFor(t, 30*time.Second, "prefix limit", func() bool {
			return strings.Contains(logs.String(), "prefix limit reached")
		})
	} else {
		waitFor(t, 30*time.Second, "own prefixes at BIRD", func() bool { return len(routes(t, b)) == 2 })
		waitFor(t, 10*time.Second, "BIRD exporting 1,000 routes per session", func() bool {
			for _, n := range []string{"node4", "node6"} {
				out, err := b.Birdc(context.Background(), "show", "protocols", "all", n)
				if err != nil || !strings.Contains(out, "1000 exported") {
					return false
				}
			}
			return true
		})
		time.Sleep(200 * time.Millisecond) // let the last UPDATEs land
		if !established(t, b, "node4", "node6") {
			t.Error("sessions dropped although the limit is above what BIRD sends")
		}
	}
	rib, err := s.RIB(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range rib {
		if e.FromPeer || (e.Prefix != pfx4 && e.Prefix != pfx6) {
			t.Errorf("node imported %+v", e)
		}
	}
	t.Logf("node RIB holds %d paths: %v", len(rib), rib)
}
