package server

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/goleudy/goleudy/provision/api"
	"github.com/goleudy/goleudy/provision/config"
	"github.com/goleudy/goleudy/provision/envelope"
	"github.com/goleudy/goleudy/provision/fleet"
)

// apiLab is a server without a tunnel, its operator API and enrollment
// served by httptest on loopback. Its tunnel prefix is 127.0.0.0/24, so
// a test can call the node endpoints "from a node's tunnel address" by
// binding 127.0.0.2.
type apiLab struct {
	s      *Server
	op     *httptest.Server
	enroll *httptest.Server
	node   *httptest.Server
	client *api.Client
}

func newLab(t testing.TB, opts ...func(*Options)) *apiLab {
	t.Helper()
	o := Options{
		DataDir:      t.TempDir(),
		NoTunnel:     true,
		EnrollURL:    "http://192.0.2.1:8080/v1/enroll",
		TunnelPrefix: netip.MustParsePrefix("127.0.0.0/24"),
	}
	for _, f := range opts {
		f(&o)
	}
	s, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); s.reconcileLoop(ctx) }()
	l := &apiLab{s: s, op: httptest.NewServer(s.OperatorHandler()), enroll: httptest.NewServer(s.EnrollHandler()), node: httptest.NewServer(s.NodeHandler())}
	t.Cleanup(func() {
		l.op.Close()
		l.enroll.Close()
		l.node.Close()
		cancel()
		<-done
		s.Close()
	})
	l.client = &api.Client{Base: l.op.URL, Token: s.Token()}
	return l
}

func (l *apiLab) serial(t *testing.T) uint64 {
	t.Helper()
	n, err := l.s.store.Serial()
	if err != nil {
		t.Fatal(err)
	}
	return n
}

const nodeDoc = `{"node": {"id": "alban", "board": "rpi", "location": {"display": "Scotland, Edinburgh"}},
  "dns": {"listen": ["192.0.2.53:53"]}}`

func addNode(t *testing.T, l *apiLab, doc string) api.NewNode {
	t.Helper()
	nn, err := l.client.AddNode(context.Background(), api.NodeInfo{Config: json.RawMessage(doc), InService: "2026-11-01"})
	if err != nil {
		t.Fatal(err)
	}
	return nn
}

func TestUnauthenticatedCallsAreRefused(t *testing.T) {
	l := newLab(t)
	before := l.serial(t)
	for _, tok := range []string{"", "wrong-token-wrong-token", l.s.Token() + "x"} {
		c := *l.client
		c.Token = tok
		_, err := c.AddNode(context.Background(), api.NodeInfo{Config: json.RawMessage(nodeDoc)})
		var ce *api.CallError
		if !errors.As(err, &ce) || ce.Status != http.StatusUnauthorized {
			t.Fatalf("token %q: %v", tok, err)
		}
		if _, err := c.Nodes(context.Background()); err == nil {
			t.Fatalf("token %q: listing nodes worked", tok)
		}
	}
	if l.serial(t) != before {
		t.Fatal("a refused call changed the store")
	}
	// The NOC page is public; it shows no secrets.
	resp, err := http.Get(l.op.URL + "/")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("NOC page: %v %v", resp, err)
	}
	resp.Body.Close()
}

func TestBadInputIsRefusedWhole(t *testing.T) {
	l := newLab(t)
	ctx := context.Background()
	before := l.serial(t)
	cases := []struct {
		name   string
		doc    string
		status int
		paths  []string
	}{
		{"unknown and mis-typed fields", `{"node": {"id": "alban", "bord": "rpi"}, "bgp": {"peers": [{"name": "x", "asn": "64500", "neighbor": "198.51.100.1"}]}}`,
			400, []string{"node.bord", "bgp.peers[0].asn"}},
		{"invalid values", `{"node": {"id": "alban", "state": "sleeping"}, "bgp": {"peers": [{"name": "x", "asn": 0, "neighbor": "nowhere"}]}}`,
			400, []string{"node.state", "bgp.peers[0].asn", "bgp.peers[0].neighbor"}},
		{"no document", ``, 400, []string{"config"}},
	}
	for _, c := range cases {
		in := api.NodeInfo{InService: "2026-11-01"}
		if c.doc != "" {
			in.Config = json.RawMessage(c.doc)
		}
		_, err := l.client.AddNode(ctx, in)
		var ce *api.CallError
		if !errors.As(err, &ce) || ce.Status != c.status {
			t.Fatalf("%s: %v", c.name, err)
		}
		var got []string
		for _, f := range ce.Body.Fields {
			got = append(got, f.Path)
		}
		for _, p := range c.paths {
			if !strings.Contains(strings.Join(got, " "), p) {
				t.Errorf("%s: no error for %s in %v (%s)", c.name, p, got, ce)
			}
		}
	}
	// A bad in-service date, and a body that is not the API's shape.
	_, err := l.client.AddNode(ctx, api.NodeInfo{Config: json.RawMessage(nodeDoc), InService: "21/11/2026"})
	if err == nil || !strings.Contains(err.Error(), "in_service") {
		t.Fatalf("bad date: %v", err)
	}
	err = l.client.Do(ctx, http.MethodPost, "/v1/nodes", map[string]any{"config": json.RawMessage(nodeDoc), "colour": "red"}, nil)
	if err == nil || !strings.Contains(err.Error(), "colour") {
		t.Fatalf("unknown API field: %v", err)
	}
	if l.serial(t) != before {
		t.Fatal("refused node documents changed the store")
	}
	if nodes, _ := l.client.Nodes(ctx); len(nodes) != 0 {
		t.Fatalf("nodes stored: %v", nodes)
	}

	addNode(t, l, nodeDoc)
	if _, err := l.client.AddNode(ctx, api.NodeInfo{Config: json.RawMessage(nodeDoc)}); !isStatus(err, http.StatusConflict) {
		t.Fatalf("duplicate node: %v", err)
	}
	z := api.Zone{Name: "example.com.", Primaries: []string{"192.0.2.10"}}
	if err := l.client.AddZone(ctx, z); err != nil {
		t.Fatal(err)
	}
	mid := l.serial(t)
	if err := l.client.AddZone(ctx, api.Zone{Name: "EXAMPLE.com.", Primaries: []string{"192.0.2.11"}}); !isStatus(err, http.StatusConflict) {
		t.Fatalf("duplicate zone: %v", err)
	}
	err = l.client.AddZone(ctx, api.Zone{Name: "bad..name", Primaries: []string{"not-an-ip"}, TSIG: "nokey"})
	if !isStatus(err, http.StatusBadRequest) || !strings.Contains(err.Error(), "primaries[0]") || !strings.Contains(err.Error(), "tsig") {
		t.Fatalf("bad zone: %v", err)
	}
	if l.serial(t) != mid {
		t.Fatal("refused zones changed the store")
	}
	if zs, _ := l.client.Zones(ctx); len(zs) != 1 || zs[0].Primaries[0] != "192.0.2.10:53" {
		t.Fatalf("zones = %+v", zs)
	}
	if err := l.client.RemoveZone(ctx, "nope.example."); !isStatus(err, http.StatusNotFound) {
		t.Fatalf("removing an unknown zone: %v", err)
	}
}

func isStatus(err error, code int) bool {
	var ce *api.CallError
	return errors.As(err, &ce) && ce.Status == code
}

// enrollRequest builds a signed enrollment request.
func enrollRequest(t *testing.T, id, token string, idKey ed25519.PrivateKey, wg string) ([]byte, string) {
	t.Helper()
	body, err := json.Marshal(api.EnrollRequest{
		NodeID: id, Token: token, WireGuard: wg,
		IdentityKey: base64.StdEncoding.EncodeToString(idKey.Public().(ed25519.PublicKey)),
		Facts:       api.Facts{Board: "rpi", Arch: "arm64"}, Time: time.Now(),
	})
	if err != nil {
		t.Fatal(err)
	}
	return body, base64.StdEncoding.EncodeToString(ed25519.Sign(idKey, body))
}

func postEnroll(t *testing.T, l *apiLab, body []byte, sig string) (int, []byte) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, l.enroll.URL+"/v1/enroll", bytes.NewReader(body))
	if sig != "" {
		req.Header.Set(api.HeaderSignature, sig)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, data
}

func newIdentity(t *testing.T) ed25519.PrivateKey {
	_, k, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func wgKey(b byte) string { return base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{b}, 32)) }

func TestEnrollment(t *testing.T) {
	l := newLab(t)
	alban := addNode(t, l, nodeDoc)
	bede := addNode(t, l, strings.ReplaceAll(nodeDoc, "alban", "bede"))
	if alban.Seed.Token != alban.Token || alban.Seed.EnrollURL != "http://192.0.2.1:8080/v1/enroll" || len(alban.Seed.Trust) != 1 {
		t.Fatalf("seed = %+v", alban.Seed)
	}
	id := newIdentity(t)

	before := l.serial(t)
	body, sig := enrollRequest(t, "alban", alban.Token, id, wgKey(1))
	type refusal struct {
		name   string
		body   []byte
		sig    string
		status int
		says   string
	}
	refusals := []refusal{
		{"unsigned", body, "", 400, "signature"},
		{"signed by another key", body, base64.StdEncoding.EncodeToString(ed25519.Sign(newIdentity(t), body)), 400, "not signed by the identity key"},
		{"not JSON", []byte("hello"), sig, 400, "JSON"},
	}
	signed := func(name, node, token string, status int, says string) refusal {
		b, s := enrollRequest(t, node, token, id, wgKey(1))
		return refusal{name, b, s, status, says}
	}
	refusals = append(refusals,
		signed("another node's token", "alban", bede.Token, 403, "another node"),
		signed("unknown token", "alban", "made-up", 403, "unknown"),
		signed("unknown node", "carys", alban.Token, 403, "another node"),
	)
	for _, r := range refusals {
		code, data := postEnroll(t, l, r.body, r.sig)
		if code != r.status || !strings.Contains(string(data), r.says) {
			t.Errorf("%s: %d %s", r.name, code, data)
		}
	}
	if l.serial(t) != before {
		t.Fatal("refused enrollments changed the store")
	}

	code, data := postEnroll(t, l, body, sig)
	if code != 200 {
		t.Fatalf("enroll: %d %s", code, data)
	}
	serverKey, _ := base64.StdEncoding.DecodeString(alban.Seed.ServerKey)
	trust, _ := envelope.NewTrustSet(ed25519.PublicKey(serverKey))
	payload, _, err := trust.Verify(data, api.PayloadEnrollment)
	if err != nil {
		t.Fatalf("answer does not verify with the pinned key: %v", err)
	}
	var e api.Enrollment
	if err := api.DecodeBytes(payload, &e); err != nil {
		t.Fatal(err)
	}
	if e.NodeID != "alban" || e.Tunnel.Address != "127.0.0.2/32" || e.Tunnel.ServerAddress != "127.0.0.1" ||
		e.Tunnel.Endpoint != "192.0.2.1:51820" || e.ConfigURL != "http://127.0.0.1:8053/v1/config" || e.Tunnel.ServerPublicKey != l.s.Keys().WireGuard {
		t.Fatalf("enrollment = %+v", e)
	}
	// The same request again (a lost answer) gets the same tunnel; the
	// token with any other keys is a replay.
	if code, _ := postEnroll(t, l, body, sig); code != 200 {
		t.Fatalf("retry: %d", code)
	}
	b5, s5 := enrollRequest(t, "alban", alban.Token, newIdentity(t), wgKey(2))
	if code, data := postEnroll(t, l, b5, s5); code != 403 || !strings.Contains(string(data), "already used") {
		t.Fatalf("replay: %d %s", code, data)
	}
	// An expired token.
	l.s.o.Now = func() time.Time { return time.Now().Add(TokenLifetime + time.Hour) }
	b6, s6 := enrollRequest(t, "bede", bede.Token, newIdentity(t), wgKey(3))
	if code, data := postEnroll(t, l, b6, s6); code != 403 || !strings.Contains(string(data), "expired") {
		t.Fatalf("expired: %d %s", code, data)
	}
}

// nodeClient calls the node endpoints from a tunnel address.
func nodeClient(from string) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}}
	return &http.Client{Transport: &http.Transport{DialContext: d.DialContext}, Timeout: 10 * time.Second}
}

func TestConfigLongPollAndHeartbeat(t *testing.T) {
	l := newLab(t)
	ctx := context.Background()
	nn := addNode(t, l, nodeDoc)
	body, sig := enrollRequest(t, "alban", nn.Token, newIdentity(t), wgKey(1))
	if code, data := postEnroll(t, l, body, sig); code != 200 {
		t.Fatalf("enroll: %d %s", code, data)
	}
	node := nodeClient("127.0.0.2")

	resp, err := nodeClient("127.0.0.3").Get(l.node.URL + "/v1/config")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("a stranger's config call: %d", resp.StatusCode)
	}

	resp, err = node.Get(l.node.URL + "/v1/config")
	if err != nil {
		t.Fatal(err)
	}
	data, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	etag := resp.Header.Get("ETag")
	if resp.StatusCode != 200 || etag == "" {
		t.Fatalf("config: %d %s", resp.StatusCode, data)
	}
	pub, _ := base64.StdEncoding.DecodeString(nn.Seed.Trust[0])
	trust, _ := envelope.NewTrustSet(ed25519.PublicKey(pub))
	payload, _, err := trust.Verify(data, config.PayloadType)
	if err != nil {
		t.Fatal(err)
	}
	c, err := config.Parse(payload)
	if err != nil {
		t.Fatal(err)
	}
	if c.Management.WireGuard.Address != "127.0.0.2/32" || len(c.Catalogs) != 1 {
		t.Fatalf("config management %+v catalogs %+v", c.Management, c.Catalogs)
	}

	// Nothing changed: a short wait ends in 304.
	req, _ := http.NewRequest(http.MethodGet, l.node.URL+"/v1/config?wait=0.2", nil)
	req.Header.Set("If-None-Match", etag)
	resp, err = node.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotModified {
		t.Fatalf("unchanged: %d", resp.StatusCode)
	}

	// A change answers a waiting poll at once.
	type answer struct {
		code int
		etag string
		at   time.Time
	}
	got := make(chan answer, 1)
	go func() {
		req, _ := http.NewRequest(http.MethodGet, l.node.URL+"/v1/config?wait=30", nil)
		req.Header.Set("If-None-Match", etag)
		resp, err := node.Do(req)
		if err != nil {
			got <- answer{}
			return
		}
		resp.Body.Close()
		got <- answer{resp.StatusCode, resp.Header.Get("ETag"), time.Now()}
	}()
	time.Sleep(200 * time.Millisecond)
	changed := time.Now()
	if err := l.client.AddZone(ctx, api.Zone{Name: "example.org.", Primaries: []string{"192.0.2.10"}}); err != nil {
		t.Fatal(err)
	}
	a := <-got
	if a.code != 200 || a.etag == etag {
		t.Fatalf("after a change: %+v", a)
	}
	if d := a.at.Sub(changed); d > time.Second {
		t.Fatalf("the change took %v to reach the poll", d)
	}

	hb := api.Heartbeat{NodeID: "alban", Time: time.Now(), Version: "v1", Slot: "a", ConfigSerial: c.Serial, State: "live", Ready: true, Healthy: true,
		BGP: []api.BGPSession{{Name: "t", Neighbor: "198.51.100.1", State: "established"}}}
	hbody, _ := json.Marshal(hb)
	resp, err = node.Post(l.node.URL+"/v1/heartbeat", "application/json", bytes.NewReader(hbody))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("heartbeat: %d", resp.StatusCode)
	}
	if err := l.s.store.AddRelease("test", fleet.Release{Board: "rpi", Version: "v1.0.0", Build: 7, Bundle: "rpi-7.bundle", SHA256: strings.Repeat("ab", 32), Size: 4096}); err != nil {
		t.Fatal(err)
	}
	resp, err = node.Get(l.node.URL + "/v1/update")
	if err != nil {
		t.Fatal(err)
	}
	var up api.Update
	json.NewDecoder(resp.Body).Decode(&up)
	resp.Body.Close()
	if up.Board != "rpi" || len(up.Releases) != 1 || up.Releases[0].Build != 7 {
		t.Fatalf("update metadata = %+v", up)
	}
	st, err := l.client.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Nodes) != 1 || st.Nodes[0].Heartbeat == nil || st.Nodes[0].Heartbeat.Version != "v1" || !st.Nodes[0].Enrolled {
		t.Fatalf("status = %+v", st)
	}
	// The node is a serial behind (the zone was added after its config),
	// and misses the zone: in progress.
	if st.Nodes[0].State != "in progress" || st.Nodes[0].ZonesMissing != 1 {
		t.Fatalf("state %q missing %d", st.Nodes[0].State, st.Nodes[0].ZonesMissing)
	}
	page, err := http.Get(l.op.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	html, _ := io.ReadAll(page.Body)
	page.Body.Close()
	if !strings.Contains(string(html), `id="node-alban"`) || !strings.Contains(string(html), "Scotland, Edinburgh") {
		t.Fatalf("NOC page lacks the node:\n%s", html)
	}
}
