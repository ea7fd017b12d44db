package server

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/goleudy/goleudy/provision/api"
	"github.com/goleudy/goleudy/provision/config"
	"github.com/goleudy/goleudy/provision/envelope"
)

// fakeNode is an enrolled node that the test speaks for over the node
// API: heartbeats and config fetches from its tunnel address.
type fakeNode struct {
	id    string
	http  *http.Client
	l     *apiLab
	trust *envelope.TrustSet
}

func newFakeNode(t *testing.T, l *apiLab, id string, wg byte) *fakeNode {
	t.Helper()
	c := enrollNode(t, l, strings.ReplaceAll(nodeDoc, "alban", id), wg)
	k := l.s.Keys()
	pub, _ := base64.StdEncoding.DecodeString(k.Trust[0].Key)
	trust, err := envelope.NewTrustSet(ed25519.PublicKey(pub))
	if err != nil {
		t.Fatal(err)
	}
	return &fakeNode{id: id, http: c, l: l, trust: trust}
}

// beat sends a heartbeat: running version/build, and the agent's report.
func (n *fakeNode) beat(t *testing.T, version string, build uint64, u *api.UpdateReport) {
	t.Helper()
	hb := api.Heartbeat{NodeID: n.id, Time: time.Now(), Version: version, Build: build, Slot: "a", State: "live",
		Ready: true, Healthy: true, Update: u}
	body, _ := json.Marshal(hb)
	resp, err := n.http.Post(n.l.node.URL+"/v1/heartbeat", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("heartbeat from %s: %d", n.id, resp.StatusCode)
	}
}

// config fetches and verifies the node's config; with etag it long-polls.
func (n *fakeNode) config(t *testing.T, etag string, wait time.Duration) (*config.Config, string, int) {
	t.Helper()
	c, tag, code, err := n.fetch(etag, wait)
	if err != nil {
		t.Fatal(err)
	}
	return c, tag, code
}

// fetch is config for any goroutine: it returns its error.
func (n *fakeNode) fetch(etag string, wait time.Duration) (*config.Config, string, int, error) {
	url := n.l.node.URL + "/v1/config"
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	if etag != "" {
		req.URL.RawQuery = "wait=" + strconv.FormatFloat(wait.Seconds(), 'f', -1, 64)
		req.Header.Set("If-None-Match", etag)
	}
	resp, err := n.http.Do(req)
	if err != nil {
		return nil, "", 0, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != 200 {
		return nil, resp.Header.Get("ETag"), resp.StatusCode, err
	}
	payload, _, err := n.trust.Verify(data, config.PayloadType)
	if err != nil {
		return nil, "", 0, err
	}
	c, err := config.Parse(payload)
	return c, resp.Header.Get("ETag"), 200, err
}

func report(build uint64, state, reason string) *api.UpdateReport {
	return &api.UpdateReport{Version: "v2", Build: build, State: state, Reason: reason, At: time.Now()}
}

func TestRolloutDrivenByHeartbeats(t *testing.T) {
	key := newReleaseKey(t)
	l := releaseLab(t, key)
	ctx := context.Background()
	alban := newFakeNode(t, l, "alban", 1)
	bede := newFakeNode(t, l, "bede", 2)
	carys := newFakeNode(t, l, "carys", 3)
	data, m := makeBundle(t, key.priv, "rpi", "v2", 5, 4096)
	if _, err := publish(t, l, data); err != nil {
		t.Fatal(err)
	}
	// bede is the only node heard from: it is the canary.
	bede.beat(t, "v1", 4, nil)

	_, etag, _ := alban.config(t, "", 0)
	ro, err := l.client.StartRollout(ctx, api.RolloutRequest{Version: "v2", Canary: 1})
	if err != nil {
		t.Fatal(err)
	}
	if ro.Phase != api.RolloutCanary || len(ro.Targets) != 3 || ro.Targets[0].Node != "bede" || !ro.Targets[0].Canary || !ro.Targets[0].Offered || ro.Targets[1].Offered {
		t.Fatalf("started %+v", ro)
	}
	want := config.Update{Version: "v2", Build: 5, SHA256: m.SHA256, Size: 4096, URL: "http://127.0.0.1:8053/v1/bundles/rpi/5"}
	if c, _, _ := bede.config(t, "", 0); c.Update != want {
		t.Fatalf("canary config update %+v, want %+v", c.Update, want)
	}
	if c, _, _ := alban.config(t, "", 0); c.Update != (config.Update{}) {
		t.Fatalf("alban is offered %+v in the canary phase", c.Update)
	}

	// alban long-polls; the canary's commit answers it at once.
	_, etag, _ = alban.config(t, "", 0)
	type answer struct {
		c    *config.Config
		code int
		err  error
		at   time.Time
	}
	got := make(chan answer, 1)
	go func() {
		c, _, code, err := alban.fetch(etag, 30*time.Second)
		got <- answer{c, code, err, time.Now()}
	}()
	time.Sleep(200 * time.Millisecond)
	bede.beat(t, "v1", 4, report(5, api.UpdateDownloading, ""))
	bede.beat(t, "v1", 4, report(5, api.UpdateTrial, ""))
	committed := time.Now()
	bede.beat(t, "v2", 5, report(5, api.UpdateCommitted, ""))
	a := <-got
	if a.err != nil || a.code != 200 || a.c.Update != want {
		t.Fatalf("alban's long poll after the canary committed: %d %+v %v", a.code, a.c, a.err)
	}
	if d := a.at.Sub(committed); d > time.Second {
		t.Fatalf("the commit took %v to reach the poll", d)
	}
	if ro, _ = l.client.Rollout(ctx); ro.Phase != api.RolloutAll || ro.Committed != 1 {
		t.Fatalf("after the canary: %+v", ro)
	}

	// alban rolls back: the rollout halts, carys is no longer offered the
	// build, bede keeps it.
	alban.beat(t, "v1", 4, report(5, api.UpdateRolledBack, "not ready within 300s"))
	ro, _ = l.client.Rollout(ctx)
	if ro.Phase != api.RolloutHalted || ro.Halt == nil || ro.Halt.Node != "alban" || ro.Halt.Reason != "not ready within 300s" ||
		ro.Targets[1].State != api.UpdateRolledBack {
		t.Fatalf("after alban rolled back: %+v %+v", ro, ro.Halt)
	}
	if c, _, _ := carys.config(t, "", 0); c.Update != (config.Update{}) {
		t.Fatalf("halted: carys is offered %+v", c.Update)
	}
	if c, _, _ := bede.config(t, "", 0); c.Update != want {
		t.Fatalf("halted: bede lost its release: %+v", c.Update)
	}

	// The NOC page and the status show it.
	resp, page := get(t, http.DefaultClient, l.op.URL+"/", nil)
	if resp.StatusCode != 200 {
		t.Fatal(resp.Status)
	}
	for _, w := range []string{
		"v2: halted by alban (rolled back: not ready within 300s), 1 of 3 committed",
		"v2 rolled back: not ready within 300s",
		"v2 #5 (a)", "v2 committed",
	} {
		if !strings.Contains(string(page), w) {
			t.Errorf("NOC page lacks %q", w)
		}
	}
	st, err := l.client.Status(ctx)
	if err != nil || st.Nodes[0].Heartbeat == nil || st.Nodes[0].Heartbeat.Update.State != api.UpdateRolledBack {
		t.Fatalf("status %+v %v", st, err)
	}

	// Halting again is refused; a new start replaces the halted one; a
	// start while one runs needs force; the operator can halt.
	if _, err := l.client.HaltRollout(ctx, "x"); !isStatus(err, http.StatusConflict) || !strings.Contains(err.Error(), "no rollout is running") {
		t.Fatalf("halting a halted rollout: %v", err)
	}
	if _, err := l.client.StartRollout(ctx, api.RolloutRequest{Version: "v2", Canary: 1}); err != nil {
		t.Fatalf("restart after a halt: %v", err)
	}
	if _, err := l.client.StartRollout(ctx, api.RolloutRequest{Version: "v2", Canary: 1}); !isStatus(err, http.StatusConflict) || !strings.Contains(err.Error(), "halt it first, or force") {
		t.Fatalf("a start while one runs: %v", err)
	}
	if ro, err = l.client.StartRollout(ctx, api.RolloutRequest{Version: "v2", Canary: 2, Force: true}); err != nil || ro.Committed != 1 {
		t.Fatalf("forced start: %+v %v", ro, err)
	}
	if ro, err = l.client.HaltRollout(ctx, "going home"); err != nil || ro.Phase != api.RolloutHalted || ro.Halt.Reason != "going home" || ro.Halt.Actor != "operator" {
		t.Fatalf("operator halt: %+v %v", ro, err)
	}
	for _, tt := range []struct {
		req  api.RolloutRequest
		code int
		says string
	}{
		{api.RolloutRequest{Version: "v9", Canary: 1}, 400, "version: no release v9 is published for any node's board"},
		{api.RolloutRequest{Version: "v2", Canary: -1}, 400, "canary: -1 must be 0 or more"},
	} {
		if _, err := l.client.StartRollout(ctx, tt.req); !isStatus(err, tt.code) || !strings.Contains(err.Error(), tt.says) {
			t.Errorf("%+v: %v", tt.req, err)
		}
	}
	raw, _ := l.client.Audit(ctx, 0, 0)
	for _, w := range []string{`"action": "rollout start"`, `"action": "rollout commit"`, `"actor": "node:alban"`, `"action": "rollout halt"`, `"detail": "going home"`} {
		if !strings.Contains(string(raw), w) {
			t.Errorf("audit lacks %s", w)
		}
	}
}

func TestRolloutNotFoundAndRestart(t *testing.T) {
	key := newReleaseKey(t)
	dir := t.TempDir()
	opts := func(o *Options) { o.ReleaseTrust, o.DataDir = []string{key.pub}, dir }
	l := newLab(t, opts)
	ctx := context.Background()
	if _, err := l.client.Rollout(ctx); !isStatus(err, http.StatusNotFound) || !strings.Contains(err.Error(), "no rollout has been started") {
		t.Fatalf("no rollout yet: %v", err)
	}
	n := newFakeNode(t, l, "alban", 1)
	data, _ := makeBundle(t, key.priv, "rpi", "v2", 5, 4096)
	if _, err := publish(t, l, data); err != nil {
		t.Fatal(err)
	}
	if _, err := l.client.StartRollout(ctx, api.RolloutRequest{Version: "v2", Canary: 0}); err != nil {
		t.Fatal(err)
	}
	n.beat(t, "v1", 4, report(5, api.UpdateWriting, ""))
	want, _ := l.client.Rollout(ctx)
	// A restarted server carries on where it was.
	l.op.Close()
	l.s.Close()
	l2 := newLab(t, opts)
	got, err := l2.client.Rollout(ctx)
	if err != nil || got.Phase != api.RolloutAll || got.Targets[0].State != api.UpdateWriting || !got.Started.Equal(want.Started) {
		t.Fatalf("after a restart: %+v %v", got, err)
	}
	// The NOC page shows the recorded state of a node not heard from yet.
	_, page := get(t, http.DefaultClient, l2.op.URL+"/", nil)
	if !strings.Contains(string(page), "v2 writing") || !strings.Contains(string(page), "v2: rolling out to all, 0 of 1 committed") {
		t.Fatalf("NOC page after a restart lacks the rollout")
	}
}
