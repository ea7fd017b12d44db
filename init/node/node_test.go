package node

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/goleudy/goleudy/provision/config"
	"github.com/goleudy/goleudy/provision/envelope"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func init() {
	// Outside the ephemeral range, so no client socket takes it.
	labAddr = fmt.Sprintf("127.0.0.1:%d", 20000+os.Getpid()%12000)
}

// syncBuffer lets the test read logs while the node writes them.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func labConfig(serial int, id string) []byte {
	return fmt.Appendf(nil, `{"schema":1,"serial":%d,"node":{"id":%q},"dns":{"listen":[%q]}}`, serial, id, labAddr)
}

// labAddr is where the nodes of these tests listen; they run one at a time.
var labAddr string

// start runs the node in-process until the returned stop is called.
func start(t *testing.T, args ...string) (logs *syncBuffer, stop func() error) {
	t.Helper()
	logs = &syncBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Main(ctx, "test", args, &bytes.Buffer{}, logs) }()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(logs.String(), `"msg":"node running"`) {
		select {
		case err := <-done:
			cancel()
			t.Fatalf("node exited early: %v\n%s", err, logs)
		default:
		}
		if time.Now().After(deadline) {
			cancel()
			t.Fatalf("node did not start:\n%s", logs)
		}
		time.Sleep(5 * time.Millisecond)
	}
	return logs, func() error { cancel(); return <-done }
}

func TestRunUnsigned(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "node.json")
	os.WriteFile(cfg, labConfig(3, "lab"), 0o644)
	logs, stop := start(t, "run", "--config", cfg, "--state", filepath.Join(dir, "state"), "--unsigned")
	if err := stop(); err != nil {
		t.Fatalf("stop: %v\n%s", err, logs)
	}
	for _, want := range []string{`"msg":"config accepted","serial":3`, `"node":"lab"`, `"msg":"node stopped"`} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("logs lack %s:\n%s", want, logs)
		}
	}
}

// TestFailStatic: a refused config does not stop a node that has a last good
// one; without one, the node exits with ExitNoConfig.
func TestFailStatic(t *testing.T) {
	dir := t.TempDir()
	keyDir := t.TempDir()
	if _, err := envelope.NewKeyPair(filepath.Join(keyDir, "fleet")); err != nil {
		t.Fatal(err)
	}
	key, _ := envelope.LoadPrivateKey(filepath.Join(keyDir, "fleet.key"))
	signed := func(serial int) []byte {
		out, err := envelope.Sign(config.PayloadType, labConfig(serial, "alban"), key)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	cfg := filepath.Join(dir, "node.signed.json")
	state := filepath.Join(dir, "state")
	args := []string{"run", "--config", cfg, "--state", state, "--trust", filepath.Join(keyDir, "fleet.pub")}

	os.WriteFile(cfg, signed(7), 0o644)
	_, stop := start(t, args...)
	if err := stop(); err != nil {
		t.Fatal(err)
	}

	os.WriteFile(cfg, signed(5), 0o644) // a replay of an older config
	logs, stop := start(t, args...)
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logs.String(), "config refused; serving the last good config") ||
		!strings.Contains(logs.String(), `"serial":7`) {
		t.Errorf("logs:\n%s", logs)
	}

	// A cancelled context: the node accepts its config, starts and stops.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := Main(ctx, "test", []string{"run", "--config", cfg, "--state", t.TempDir(), "--trust", filepath.Join(keyDir, "fleet.pub")},
		&bytes.Buffer{}, &bytes.Buffer{})
	if err != nil {
		t.Fatalf("serial 5 on a fresh node must be accepted: %v", err)
	}
}

func TestNoUsableConfig(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "node.json")
	os.WriteFile(cfg, []byte(`{"schema":1,"serial":1,"node":{"id":"Bad Name"}}`), 0o644)
	var logs bytes.Buffer
	err := Main(context.Background(), "test", []string{"run", "--config", cfg, "--state", dir, "--unsigned"}, &bytes.Buffer{}, &logs)
	if ExitCode(err) != ExitNoConfig || !strings.Contains(err.Error(), `node.id: "Bad Name"`) {
		t.Errorf("err = %v (exit %d)", err, ExitCode(err))
	}
	err = Main(context.Background(), "test", []string{"run", "--config", filepath.Join(dir, "missing.json"), "--state", dir, "--unsigned"}, &bytes.Buffer{}, &logs)
	if ExitCode(err) != ExitNoConfig {
		t.Errorf("missing file: err = %v (exit %d)", err, ExitCode(err))
	}
}

func TestUsage(t *testing.T) {
	for _, args := range [][]string{
		{},
		{"fly"},
		{"run"},
		{"run", "--config", "x", "--state", "y"},
		{"run", "--config", "x", "--state", "y", "--unsigned", "--trust", "k.pub"},
		{"run", "--config", "x", "--state", "y", "--unsigned", "--network", "bridge"},
		{"run", "--config", "x", "--state", "y", "--unsigned", "--log-format", "xml"},
		{"run", "--config", "x", "--state", "y", "--unsigned", "extra"},
		{"run", "--config", "x", "--state", "y", "--trust", "/nonexistent.pub"},
	} {
		err := Main(context.Background(), "test", args, &bytes.Buffer{}, &bytes.Buffer{})
		if ExitCode(err) != ExitUsage {
			t.Errorf("%q: err = %v (exit %d), want exit %d", args, err, ExitCode(err), ExitUsage)
		}
	}
	for _, args := range [][]string{
		{"run", "--seed", "s.json", "--state", "y", "--network=none"},
		{"run", "--config", "x", "--state", "y", "--unsigned", "--dhcp-timeout", "0s"},
	} {
		err := Main(context.Background(), "test", args, &bytes.Buffer{}, &bytes.Buffer{})
		if ExitCode(err) != ExitUsage {
			t.Errorf("%q: err = %v (exit %d), want exit %d", args, err, ExitCode(err), ExitUsage)
		}
	}
	// The command contract: --network=manage works with a config alone.
	if _, err := parseRun([]string{"--config", "x", "--state", "y", "--unsigned", "--network=manage"}, &bytes.Buffer{}); err != nil {
		t.Errorf("manage with --config: %v", err)
	}
	var out bytes.Buffer
	if err := Main(context.Background(), "v1.2.3", []string{"version"}, &out, &bytes.Buffer{}); err != nil || out.String() != "v1.2.3\n" {
		t.Errorf("version: %q, %v", out.String(), err)
	}
}
