package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/goleudy/goleudy/tools/lab"
)

// binary builds goleudy-node once per test run.
func binary(tb testing.TB) string { return lab.Build(tb, "./init", "goleudy-node") }

func TestMain(m *testing.M) {
	code := m.Run()
	lab.CleanupBuilds()
	os.Exit(code)
}

func startNode(t *testing.T, args ...string) *lab.Proc {
	t.Helper()
	return startNodeCmd(t, exec.Command(binary(t), args...))
}

// startNodeCmd starts cmd, a goleudy-node run command line, and waits until
// the node runs.
func startNodeCmd(tb testing.TB, cmd *exec.Cmd) *lab.Proc {
	tb.Helper()
	n := lab.StartProc(tb, "goleudy-node", cmd)
	n.WaitLog(tb, `"msg":"node running"`, 20*time.Second)
	return n
}

// TestSIGTERM checks that SIGTERM stops the node cleanly with exit 0, and
// that every stderr line is a structured log record.
func TestSIGTERM(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "node.json")
	os.WriteFile(cfg, []byte(`{"schema":1,"serial":1,"node":{"id":"lab"}}`), 0o644)
	n := startNode(t, "run", "--config", cfg, "--state", filepath.Join(dir, "state"), "--unsigned")
	n.Stop(t)
	lines := strings.Split(n.Logs(), "\n")
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
				t.Fatalf("%s: rcode %d, want %s\n%s", name, rcode(name), dns.RcodeToString[want], n.Logs())
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	waitRcode("www.one.test.", dns.RcodeSuccess)
	waitRcode("www.two.test.", dns.RcodeRefused)

	writeCfg(2, "two.test.")
	n.Cmd.Process.Signal(syscall.SIGHUP)
	n.WaitLog(t, `"msg":"config applied","node":"lab","serial":2`, 20*time.Second)
	waitRcode("www.two.test.", dns.RcodeSuccess)
	waitRcode("www.one.test.", dns.RcodeRefused)

	// An older config is refused and changes nothing.
	writeCfg(1, "one.test.")
	n.Cmd.Process.Signal(syscall.SIGHUP)
	n.WaitLog(t, "config refused; keeping the current config", 20*time.Second)
	if rcode("www.two.test.") != dns.RcodeSuccess {
		t.Error("a refused config changed what is served")
	}
}

// gateLab is a whole node in a network namespace, peered over MD5 with a
// real BIRD 2 in another, announcing 192.0.2.0/24 while it answers DNS on
// 192.0.2.53.
type gateLab struct {
	tb      testing.TB
	ctx     context.Context
	node    *lab.Netns
	bird    *lab.BIRD
	proc    *lab.Proc
	started time.Time // when the node process was started
}

func newGateLab(tb testing.TB) *gateLab {
	tb.Helper()
	lab.Require(tb, lab.ToolBIRD, lab.ToolBirdc, lab.ToolNft)
	node, peer := lab.NewNetns(tb), lab.NewNetns(tb)
	lab.Veth(tb, node, peer, []string{"198.51.100.2/30"}, []string{"198.51.100.1/30"})
	if err := node.IP("addr", "add", "192.0.2.53/32", "dev", "lo"); err != nil {
		tb.Fatal(err)
	}
	bird := lab.StartBIRD(tb, peer, lab.BIRDConfig{
		RouterID: netip.MustParseAddr("198.51.100.1"),
		Peers: []lab.BIRDPeer{{Name: "node4", Local: netip.MustParseAddr("198.51.100.1"), LocalASN: 64500,
			Neighbor: netip.MustParseAddr("198.51.100.2"), PeerASN: 64512, Password: "s3cret"}},
	})
	dir := tb.TempDir()
	cfg := filepath.Join(dir, "node.json")
	os.WriteFile(cfg, []byte(`{"schema":1,"serial":1,"node":{"id":"lab"},
		"interfaces":{"ix":{"match":"veth-a","addresses":["198.51.100.2/30"]}},
		"anycast":{"asn":64512,"prefixes":["192.0.2.0/24"],"addresses":["192.0.2.53"]},
		"bgp":{"peers":[{"name":"upstream","asn":64500,"neighbor":"198.51.100.1","password":"s3cret","hold_time":9}]},
		"dns":{"listen":["192.0.2.53:53"],"identity":"lab"}}`), 0o644)
	ctx, cancel := context.WithCancel(context.Background())
	tb.Cleanup(cancel)
	g := &gateLab{tb: tb, ctx: ctx, node: node, bird: bird, started: time.Now()}
	g.proc = startNodeCmd(tb, node.Command(ctx, binary(tb), "run", "--config", cfg, "--state", filepath.Join(dir, "state"), "--unsigned"))
	return g
}

func (g *gateLab) announced() bool {
	routes, err := g.bird.Routes(g.ctx)
	if err != nil {
		g.tb.Fatalf("birdc: %v", err)
	}
	for _, r := range routes {
		if r.Prefix.String() == "192.0.2.0/24" {
			return true
		}
	}
	return false
}

// wait polls until the prefix is (or is not) at BIRD and returns how long
// that took.
func (g *gateLab) wait(want bool, limit time.Duration) time.Duration {
	g.tb.Helper()
	start := time.Now()
	for g.announced() != want {
		if time.Since(start) > limit {
			g.tb.Fatalf("prefix announced=%v not reached after %v\n%s", want, limit, g.proc.Logs())
		}
		time.Sleep(10 * time.Millisecond)
	}
	return time.Since(start)
}

func (g *gateLab) nft(args ...string) {
	g.tb.Helper()
	if out, err := g.node.Command(g.ctx, "nft", args...).CombinedOutput(); err != nil {
		g.tb.Fatalf("nft %v: %v\n%s", args, err, out)
	}
}

// dropDNS makes nftables in the node's namespace drop DNS, or stop dropping it.
func (g *gateLab) dropDNS(drop bool) {
	if !drop {
		g.nft("delete", "table", "inet", "goleudy_fault")
		return
	}
	g.nft("add", "table", "inet", "goleudy_fault")
	g.nft("add", "chain", "inet", "goleudy_fault", "input", "{", "type", "filter", "hook", "input", "priority", "0", ";", "}")
	g.nft("add", "rule", "inet", "goleudy_fault", "input", "udp", "dport", "53", "drop")
}

// trials drops and restores DNS n times and returns the times to
// withdrawal and to re-announcement, sorted.
func (g *gateLab) trials(n int) (down, up []time.Duration) {
	for range n {
		g.dropDNS(true)
		down = append(down, g.wait(false, 5*time.Second))
		g.dropDNS(false)
		up = append(up, g.wait(true, 10*time.Second))
	}
	slices.Sort(down)
	slices.Sort(up)
	return down, up
}

// TestHealthGateWithBIRD: the anycast prefix is announced once the node
// answers DNS on its anycast address, and nftables dropping DNS in the
// node's namespace makes BIRD lose the prefix within 2 s, at the worst of
// 20 trials; removing the rule brings it back.
func TestHealthGateWithBIRD(t *testing.T) {
	g := newGateLab(t)
	t.Logf("first announcement after %v", g.wait(true, 60*time.Second))
	down, up := g.trials(20)
	if worst := down[len(down)-1]; worst > 2*time.Second {
		t.Errorf("worst withdrawal of %d trials took %v, over 2 s", len(down), worst)
	}
	t.Logf("DNS dropped → withdrawn at BIRD: median %v, max %v over %d trials", down[len(down)/2], down[len(down)-1], len(down))
	t.Logf("DNS back → re-announced at BIRD: median %v, max %v", up[len(up)/2], up[len(up)-1])
}

// BenchmarkBGPGate is what make bench prints for BGP: from process start
// to the session Established and the prefix at BIRD, and over 20 trials
// the time from a DNS failure to the withdrawal seen at BIRD and from
// recovery to the re-announcement. One iteration is one whole lab.
func BenchmarkBGPGate(b *testing.B) {
	for b.Loop() {
		g := newGateLab(b)
		g.proc.WaitLog(b, `"msg":"session established"`, 20*time.Second)
		established := time.Since(g.started)
		g.wait(true, 60*time.Second)
		announced := time.Since(g.started)
		down, up := g.trials(20)
		ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
		b.ReportMetric(ms(established), "ms-to-established")
		b.ReportMetric(ms(announced), "ms-to-announced")
		b.ReportMetric(ms(down[len(down)/2]), "ms-withdraw-median")
		b.ReportMetric(ms(down[len(down)-1]), "ms-withdraw-max")
		b.ReportMetric(ms(up[len(up)/2]), "ms-reannounce-median")
		b.ReportMetric(ms(up[len(up)-1]), "ms-reannounce-max")
	}
}
