package server

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/goleudy/goleudy/provision/api"
	"github.com/goleudy/goleudy/tools/lab"
)

// The end-to-end lab: a mgmt namespace runs `goleudy serve` with NSD as
// the customer primary on its loopback; a node namespace runs
// `goleudy-node run --seed ... --network=manage`. They share one OOB
// link. The node enrolls over it, brings WireGuard up, pulls and verifies
// its config, and serves the customer's zones through the hub.
const (
	e2eMgmtOOB = "192.0.2.1"
	e2eNodeOOB = "192.0.2.2"
	e2eAnycast = "198.51.100.53"
	e2eHubDNS  = "127.0.0.1:5300" // the hub's extra listener, for NSD's NOTIFY
	e2eAPI     = "127.0.0.1:8000"
	envNodeNS  = "GOLEUDY_E2E_NODE_NS"
	envArtDir  = "GOLEUDY_E2E_ARTIFACTS"
	envBinDir  = "GOLEUDY_E2E_BIN"
)

func zoneText(origin string, serial uint32) string {
	return fmt.Sprintf(`$ORIGIN %s
$TTL 300
@ IN SOA ns1 hostmaster %d 3600 600 1209600 300
@ IN NS ns1
ns1 IN A 192.0.2.10
www IN A 192.0.2.80
`, origin, serial)
}

func TestEndToEnd(t *testing.T) {
	if ns, ok := lab.InNetns(); ok {
		if os.Getenv(envNodeNS) == "" {
			t.Fatalf("child in %s without %s", ns.Name, envNodeNS)
		}
		e2eChild(t)
		return
	}
	lab.Require(t, lab.ToolNSD, lab.ToolKdig, lab.ToolChromium)
	serve := lab.Build(t, "./tools/goleudy", "goleudy")
	node := lab.Build(t, "./init", "goleudy-node")
	mgmtNS, nodeNS := lab.NewNetns(t), lab.NewNetns(t)
	// The node addresses its own OOB port, from its seed's static
	// settings: this lab has no DHCP server (init/system_test.go has).
	lab.Veth(t, mgmtNS, nodeNS, []string{e2eMgmtOOB + "/24"}, nil)
	if err := nodeNS.IP("addr", "add", e2eAnycast+"/32", "dev", "lo"); err != nil {
		t.Fatal(err)
	}
	if err := mgmtNS.IP("route", "add", e2eAnycast+"/32", "via", e2eNodeOOB); err != nil {
		t.Fatal(err)
	}
	// make test sets GOLEUDY_ARTIFACTS so the screenshot outlives the run.
	art := os.Getenv("GOLEUDY_ARTIFACTS")
	if art == "" {
		art = t.ArtifactDir()
	} else if err := os.MkdirAll(art, 0o755); err != nil {
		t.Fatal(err)
	}
	lab.ExecTest(t, mgmtNS, "^TestEndToEnd$", 4*time.Minute,
		envNodeNS+"="+nodeNS.Name, envArtDir+"="+art, envBinDir+"="+filepath.Dir(serve)+":"+filepath.Dir(node))
	t.Logf("artifacts in %s", art)
}

// e2eChild runs inside the mgmt namespace.
func e2eChild(t *testing.T) {
	ctx := context.Background()
	nodeNS := lab.OpenNetns(os.Getenv(envNodeNS))
	dirs := strings.Split(os.Getenv(envBinDir), ":")
	serveBin, nodeBin := filepath.Join(dirs[0], "goleudy"), filepath.Join(dirs[1], "goleudy-node")

	nsd := lab.StartNSD(t, lab.Options{
		Zones: []lab.Zone{
			{Name: "example.com.", Text: zoneText("example.com.", 2026112101)},
			{Name: "example.net.", Text: zoneText("example.net.", 2026112102)},
		},
		XFR:    true,
		Notify: []string{e2eHubDNS},
	})

	data := t.TempDir()
	srv := lab.StartProc(t, "serve", exec.Command(serveBin, "serve", "--data", data,
		"--api-listen", e2eAPI, "--enroll-listen", e2eMgmtOOB+":8080",
		"--tunnel-prefix", "10.53.0.0/24", "--hub-listen", e2eHubDNS, "--log-level", "debug"))
	srv.WaitLog(t, `"msg":"server running"`, 20*time.Second)
	tok, err := os.ReadFile(filepath.Join(data, OperatorToken))
	if err != nil {
		t.Fatal(err)
	}
	client := &api.Client{Base: "http://" + e2eAPI, Token: strings.TrimSpace(string(tok)), Actor: "e2e"}

	// Bad input first: nothing may be stored by any of it.
	anon := *client
	anon.Token = ""
	if _, err := anon.Nodes(ctx); !isStatus(err, http.StatusUnauthorized) {
		t.Fatalf("unauthenticated call: %v", err)
	}

	if err := client.AddZone(ctx, api.Zone{Name: "example.com.", Primaries: []string{nsd.Addr}}); err != nil {
		t.Fatal(err)
	}
	if err := client.AddZone(ctx, api.Zone{Name: "example.com.", Primaries: []string{nsd.Addr}}); !isStatus(err, http.StatusConflict) {
		t.Fatalf("duplicate zone: %v", err)
	}
	doc := fmt.Sprintf(`{"node": {"id": "alban", "board": "rpi", "fqdn": "alban.nodes.example.net",
		"location": {"display": "Scotland, Edinburgh", "countryiso": "gb"}},
		"dns": {"listen": ["%s:53"]}}`, e2eAnycast)
	nn, err := client.AddNode(ctx, api.NodeInfo{Config: json.RawMessage(doc), InService: "2026-11-21", Notes: "e2e"})
	if err != nil {
		t.Fatal(err)
	}
	nn.Seed.OOB = &api.StaticOOB{Address4: e2eNodeOOB + "/24"}
	seed, _ := json.Marshal(nn.Seed)
	seedFile := filepath.Join(t.TempDir(), "seed.json")
	if err := os.WriteFile(seedFile, seed, 0o600); err != nil {
		t.Fatal(err)
	}

	start := time.Now()
	state := t.TempDir()
	n := lab.StartProc(t, "node", nodeNS.Command(context.Background(), nodeBin, "run", "--seed", seedFile, "--state", state, "--network=manage", "--oob", "veth-b", "--dhcp-timeout", "100ms", "--log-level", "debug"))
	n.WaitLog(t, `"msg":"enrolled"`, 20*time.Second)
	n.WaitLog(t, `"msg":"tunnel up"`, 10*time.Second)
	n.WaitLog(t, `"msg":"config accepted"`, 20*time.Second)
	n.WaitLog(t, `"msg":"node running"`, 20*time.Second)
	t.Logf("node running %v after start", time.Since(start).Round(time.Millisecond))

	// The customer's zone, from NSD through the hub, on the anycast address.
	waitSOA(t, "example.com.", 2026112101, 20*time.Second)
	t.Logf("example.com served %v after node start", time.Since(start).Round(time.Millisecond))
	out, err := nodeNS.Command(ctx, "kdig", "@"+e2eAnycast, "www.example.com", "A", "+short").CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "192.0.2.80" {
		t.Fatalf("kdig in the node namespace: %v %s", err, out)
	}

	// A replay of the used token, from anyone else, is refused.
	other := &api.Client{Base: "http://" + e2eMgmtOOB + ":8080"}
	if err := other.Do(ctx, http.MethodPost, "/v1/enroll", api.EnrollRequest{NodeID: "alban", Token: nn.Token}, nil); !isStatus(err, http.StatusBadRequest) {
		t.Fatalf("replayed token: %v", err)
	}
	// Node endpoints answer only callers holding a node's tunnel address.
	resp, err := http.Get("http://10.53.0.1:8053/v1/config")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("config from the server's own address: %d", resp.StatusCode)
	}

	// A zone added through the API is served within a second.
	var took []time.Duration
	added := time.Now()
	if err := client.AddZone(ctx, api.Zone{Name: "example.net.", Primaries: []string{nsd.Addr}}); err != nil {
		t.Fatal(err)
	}
	waitSOA(t, "example.net.", 2026112102, 10*time.Second)
	took = append(took, time.Since(added))
	t.Logf("zone added by API → served on the node: %v", took[0].Round(time.Millisecond))
	if took[0] > time.Second {
		t.Errorf("zone add took %v to be served; want under 1s", took[0])
	}

	// The NOC sees the node live.
	deadline := time.Now().Add(30 * time.Second)
	var st api.Status
	for {
		if st, err = client.Status(ctx); err != nil {
			t.Fatal(err)
		}
		if len(st.Nodes) == 1 && st.Nodes[0].State == "live" && st.Nodes[0].ZonesMissing == 0 {
			break
		}
		if time.Now().After(deadline) {
			b, _ := json.MarshalIndent(st, "", "  ")
			t.Fatalf("node not live on the NOC:\n%s\nnode log:\n%s", b, n.Logs())
		}
		time.Sleep(200 * time.Millisecond)
	}
	chromiumCheck(t, "http://"+e2eAPI+"/", os.Getenv(envArtDir))

	n.Stop(t)
	srv.Stop(t)
}

// waitSOA polls the node's anycast address until zone answers with serial.
func waitSOA(t *testing.T, zone string, serial uint32, within time.Duration) {
	t.Helper()
	c := &dns.Client{Timeout: 100 * time.Millisecond}
	q := new(dns.Msg)
	q.SetQuestion(zone, dns.TypeSOA)
	deadline := time.Now().Add(within)
	var last string
	for time.Now().Before(deadline) {
		r, _, err := c.Exchange(q, e2eAnycast+":53")
		if err == nil && r.Rcode == dns.RcodeSuccess && len(r.Answer) == 1 {
			if soa, ok := r.Answer[0].(*dns.SOA); ok && soa.Serial == serial {
				return
			}
		}
		if err != nil {
			last = err.Error()
		} else {
			last = dns.RcodeToString[r.Rcode]
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("%s SOA %d not served within %v (last: %s)", zone, serial, within, last)
}

// chromiumCheck loads the NOC page in headless Chromium, checks the node's
// row and keeps a phone-sized screenshot.
func chromiumCheck(t *testing.T, url, artifacts string) {
	t.Helper()
	profile := t.TempDir()
	run := func(args ...string) []byte {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		base := []string{"--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run", "--no-default-browser-check",
			"--disable-extensions", "--disable-background-networking", "--disable-component-update", "--disable-sync",
			"--hide-scrollbars", "--force-device-scale-factor=1", "--user-data-dir=" + profile}
		cmd := exec.CommandContext(ctx, "chromium", append(base, args...)...)
		cmd.Env = append(os.Environ(), "HOME="+profile)
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
		cmd.WaitDelay = 5 * time.Second
		var stderr strings.Builder
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("chromium %v: %v\n%s", args, err, lab.Tail(stderr.String(), 2000))
		}
		return out
	}
	dom := string(run("--dump-dom", url))
	for _, want := range []string{`id="node-alban"`, `data-state="live"`, "Scotland, Edinburgh"} {
		if !strings.Contains(dom, want) {
			t.Fatalf("NOC page in Chromium lacks %s:\n%s", want, lab.Tail(dom, 4000))
		}
	}
	if artifacts == "" {
		artifacts = t.TempDir()
	}
	shot := filepath.Join(artifacts, "noc-e2e-phone.png")
	run("--screenshot="+shot, "--window-size=390,844", url)
	if fi, err := os.Stat(shot); err != nil || fi.Size() == 0 {
		t.Fatalf("no screenshot: %v", err)
	}
	t.Logf("NOC screenshot: %s", shot)
}
