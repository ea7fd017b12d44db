package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/goleudy/goleudy/provision/api"
	"github.com/goleudy/goleudy/tools/lab"
)

// The system lab: a whole site in namespaces, with the real binaries.
//
//	client ── ix (BIRD, router) ── enp1s0 ┐
//	                                      node (goleudy-node run --network=manage)
//	mgmt (goleudy serve, NSD) ── site (dnsmasq, router) ── enp2s0 ┘
//
// The node starts from an empty state dir with only its seed. It takes a
// DHCP lease on its OOB port, enrolls with the server over it, brings the
// WireGuard tunnel up, pulls and verifies its signed config, addresses its
// IX port, puts the anycast address on loopback, serves the customer's
// zone (NSD → hub → node) to the client through the IX router, and
// announces the anycast prefix to BIRD. Then the faults.
const (
	sysSiteOOB  = "172.16.0.1"
	sysStatic   = "172.16.0.50"
	sysMoved    = "172.16.0.77"
	sysSiteMgmt = "172.17.0.1"
	sysMgmt     = "172.17.0.2"
	sysIXRouter = "198.51.100.1"
	sysIXNode   = "198.51.100.2"
	sysClientGW = "203.0.113.1"
	sysClient   = "203.0.113.10"
	sysAnycast  = "192.0.2.53"
	sysAPI      = "127.0.0.1:8000"
	sysHubDNS   = "127.0.0.1:5300"
	sysZone     = "example.com."
	sysSerial   = 2026112101

	envSysNS  = "GOLEUDY_SYS_NS"  // site,ix,client,node namespace names
	envSysBin = "GOLEUDY_SYS_BIN" // goleudy and goleudy-node
)

func TestSystem(t *testing.T) {
	if _, ok := lab.InNetns(); ok && os.Getenv(envSysNS) != "" {
		systemChild(t)
		return
	}
	lab.Require(t, lab.ToolNSD, lab.ToolKdig, lab.ToolBIRD, lab.ToolBirdc, lab.ToolNft, lab.ToolDnsmasq, lab.ToolCurl)
	serve := lab.Build(t, "./tools/goleudy", "goleudy")
	node := binary(t)
	site, ix, mgmt, client, nodeNS := lab.NewNetns(t), lab.NewNetns(t), lab.NewNetns(t), lab.NewNetns(t), lab.NewNetns(t)
	lab.VethNamed(t, nodeNS, site, "enp2s0", "oob", nil, []string{sysSiteOOB + "/24", "fd00:16::1/64"})
	lab.VethNamed(t, nodeNS, ix, "enp1s0", "ix", nil, []string{sysIXRouter + "/30"})
	lab.VethNamed(t, site, mgmt, "mgmt", "uplink", []string{sysSiteMgmt + "/30"}, []string{sysMgmt + "/30"})
	lab.VethNamed(t, ix, client, "client", "uplink", []string{sysClientGW + "/24"}, []string{sysClient + "/24"})
	for _, step := range []struct {
		ns   *lab.Netns
		args []string
	}{
		{mgmt, []string{"route", "add", "default", "via", sysSiteMgmt}},
		{client, []string{"route", "add", "default", "via", sysClientGW}},
	} {
		if err := step.ns.IP(step.args...); err != nil {
			t.Fatal(err)
		}
	}
	for _, n := range []*lab.Netns{site, ix} {
		if out, err := n.Command(context.Background(), "sysctl", "-qw", "net.ipv4.ip_forward=1", "net.ipv6.conf.all.forwarding=1").CombinedOutput(); err != nil {
			t.Fatalf("sysctl in %s: %v %s", n.Name, err, out)
		}
	}
	lab.ExecTest(t, mgmt, "^TestSystem$", 8*time.Minute,
		envSysNS+"="+strings.Join([]string{site.Name, ix.Name, client.Name, nodeNS.Name}, ","),
		envSysBin+"="+serve+","+node)
}

// sysLab is the running lab, seen from the mgmt namespace.
type sysLab struct {
	t                        *testing.T
	site, ix, client, nodeNS *lab.Netns
	serveBin, nodeBin        string
	data, state, seed, keys  string
	nsd                      *lab.Server
	srv, node                *lab.Proc
	dhcp                     *lab.Dnsmasq
	bird                     *lab.BIRD
	api                      *api.Client
}

func systemChild(t *testing.T) {
	ctx := context.Background()
	names := strings.Split(os.Getenv(envSysNS), ",")
	bins := strings.Split(os.Getenv(envSysBin), ",")
	l := &sysLab{t: t, site: lab.OpenNetns(names[0]), ix: lab.OpenNetns(names[1]), client: lab.OpenNetns(names[2]),
		nodeNS: lab.OpenNetns(names[3]), serveBin: bins[0], nodeBin: bins[1],
		data: t.TempDir(), state: t.TempDir(), keys: t.TempDir()}
	l.nsd = lab.StartNSD(t, lab.Options{
		Zones:  []lab.Zone{{Name: sysZone, Text: sysZoneText(sysSerial)}},
		XFR:    true,
		Notify: []string{sysHubDNS},
	})
	l.bird = lab.StartBIRD(t, l.ix, lab.BIRDConfig{
		RouterID: netip.MustParseAddr(sysIXRouter), Kernel: true,
		Peers: []lab.BIRDPeer{{Name: "alban", Local: netip.MustParseAddr(sysIXRouter), LocalASN: 64500,
			Neighbor: netip.MustParseAddr(sysIXNode), PeerASN: 64512}},
	})
	l.startDHCP(nil)
	l.startServe()
	l.addNode()

	// From an empty state dir and a seed to ready.
	start := time.Now()
	l.startNode()
	l.node.WaitLog(t, `"msg":"node ready"`, 60*time.Second)
	t.Logf("FIGURE process start → ready, empty state, enrollment included: %v", time.Since(start).Round(time.Millisecond))
	logs := l.node.Logs()
	for _, step := range []string{`"proto":"dhcp4"`, `"msg":"enrolled"`, `"msg":"tunnel up"`, `"msg":"config accepted"`, `"msg":"node running"`, `"msg":"node ready"`} {
		t.Logf("FIGURE   %-22s %v after the node's first log line", step, logGap(logs, step))
	}
	for _, want := range []string{`"proto":"dhcp4"`, `"msg":"enrolled"`, `"msg":"tunnel up"`, `"msg":"config accepted"`} {
		if !strings.Contains(l.node.Logs(), want) {
			t.Errorf("node log lacks %s", want)
		}
	}
	l.servedToClient(sysSerial)
	l.bgpUp()
	l.info("Cardiff")
	l.overTunnel()
	l.routing()

	// A change at the server is applied on the node.
	var took []time.Duration
	for _, city := range []string{"Swansea", "Bangor", "Cardiff"} {
		n := l.node.Count(`"msg":"config applied"`)
		changed := time.Now()
		l.setCity(ctx, city)
		l.node.WaitLogN(t, `"msg":"config applied"`, n+1, 10*time.Second)
		took = append(took, time.Since(changed))
		l.info(city)
	}
	t.Logf("FIGURE config change at the server → applied on the node: %v", took)
	for _, d := range took {
		if d > time.Second {
			t.Errorf("a config change took %v to apply; want under 1s", d)
		}
	}

	l.tamperedConfig(ctx)
	l.oobFlap(ctx)
	l.noDHCP(ctx)
	l.managementDown(ctx)

	l.node.Stop(t)
	l.srv.Stop(t)
}

func sysZoneText(serial uint32) string {
	return fmt.Sprintf(`$ORIGIN %s
$TTL 300
@ IN SOA ns1 hostmaster %d 3600 600 1209600 300
@ IN NS ns1
ns1 IN A 192.0.2.10
www IN A 192.0.2.80
`, sysZone, serial)
}

func (l *sysLab) startDHCP(hosts map[string]netip.Addr) {
	if l.dhcp != nil {
		l.dhcp.Stop()
	}
	a := netip.MustParseAddr
	l.dhcp = lab.StartDnsmasq(l.t, l.site, lab.DnsmasqConfig{
		Interface: "oob",
		Range4:    lab.DnsmasqRange{Start: a("172.16.0.100"), End: a("172.16.0.150")},
		Range6:    lab.DnsmasqRange{Start: a("fd00:16::100"), End: a("fd00:16::1ff")},
		RA:        true,
		Router:    a(sysSiteOOB),
		Hosts:     hosts,
	})
}

func (l *sysLab) startServe(extra ...string) {
	args := append([]string{"serve", "--data", l.data, "--api-listen", sysAPI,
		"--enroll-listen", sysMgmt + ":8080", "--tunnel-prefix", "10.53.0.0/24",
		"--hub-listen", sysHubDNS, "--log-level", "debug"}, extra...)
	l.srv = lab.StartProc(l.t, "serve", exec.Command(l.serveBin, args...))
	l.srv.WaitLog(l.t, `"msg":"server running"`, 20*time.Second)
	tok, err := os.ReadFile(filepath.Join(l.data, "operator.token"))
	if err != nil {
		l.t.Fatal(err)
	}
	l.api = &api.Client{Base: "http://" + sysAPI, Token: strings.TrimSpace(string(tok)), Actor: "system-test"}
}

func (l *sysLab) nodeDoc(city string) json.RawMessage {
	return json.RawMessage(fmt.Sprintf(`{"node": {"id": "alban", "board": "vps", "fqdn": "alban.nodes.example.net",
		"location": {"display": "Wales, %[1]s", "city": "%[1]s", "country": "Wales", "countryiso": "gb"}},
	  "interfaces": {"oob": {"match": "enp2s0", "dhcp4": true, "dhcp6": true},
	                 "ix": {"match": "enp1s0", "addresses": ["%[2]s/30"], "gateway4": "%[3]s"}},
	  "anycast": {"asn": 64512, "prefixes": ["192.0.2.0/24"], "addresses": ["%[4]s"]},
	  "bgp": {"peers": [{"name": "ix", "asn": 64500, "neighbor": "%[3]s", "hold_time": 9}]},
	  "dns": {"listen": ["%[4]s:53"]},
	  "info": {"listen": ["%[4]s:80"]}}`, city, sysIXNode, sysIXRouter, sysAnycast))
}

func (l *sysLab) addNode() {
	ctx := context.Background()
	if err := l.api.AddZone(ctx, api.Zone{Name: sysZone, Primaries: []string{l.nsd.Addr}}); err != nil {
		l.t.Fatal(err)
	}
	nn, err := l.api.AddNode(ctx, api.NodeInfo{Config: l.nodeDoc("Cardiff"), InService: "2026-11-21"})
	if err != nil {
		l.t.Fatal(err)
	}
	// The operator adds the host's static OOB settings, used only when
	// DHCP does not answer.
	seed := nn.Seed
	seed.OOB = &api.StaticOOB{Address4: sysStatic + "/24", Gateway4: sysSiteOOB}
	b, _ := json.Marshal(seed)
	l.seed = filepath.Join(l.t.TempDir(), "seed.json")
	if err := os.WriteFile(l.seed, b, 0o600); err != nil {
		l.t.Fatal(err)
	}
}

// startNode starts goleudy-node; the board's port roles are given as
// flags, as board data gives them in an image.
func (l *sysLab) startNode() {
	l.node = lab.StartProc(l.t, "node", l.nodeNS.Command(context.Background(), l.nodeBin, "run",
		"--seed", l.seed, "--state", l.state, "--network=manage", "--oob", "enp2s0", "--ix", "enp1s0",
		"--dhcp-timeout", "8s", "--log-level", "debug"))
}

// restartNode kills the node, as a power cut would, and starts it again
// on the same state.
func (l *sysLab) restartNode() time.Time {
	l.node.Kill()
	start := time.Now()
	l.startNode()
	return start
}

func (l *sysLab) setCity(ctx context.Context, city string) {
	if _, err := l.api.UpdateNode(ctx, api.NodeInfo{Config: l.nodeDoc(city), InService: "2026-11-21"}, "alban"); err != nil {
		l.t.Fatal(err)
	}
}

// servedToClient asks the anycast address from the client namespace,
// through the IX router, until the zone's SOA has serial.
func (l *sysLab) servedToClient(serial uint32) {
	l.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	var out []byte
	var err error
	for time.Now().Before(deadline) {
		out, err = l.client.Command(context.Background(), "kdig", "@"+sysAnycast, "+time=1", "+retry=0", sysZone, "SOA", "+short").CombinedOutput()
		if err == nil && strings.Contains(string(out), fmt.Sprint(serial)) {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	l.t.Fatalf("client: %s SOA %d not served on %s: %v %s", sysZone, serial, sysAnycast, err, out)
}

// bgpUp waits for BIRD to have the session up and the anycast prefix.
func (l *sysLab) bgpUp() { l.t.Helper(); l.bgpRoute(true) }

// bgpRoute waits until BIRD has (or has not) the node's anycast prefix.
func (l *sysLab) bgpRoute(want bool) {
	l.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	var last string
	for time.Now().Before(deadline) {
		out, _ := l.ix.Command(context.Background(), "birdc", "-s", l.bird.Socket, "show", "route", "for", "192.0.2.53").CombinedOutput()
		last = string(out)
		if has := strings.Contains(last, "192.0.2.0/24") && strings.Contains(last, "alban"); has == want {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	l.t.Fatalf("BIRD: route to the anycast prefix from the node: want %v:\n%s", want, last)
}

// info fetches the node's info page from the client, over the IX.
func (l *sysLab) info(city string) {
	l.t.Helper()
	out, err := l.client.Command(context.Background(), "curl", "-sS", "--max-time", "3", "http://"+sysAnycast+"/").CombinedOutput()
	if err != nil {
		l.t.Fatalf("info page: %v %s", err, out)
	}
	var doc map[string]any
	if err := json.Unmarshal(out, &doc); err != nil {
		l.t.Fatalf("info page is not JSON: %v\n%s", err, out)
	}
	if doc["city"] != city || doc["countryiso"] != "gb" {
		l.t.Fatalf("info page: want city %s:\n%s", city, out)
	}
}

// overTunnel reads the node's admin status and metrics from the mgmt side,
// over the tunnel, and checks the IX side does not offer them.
func (l *sysLab) overTunnel() {
	l.t.Helper()
	st := l.status()
	if st.TunnelAddress == "" {
		l.t.Fatal("no tunnel address in the server's status")
	}
	tun := strings.Split(st.TunnelAddress, "/")[0]
	get := func(path string) string {
		resp, err := http.Get("http://" + tun + path)
		if err != nil {
			l.t.Fatalf("%s over the tunnel: %v", path, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			l.t.Fatalf("%s over the tunnel: %s %s", path, resp.Status, b)
		}
		return string(b)
	}
	if body := get(":9053/v1/status"); !strings.Contains(body, `"ready":true`) {
		l.t.Fatalf("admin status: %s", body)
	}
	met := get(":9100/metrics")
	for _, want := range []string{"goleudy_config_serial ", `goleudy_zone_serial{zone="example.com."} 2026112101`,
		`goleudy_bgp_session_up{neighbor="198.51.100.1",peer="ix"} 1`, "goleudy_ready 1", "goleudy_dns_queries_total "} {
		if !strings.Contains(met, want) {
			l.t.Errorf("metrics lack %s:\n%s", want, met)
		}
	}
	if !strings.Contains(get(":9053/v1/log?limit=1000"), `node ready`) {
		l.t.Errorf("admin log has no ready line")
	}

	// Drain from the admin API: the route carries GRACEFUL_SHUTDOWN at
	// BIRD (the withdraw follows after the drain period, tested in
	// services/bgp); undrain takes it off. The choice survives in the
	// state dir until undone.
	post := func(path string) {
		resp, err := http.Post("http://"+tun+":9053"+path, "application/json", nil)
		if err != nil {
			l.t.Fatalf("%s: %v", path, err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			l.t.Fatalf("%s: %s", path, resp.Status)
		}
	}
	post("/v1/drain")
	l.bgpGracefulShutdown(true)
	if _, err := os.Stat(filepath.Join(l.state, "drained")); err != nil {
		l.t.Errorf("drain not kept in the state dir: %v", err)
	}
	post("/v1/undrain")
	l.bgpGracefulShutdown(false)
	out, err := l.client.Command(context.Background(), "curl", "-sS", "--max-time", "2", "http://"+sysAnycast+":9053/v1/status").CombinedOutput()
	if err == nil {
		l.t.Fatalf("admin answers on the IX side: %s", out)
	}
}

// status is the node as the server sees it.
func (l *sysLab) status() api.NodeStatus {
	l.t.Helper()
	st, err := l.api.Status(context.Background())
	if err != nil {
		l.t.Fatal(err)
	}
	for _, n := range st.Nodes {
		if n.ID == "alban" {
			return n
		}
	}
	l.t.Fatalf("alban not in status")
	return api.NodeStatus{}
}

// heartbeatAfter waits for a heartbeat sent after since, so over a
// working tunnel, and returns it.
func (l *sysLab) heartbeatAfter(since time.Time, within time.Duration) *api.Heartbeat {
	l.t.Helper()
	return l.heartbeatWith(within, func(hb *api.Heartbeat) bool { return hb.Time.After(since) })
}

// heartbeatWith waits for the server to hold a heartbeat for which ok.
func (l *sysLab) heartbeatWith(within time.Duration, ok func(*api.Heartbeat) bool) *api.Heartbeat {
	l.t.Helper()
	deadline := time.Now().Add(within)
	var hb *api.Heartbeat
	for time.Now().Before(deadline) {
		if hb = l.status().Heartbeat; hb != nil && ok(hb) {
			return hb
		}
		time.Sleep(50 * time.Millisecond)
	}
	b, _ := json.Marshal(hb)
	l.t.Fatalf("no such heartbeat from the node within %v; last: %s", within, b)
	return nil
}

// hasOOB reports whether the heartbeat names addr on the OOB port.
func hasOOB(hb *api.Heartbeat, addr string) bool {
	for _, a := range hb.OOB {
		if strings.HasPrefix(a.Address, addr+"/") {
			return true
		}
	}
	return false
}

// tamperedConfig: the server signs with a key the node does not trust;
// the node refuses the config, says so in its heartbeat, and keeps the
// old one.
func (l *sysLab) tamperedConfig(ctx context.Context) {
	l.t.Helper()
	evil := filepath.Join(l.keys, "evil")
	if out, err := exec.Command(l.serveBin, "keys", "new", "--out", evil).CombinedOutput(); err != nil {
		l.t.Fatalf("keys new: %v %s", err, out)
	}
	before := l.status().Heartbeat.ConfigSerial
	l.srv.Stop(l.t)
	l.startServe("--config-key", evil+".key")
	l.setCity(ctx, "Aberystwyth")
	l.node.WaitLog(l.t, `config from the server refused`, 70*time.Second)
	hb := l.heartbeatAfter(time.Now(), 15*time.Second)
	if hb.ConfigError == "" || hb.ConfigSerial != before {
		l.t.Fatalf("after a wrongly signed config: serial %d (want %d), config_error %q", hb.ConfigSerial, before, hb.ConfigError)
	}
	l.info("Cardiff")
	l.servedToClient(sysSerial)
	l.t.Logf("wrongly signed config refused: %s", hb.ConfigError)

	l.srv.Stop(l.t)
	l.startServe()
	n := l.node.Count(`"msg":"config applied"`)
	l.setCity(ctx, "Cardiff")
	l.node.WaitLogN(l.t, `"msg":"config applied"`, n+1, 70*time.Second)
}

// oobFlap: the host's DHCP server now hands the node another address and
// the OOB link goes down and up; the node takes the new lease and its
// tunnel follows.
func (l *sysLab) oobFlap(ctx context.Context) {
	l.t.Helper()
	out, err := l.nodeNS.Command(ctx, "cat", "/sys/class/net/enp2s0/address").Output()
	if err != nil {
		l.t.Fatal(err)
	}
	l.startDHCP(map[string]netip.Addr{strings.TrimSpace(string(out)): netip.MustParseAddr(sysMoved)})
	flap := time.Now()
	for _, state := range []string{"down", "up"} {
		if err := l.site.IP("link", "set", "oob", state); err != nil {
			l.t.Fatal(err)
		}
		time.Sleep(500 * time.Millisecond)
	}
	l.waitOOB(sysMoved, 30*time.Second)
	hb := l.heartbeatWith(30*time.Second, func(hb *api.Heartbeat) bool { return hasOOB(hb, sysMoved) })
	t := time.Since(flap)
	l.t.Logf("FIGURE OOB flap → new lease and heartbeat over the tunnel: %v", t.Round(time.Millisecond))
	if hb.ConfigError != "" {
		l.t.Errorf("config error after flap: %s", hb.ConfigError)
	}
	l.servedToClient(sysSerial)
}

// noDHCP: the host's DHCP server is gone; the node restarts and uses the
// seed's static OOB address, and reaches the server with it.
func (l *sysLab) noDHCP(ctx context.Context) {
	l.t.Helper()
	l.dhcp.Stop()
	l.dhcp = nil
	start := l.restartNode()
	l.node.WaitLog(l.t, `"msg":"node ready"`, 60*time.Second)
	l.waitOOB(sysStatic, 30*time.Second)
	l.heartbeatWith(30*time.Second, func(hb *api.Heartbeat) bool { return hb.Time.After(start) && hasOOB(hb, sysStatic) })
	l.servedToClient(sysSerial)
	l.bgpUp()
	l.t.Logf("FIGURE no DHCP: restart → static OOB, heartbeat at the server: %v", time.Since(start).Round(time.Millisecond))
}

// managementDown: the site drops everything to the management network;
// the node restarts and serves from its state, and comes back to the
// server when the path returns.
func (l *sysLab) managementDown(ctx context.Context) {
	l.t.Helper()
	l.startDHCP(nil)
	nft := func(script string) {
		cmd := l.site.Command(ctx, "nft", "-f", "-")
		cmd.Stdin = strings.NewReader(script)
		if out, err := cmd.CombinedOutput(); err != nil {
			l.t.Fatalf("nft: %v %s", err, out)
		}
	}
	nft("table inet fault {\n chain drop_mgmt {\n  type filter hook forward priority 0; ip daddr " + sysMgmt + " drop\n }\n}\n")
	cut := true
	defer func() {
		if cut {
			nft(`delete table inet fault`)
		}
	}()
	start := l.restartNode()
	l.node.WaitLog(l.t, `"msg":"node ready"`, 60*time.Second)
	ready := time.Since(start)
	l.servedToClient(sysSerial)
	l.bgpUp()
	l.t.Logf("FIGURE process start → ready from state, management unreachable: %v", ready.Round(time.Millisecond))

	nft(`delete table inet fault`)
	cut = false
	back := time.Now()
	l.heartbeatAfter(back, 90*time.Second)
	l.t.Logf("management path back → heartbeat at the server: %v", time.Since(back).Round(time.Millisecond))
}

// bgpGracefulShutdown waits until the node's route at BIRD has (or has
// not) the GRACEFUL_SHUTDOWN community, 65535:0.
func (l *sysLab) bgpGracefulShutdown(want bool) {
	l.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	var last string
	for time.Now().Before(deadline) {
		out, _ := l.ix.Command(context.Background(), "birdc", "-s", l.bird.Socket, "show", "route", "for", "192.0.2.53", "all").CombinedOutput()
		last = string(out)
		if strings.Contains(last, "alban") && strings.Contains(last, "(65535,0)") == want {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	l.t.Fatalf("BIRD: GRACEFUL_SHUTDOWN on the node's route: want %v:\n%s", want, last)
}

// routing checks the node's policy routing: answers from the anycast
// address leave by the IX, management traffic by OOB.
func (l *sysLab) routing() {
	l.t.Helper()
	for _, c := range []struct {
		args []string
		dev  string
	}{
		{[]string{"route", "get", sysClient, "from", sysAnycast}, "enp1s0"},
		{[]string{"route", "get", sysMgmt}, "enp2s0"},
		{[]string{"route", "get", sysClient}, "enp2s0"}, // not from an IX address: never the IX
	} {
		out, err := l.nodeNS.Command(context.Background(), "ip", c.args...).CombinedOutput()
		if err != nil || !strings.Contains(string(out), "dev "+c.dev) {
			l.t.Errorf("ip %s: want dev %s: %v %s", strings.Join(c.args, " "), c.dev, err, out)
		}
	}
}

// logGap is the time between the first log line and the first containing
// substr, from the lines' own timestamps.
func logGap(logs, substr string) time.Duration {
	var first time.Time
	for _, line := range strings.Split(logs, "\n") {
		var rec struct{ Time time.Time }
		if json.Unmarshal([]byte(line), &rec) != nil {
			continue
		}
		if first.IsZero() {
			first = rec.Time
		}
		if strings.Contains(line, substr) {
			return rec.Time.Sub(first).Round(time.Millisecond)
		}
	}
	return -1
}

var addrRE = regexp.MustCompile(`inet (\d+\.\d+\.\d+\.\d+)/`)

// waitOOB waits for the node's OOB port to hold addr.
func (l *sysLab) waitOOB(addr string, within time.Duration) {
	l.t.Helper()
	deadline := time.Now().Add(within)
	var last string
	for time.Now().Before(deadline) {
		out, _ := l.nodeNS.Command(context.Background(), "ip", "-4", "addr", "show", "dev", "enp2s0").CombinedOutput()
		last = string(out)
		for _, m := range addrRE.FindAllStringSubmatch(last, -1) {
			if m[1] == addr {
				return
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	l.t.Fatalf("OOB port never had %s:\n%s", addr, last)
}
