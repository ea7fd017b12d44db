package tunnel

import (
	"bufio"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/goleudy/goleudy/tools/lab"
	"github.com/vishvananda/netlink"
)

// The lab: a server namespace and a node namespace joined by a veth. Each
// tunnel end runs in a re-executed test binary wholly inside its namespace,
// because wireguard-go opens its TUN and UDP sockets from many goroutines,
// all of which must be in the namespace. The ends coordinate by touching
// files in a shared directory.
var (
	serverUnderlay = netip.MustParseAddrPort("192.0.2.1:51820")
	serverAddr     = netip.MustParsePrefix("10.53.0.1/24")
	nodeAddr       = netip.MustParsePrefix("10.53.0.2/32")
	tunnelNet      = netip.MustParsePrefix("10.53.0.0/24")
	httpAddr       = "10.53.0.1:8053"
)

const (
	envRole = "GOLEUDY_TUNNEL_ROLE" // server, stranger or node
	envDir  = "GOLEUDY_TUNNEL_DIR"  // the shared directory
	envKeys = "GOLEUDY_TUNNEL_KEYS" // server,node,stranger private keys
)

// TestTunnel runs a server end and a node end in two namespaces and shows:
// a TCP connection from the node reaches the server over the tunnel with
// the node's tunnel address as source; both ends see a handshake; a key the
// server does not know gets nothing, even claiming the node's address; a
// SetPeers that keeps the node keeps its session; one that drops the node
// cuts it off. It needs root and /dev/net/tun and fails without them.
func TestTunnel(t *testing.T) {
	if _, ok := lab.InNetns(); ok {
		tunnelChild(t)
		return
	}
	if os.Geteuid() != 0 {
		t.Fatal("services/tunnel: TestTunnel needs root for network namespaces and TUN")
	}
	if _, err := os.Stat("/dev/net/tun"); err != nil {
		t.Fatalf("services/tunnel: TestTunnel needs /dev/net/tun: %v", err)
	}
	serverNS, nodeNS := lab.NewNetns(t), lab.NewNetns(t)
	lab.Veth(t, serverNS, nodeNS, []string{"192.0.2.1/24"}, []string{"192.0.2.2/24"})
	var keys []string
	for range 3 {
		k, err := GenerateKey()
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, k.String())
	}
	dir := t.TempDir()
	env := []string{envDir + "=" + dir, envKeys + "=" + strings.Join(keys, ",")}
	t.Run("ends", func(t *testing.T) {
		t.Run("server", func(t *testing.T) {
			t.Parallel()
			lab.ExecTest(t, serverNS, "^TestTunnel$", time.Minute, append(env, envRole+"=server")...)
		})
		t.Run("node", func(t *testing.T) {
			t.Parallel()
			// Let the server end go however the node ends.
			defer touch(t, dir, "finished")
			lab.ExecTest(t, nodeNS, "^TestTunnel$", 30*time.Second, append(env, envRole+"=stranger")...)
			lab.ExecTest(t, nodeNS, "^TestTunnel$", 30*time.Second, append(env, envRole+"=node")...)
		})
	})
}

type labKeys struct{ server, node, stranger Key }

func tunnelChild(t *testing.T) {
	dir := os.Getenv(envDir)
	var ks []Key
	for _, s := range strings.Split(os.Getenv(envKeys), ",") {
		k, err := ParseKey(s)
		if err != nil {
			t.Fatal(err)
		}
		ks = append(ks, k)
	}
	if len(ks) != 3 {
		t.Fatalf("%s: %d keys, want 3", envKeys, len(ks))
	}
	keys := labKeys{ks[0], ks[1], ks[2]}
	switch role := os.Getenv(envRole); role {
	case "server":
		serverEnd(t, dir, keys)
	case "stranger":
		strangerEnd(t, dir, keys)
	case "node":
		nodeEnd(t, dir, keys)
	default:
		t.Fatalf("%s=%q", envRole, role)
	}
}

func childLog() *slog.Logger {
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

func nodePeer(k Key) Peer {
	return Peer{PublicKey: k.Public(), AllowedIPs: []netip.Prefix{netip.PrefixFrom(nodeAddr.Addr(), 32)}}
}

func serverEnd(t *testing.T, dir string, keys labKeys) {
	tn, err := Up(Config{PrivateKey: keys.server, ListenPort: int(serverUnderlay.Port()), Address: serverAddr,
		Peers: []Peer{nodePeer(keys.node)}, Log: childLog()})
	if err != nil {
		t.Fatal(err)
	}
	defer tn.Close()
	if tn.Name() != DefaultName || tn.ListenPort() != int(serverUnderlay.Port()) {
		t.Errorf("Name, ListenPort = %s, %d", tn.Name(), tn.ListenPort())
	}
	testUpUndoes(t, keys)

	// The handler answers with the source address it saw: the node's
	// identity.
	var mu sync.Mutex
	var sources []string
	ln, err := net.Listen("tcp", httpAddr)
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host, _, _ := net.SplitHostPort(r.RemoteAddr)
		mu.Lock()
		sources = append(sources, host)
		mu.Unlock()
		io.WriteString(w, host)
	})}
	var wg sync.WaitGroup
	wg.Go(func() { hs.Serve(ln) })
	defer wg.Wait()
	defer hs.Close()
	touch(t, dir, "server-ready")

	waitFile(t, dir, "node-ok", 40*time.Second)
	mu.Lock()
	if len(sources) == 0 || strings.Count(strings.Join(sources, " "), nodeAddr.Addr().String()) != len(sources) {
		t.Errorf("HTTP request sources %v, want only %s", sources, nodeAddr.Addr())
	}
	mu.Unlock()
	st := tn.Status()
	if len(st) != 1 || st[0].PublicKey != keys.node.Public() {
		t.Fatalf("server Status = %+v, want the node alone", st)
	}
	checkRecent(t, "server", st[0])
	if st[0].Endpoint.Addr() != netip.MustParseAddr("192.0.2.2") {
		t.Errorf("server sees the node at %v, want 192.0.2.2", st[0].Endpoint)
	}

	// Setting the same peers again must keep the session and the learned
	// endpoint: a recreated peer would have neither.
	if err := tn.SetPeers([]Peer{nodePeer(keys.node)}); err != nil {
		t.Fatal(err)
	}
	kept := tn.Status()
	if len(kept) != 1 || !kept[0].LastHandshake.Equal(st[0].LastHandshake) || kept[0].Endpoint != st[0].Endpoint {
		t.Errorf("after SetPeers(same): %+v, want handshake %v and endpoint %v kept", kept, st[0].LastHandshake, st[0].Endpoint)
	}
	touch(t, dir, "kept")

	waitFile(t, dir, "node-ok2", 20*time.Second)
	if err := tn.SetPeers(nil); err != nil {
		t.Fatal(err)
	}
	if st := tn.Status(); len(st) != 0 {
		t.Errorf("after SetPeers(nil): %+v", st)
	}
	touch(t, dir, "cut")
	waitFile(t, dir, "finished", 40*time.Second)
}

// testUpUndoes has Up fail after it made the link (the port is taken) and
// checks that the link is gone again. Whether the bind fails while
// configuring or while starting depends on whether wireguard-go already
// brought the device up by itself (it does on its TUN's first "up" event),
// so the test checks the cause, not the step.
func testUpUndoes(t *testing.T, keys labKeys) {
	_, err := Up(Config{Name: "wg9", PrivateKey: keys.stranger, ListenPort: int(serverUnderlay.Port()), Address: serverAddr})
	if !errors.Is(err, syscall.EADDRINUSE) || !strings.Contains(err.Error(), "up wg9: ") {
		t.Errorf("Up on a taken port: error %v, want EADDRINUSE", err)
	}
	if _, err := netlink.LinkByName("wg9"); err == nil {
		t.Error("failed Up left link wg9 behind")
	}
}

// nodeConfig is a node end with private key k, dialing the server.
func nodeConfig(k Key, keys labKeys) Config {
	return Config{PrivateKey: k, Address: nodeAddr, Log: childLog(), Peers: []Peer{{
		PublicKey:  keys.server.Public(),
		Endpoint:   serverUnderlay,
		AllowedIPs: []netip.Prefix{tunnelNet},
		Keepalive:  time.Second,
	}}}
}

// strangerEnd is a node the server does not know, claiming the node's
// tunnel address. Its handshakes go unanswered, so it gets nowhere.
func strangerEnd(t *testing.T, dir string, keys labKeys) {
	waitFile(t, dir, "server-ready", 20*time.Second)
	tn, err := Up(nodeConfig(keys.stranger, keys))
	if err != nil {
		t.Fatal(err)
	}
	defer tn.Close()
	if body, err := get(3 * time.Second); err == nil {
		t.Fatalf("stranger reached the server: %q", body)
	}
	if st := tn.Status(); len(st) != 1 || !st[0].LastHandshake.IsZero() || st[0].TxBytes == 0 {
		t.Errorf("stranger Status = %+v, want handshakes sent and none completed", st)
	}
}

func nodeEnd(t *testing.T, dir string, keys labKeys) {
	waitFile(t, dir, "server-ready", 20*time.Second)
	tn, err := Up(nodeConfig(keys.node, keys))
	if err != nil {
		t.Fatal(err)
	}
	defer tn.Close()
	body, err := get(10 * time.Second)
	if err != nil {
		t.Fatalf("GET over the tunnel: %v", err)
	}
	if body != nodeAddr.Addr().String() {
		t.Errorf("server saw source %q, want %s", body, nodeAddr.Addr())
	}
	st := tn.Status()
	if len(st) != 1 || st[0].PublicKey != keys.server.Public() || st[0].Endpoint != serverUnderlay {
		t.Fatalf("node Status = %+v", st)
	}
	checkRecent(t, "node", st[0])
	touch(t, dir, "node-ok")

	waitFile(t, dir, "kept", 20*time.Second)
	if _, err := get(5 * time.Second); err != nil {
		t.Errorf("GET after SetPeers(same): %v", err)
	}
	touch(t, dir, "node-ok2")

	waitFile(t, dir, "cut", 20*time.Second)
	if body, err := get(3 * time.Second); err == nil {
		t.Errorf("node removed by SetPeers still reached the server: %q", body)
	}
	if err := tn.Close(); err != nil {
		t.Error(err)
	}
	if err := tn.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := netlink.LinkByName(tn.Name()); err == nil {
		t.Errorf("link %s still there after Close", tn.Name())
	}
}

func checkRecent(t *testing.T, end string, p PeerStatus) {
	t.Helper()
	if age := time.Since(p.LastHandshake); p.LastHandshake.IsZero() || age < 0 || age > 30*time.Second {
		t.Errorf("%s: last handshake %v, want within 30s", end, p.LastHandshake)
	}
	if p.RxBytes == 0 || p.TxBytes == 0 {
		t.Errorf("%s: rx %d tx %d bytes, want traffic both ways", end, p.RxBytes, p.TxBytes)
	}
}

// get fetches the server's page over a fresh connection. It speaks
// HTTP/1.0 by hand because net/http keeps a timed-out dial running in the
// background, which goleak would report.
func get(timeout time.Duration) (string, error) {
	c, err := net.DialTimeout("tcp", httpAddr, timeout)
	if err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(timeout))
	if _, err := io.WriteString(c, "GET / HTTP/1.0\r\nHost: "+httpAddr+"\r\n\r\n"); err != nil {
		return "", err
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}

func touch(t *testing.T, dir, name string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), nil, 0o644); err != nil {
		t.Error(err)
	}
}

func waitFile(t *testing.T, dir, name string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		_, err := os.Stat(filepath.Join(dir, name))
		if err == nil {
			return
		}
		if !errors.Is(err, os.ErrNotExist) || time.Now().After(deadline) {
			t.Fatalf("waiting %v for %s: %v", timeout, name, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
