package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/goleudy/goleudy/tools/lab"
)

// proc is a goleudy-node process under test.
type proc struct {
	cmd   *exec.Cmd
	mu    sync.Mutex
	lines []string
	done  chan struct{}
}

var buildOnce struct {
	sync.Once
	bin string
	err error
}

// binary builds goleudy-node once per test run.
func binary(t *testing.T) string {
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "goleudy-node-test")
		if err != nil {
			buildOnce.err = err
			return
		}
		buildOnce.bin = filepath.Join(dir, "goleudy-node")
		out, err := exec.Command("go", "build", "-o", buildOnce.bin, ".").CombinedOutput()
		if err != nil {
			buildOnce.err = fmt.Errorf("build: %v\n%s", err, out)
		}
	})
	if buildOnce.err != nil {
		t.Fatal(buildOnce.err)
	}
	return buildOnce.bin
}

func TestMain(m *testing.M) {
	code := m.Run()
	if buildOnce.bin != "" {
		os.RemoveAll(filepath.Dir(buildOnce.bin))
	}
	os.Exit(code)
}

func startNode(t *testing.T, args ...string) *proc {
	t.Helper()
	n := &proc{cmd: exec.Command(binary(t), args...), done: make(chan struct{})}
	stderr, _ := n.cmd.StderrPipe()
	if err := n.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		n.cmd.Process.Kill()
		<-n.done
	})
	go func() {
		defer close(n.done)
		s := bufio.NewScanner(stderr)
		for s.Scan() {
			n.mu.Lock()
			n.lines = append(n.lines, s.Text())
			n.mu.Unlock()
		}
		n.cmd.Wait()
	}()
	n.waitLog(t, `"msg":"node running"`)
	return n
}

func (n *proc) logs() string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return strings.Join(n.lines, "\n")
}

func (n *proc) waitLog(t *testing.T, substr string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(n.logs(), substr) {
		select {
		case <-n.done:
			t.Fatalf("node exited while waiting for %s:\n%s", substr, n.logs())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %s after 20s:\n%s", substr, n.logs())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestSIGTERM checks that SIGTERM stops the node cleanly with exit 0, and
// that every stderr line is a structured log record.
func TestSIGTERM(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "node.json")
	os.WriteFile(cfg, []byte(`{"schema":1,"serial":1,"node":{"id":"lab"}}`), 0o644)
	n := startNode(t, "run", "--config", cfg, "--state", filepath.Join(dir, "state"), "--unsigned")
	n.cmd.Process.Signal(syscall.SIGTERM)
	<-n.done
	if !n.cmd.ProcessState.Success() {
		t.Fatalf("exit after SIGTERM: %v\n%s", n.cmd.ProcessState, n.logs())
	}
	lines := strings.Split(n.logs(), "\n")
	for _, l := range lines {
		var rec map[string]any
		if err := json.Unmarshal([]byte(l), &rec); err != nil || rec["msg"] == nil || rec["level"] == nil {
			t.Errorf("not a structured log line: %q", l)
		}
	}
	if last := lines[len(lines)-1]; !strings.Contains(last, "node stopped") {
		t.Errorf("last line = %q", last)
	}
}

// TestZonesLive runs a whole node against a real NSD primary: it serves
// the configured zone, and a new config given with SIGHUP adds a zone and
// removes one with no restart.
func TestZonesLive(t *testing.T) {
	lab.Require(t, lab.ToolNSD)
	zone := func(name string) lab.Zone {
		return lab.Zone{Name: name, Text: "$TTL 300\n@ SOA ns1 host 1 3600 600 86400 300\n@ NS ns1\nns1 A 192.0.2.1\nwww A 192.0.2.80\n"}
	}
	nsd := lab.StartNSD(t, lab.Options{Zones: []lab.Zone{zone("one.test."), zone("two.test.")}, XFR: true})
	listen := lab.FreeAddr(t)
	dir := t.TempDir()
	cfgFile := filepath.Join(dir, "node.json")
	writeCfg := func(serial int, zones ...string) {
		var zs []string
		for _, z := range zones {
			zs = append(zs, fmt.Sprintf(`{"name":%q,"primaries":[%q]}`, z, nsd.Addr))
		}
		os.WriteFile(cfgFile, fmt.Appendf(nil, `{"schema":1,"serial":%d,"node":{"id":"lab"},"dns":{"listen":[%q]},"zones":[%s]}`,
			serial, listen, strings.Join(zs, ",")), 0o644)
	}
	writeCfg(1, "one.test.")
	n := startNode(t, "run", "--config", cfgFile, "--state", filepath.Join(dir, "state"), "--unsigned")
	rcode := func(name string) int {
		m := new(dns.Msg)
		m.SetQuestion(name, dns.TypeA)
		r, err := dns.Exchange(m, listen)
		if err != nil {
			return -1
		}
		return r.Rcode
	}
	waitRcode := func(name string, want int) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for rcode(name) != want {
			if time.Now().After(deadline) {
				t.Fatalf("%s: rcode %d, want %s\n%s", name, rcode(name), dns.RcodeToString[want], n.logs())
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	waitRcode("www.one.test.", dns.RcodeSuccess)
	waitRcode("www.two.test.", dns.RcodeRefused)

	writeCfg(2, "two.test.")
	n.cmd.Process.Signal(syscall.SIGHUP)
	n.waitLog(t, `"msg":"config applied","node":"lab","serial":2`)
	waitRcode("www.two.test.", dns.RcodeSuccess)
	waitRcode("www.one.test.", dns.RcodeRefused)

	// An older config is refused and changes nothing.
	writeCfg(1, "one.test.")
	n.cmd.Process.Signal(syscall.SIGHUP)
	n.waitLog(t, "config refused; keeping the current config")
	if rcode("www.two.test.") != dns.RcodeSuccess {
		t.Error("a refused config changed what is served")
	}
}
