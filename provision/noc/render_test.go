package noc

import (
	"bytes"
	"errors"
	"regexp"
	"strings"
	"testing"
	"time"
)

func renderString(t *testing.T, p Page) string {
	t.Helper()
	var buf bytes.Buffer
	if err := Render(&buf, p); err != nil {
		t.Fatalf("Render: %v", err)
	}
	return buf.String()
}

// row returns the <tr> of node id, or fails.
func row(t *testing.T, html, id string) string {
	t.Helper()
	start := strings.Index(html, `<tr id="node-`+id+`"`)
	if start < 0 {
		t.Fatalf("no row for node %q in:\n%s", id, html)
	}
	end := strings.Index(html[start:], "</tr>")
	return html[start : start+end]
}

func TestRenderRows(t *testing.T) {
	html := renderString(t, fixturePage())
	tests := []struct {
		id   string
		want []string
	}{
		{"edi-1", []string{
			`data-state="live"`, `class="st-live"`, `>live</span>`,
			`<abbr class="cc" title="country code">GB</abbr> Scotland, Edinburgh`,
			`edi-1.nodes.goleudy.net`,
			`>up 2/2<`, `>up 1/1<`, `>42<`, `>current<`, `>v0.9.2 #7 (a)<span class="upd ok" title="build 7">v0.9.2 committed</span></td>`,
			`<time datetime="2026-03-01T11:59:56Z" title="2026-03-01 11:59:56 UTC">4s ago</time>`,
			`<time datetime="2013-10-25"`, `>2013-10-25</time>`,
		}},
		{"bah-1", []string{
			`data-state="in progress"`, `>in progress</span>`,
			`>down 0/1<`, `>—<`, `>41 → 42<`,
			`<span class="nw">2 behind (lag 40s)</span>, <span class="nw">3 missing</span>`, `>3m ago</time>`,
			`title="not in service yet">—</span>`, `>host racking second uplink<`,
			`>v0.9.2 (b)<span class="upd bad" title="build 8">v0.9.3 rolled back: not ready within 300s</span></td>`,
		}},
		{"bel-1", []string{
			`data-state="down"`, `>down</span>`,
			`>down 0/2<`, `>partial 1/2<`, `>2h ago</time>`, `>40 → 42<`, `>v0.9.1 (b)</td>`,
		}},
	}
	for _, tt := range tests {
		r := row(t, html, tt.id)
		for _, w := range tt.want {
			if !strings.Contains(r, w) {
				t.Errorf("row %s: missing %q in\n%s", tt.id, w, r)
			}
		}
	}
}

func TestRenderOrder(t *testing.T) {
	p := fixturePage()
	p.Nodes = append(p.Nodes,
		Node{ID: "10", State: StateLive},
		Node{ID: "9", State: StateLive},
		Node{ID: "man-1", State: StateMaintenance},
		Node{ID: "a-2", State: StateDown},
	)
	html := renderString(t, p)
	want := []string{"a-2", "bel-1", "bah-1", "man-1", "9", "10", "edi-1"}
	var got []string
	for _, m := range regexp.MustCompile(`<tr id="node-([^"]+)"`).FindAllStringSubmatch(html, -1) {
		got = append(got, m[1])
	}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("row order = %v, want %v", got, want)
	}
	if p.Nodes[0].ID != "edi-1" {
		t.Errorf("Render reordered the caller's nodes")
	}
}

func TestNaturalCompare(t *testing.T) {
	tests := []struct {
		a, b string
		want int
	}{
		{"9", "10", -1}, {"node2", "node10", -1}, {"a", "b", -1}, {"a1", "a1", 0},
		{"a1b", "a1a", 1}, {"7", "07", 1}, {"x", "x1", -1}, {"1", "a", -1},
		{"99999999999999999999999", "1", 1},
	}
	for _, tt := range tests {
		if got := naturalCompare(tt.a, tt.b); got != tt.want {
			t.Errorf("naturalCompare(%q, %q) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
	}
}

func TestRenderEscapes(t *testing.T) {
	p := Page{Generated: genTime, Title: `NOC <b>"x"</b>`, Nodes: []Node{{
		ID:       `x"><script>alert(1)</script>`,
		Location: `<script>alert("loc")</script>`,
		FQDN:     `<img src=x onerror=alert(1)>`,
		Note:     `</td><script src="https://evil.example/x.js"></script>`,
		Version:  `"onmouseover="alert(1)`,
		State:    State(`<i>odd</i>`),
	}}}
	html := renderString(t, p)
	if strings.Contains(html, "<script") || strings.Contains(html, "<img") || strings.Contains(html, "<i>odd") || strings.Contains(html, `<b>"x"`) {
		t.Errorf("unescaped markup in page:\n%s", html)
	}
	for _, w := range []string{
		`&lt;script&gt;alert(&#34;loc&#34;)&lt;/script&gt;`,
		`id="node-x&#34;&gt;&lt;script&gt;alert(1)&lt;/script&gt;"`,
		`<title>NOC &lt;b&gt;&#34;x&#34;&lt;/b&gt;</title>`,
	} {
		if !strings.Contains(html, w) {
			t.Errorf("missing escaped %q", w)
		}
	}
}

func TestRenderHead(t *testing.T) {
	html := renderString(t, fixturePage())
	for _, w := range []string{
		`<!DOCTYPE html>`,
		`<meta name="viewport" content="width=device-width, initial-scale=1">`,
		`<meta http-equiv="refresh" content="10">`,
		`<title>Goleudy NOC</title>`,
		`<caption>`, `<th scope="col">IPv6</th>`, `<th scope="row" class="node">`,
		`<style>:root{`,
		`@media (max-width:`,
	} {
		if !strings.Contains(html, w) {
			t.Errorf("page lacks %q", w)
		}
	}
	for _, bad := range []string{`<script`, `<link`, `src=`, `http://`, `https://`, `@import`, `url(`} {
		if strings.Contains(html, bad) {
			t.Errorf("page has %q: it must not fetch anything or run scripts", bad)
		}
	}
}

func TestRenderRefresh(t *testing.T) {
	for _, tt := range []struct {
		refresh time.Duration
		want    string
	}{
		{0, `content="10"`},
		{30 * time.Second, `content="30"`},
		{100 * time.Millisecond, `content="1"`},
		{-1, ``},
	} {
		p := fixturePage()
		p.Refresh = tt.refresh
		html := renderString(t, p)
		has := strings.Contains(html, `http-equiv="refresh"`)
		if tt.want == "" && has {
			t.Errorf("Refresh %v: page refreshes itself", tt.refresh)
		}
		if tt.want != "" && !strings.Contains(html, `<meta http-equiv="refresh" `+tt.want+`>`) {
			t.Errorf("Refresh %v: want refresh meta %s", tt.refresh, tt.want)
		}
	}
}

func TestRenderSummary(t *testing.T) {
	p := fixturePage()
	p.Nodes = append(p.Nodes, Node{ID: "m", State: StateMaintenance}, Node{ID: "l", State: StateLive})
	html := renderString(t, p)
	for _, w := range []string{
		`<b>5</b> nodes`, `<b>2</b> live`, `<b>1</b> down`, `<b>1</b> in progress`, `<b>1</b> maintenance`,
		`Fleet config serial <b id="serial">42</b>`, `<b>120</b> customer zones`,
		`generated <time datetime="2026-03-01T12:00:00Z">2026-03-01 12:00:00 UTC</time>`,
		`<p class="meta" id="rollout">Rollout <span class="bad" title="rollout of v0.9.3">v0.9.3: halted by bah-1 (rolled_back: not ready within 300s), 1 of 2 committed</span></p>`,
	} {
		if !strings.Contains(html, w) {
			t.Errorf("summary lacks %q", w)
		}
	}
	if strings.Contains(html, "</b> unknown") {
		t.Errorf("summary counts unknown states when there are none")
	}
}

func TestRenderEmptyAndDefaults(t *testing.T) {
	before := time.Now().UTC().Truncate(time.Second)
	html := renderString(t, Page{})
	if !strings.Contains(html, "No nodes yet.") || !strings.Contains(html, "<b>0</b> nodes") {
		t.Errorf("empty page lacks its empty row or zero count:\n%s", html)
	}
	m := regexp.MustCompile(`generated <time datetime="([^"]+)"`).FindStringSubmatch(html)
	if m == nil {
		t.Fatal("no generated time")
	}
	if g, err := time.Parse(time.RFC3339, m[1]); err != nil || g.Before(before) {
		t.Errorf("generated %q, want now (>= %v)", m[1], before)
	}
}

func TestRenderUnknownState(t *testing.T) {
	html := renderString(t, Page{Generated: genTime, Nodes: []Node{{ID: "n"}}})
	if r := row(t, html, "n"); !strings.Contains(r, `data-state="unknown"`) {
		t.Errorf("empty state row = %s", r)
	}
	if !strings.Contains(html, `<b>1</b> unknown`) {
		t.Errorf("summary does not count the unknown state")
	}
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestRenderWriteError(t *testing.T) {
	if err := Render(failWriter{}, fixturePage()); err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Errorf("Render to failing writer = %v", err)
	}
}

func TestFormatting(t *testing.T) {
	now := genTime
	for _, tt := range []struct{ got, want string }{
		{heartbeatStamp(time.Time{}, now).Text, "never"},
		{heartbeatStamp(now, now).Text, "0s ago"},
		{heartbeatStamp(now.Add(time.Second), now).Text, "0s ago"},
		{heartbeatStamp(now.Add(-59*time.Second), now).Text, "59s ago"},
		{heartbeatStamp(now.Add(-60*time.Second), now).Text, "1m ago"},
		{heartbeatStamp(now.Add(-47*time.Hour), now).Text, "47h ago"},
		{heartbeatStamp(now.Add(-72*time.Hour), now).Text, "3d ago"},
		{heartbeatStamp(now.Add(time.Minute), now).Text, "1m in the future"},
		{inServiceStamp(time.Time{}).Text, "—"},
		{inServiceStamp(time.Date(2014, 6, 18, 23, 0, 0, 0, time.FixedZone("x", -3*3600))).Text, "2014-06-19"},
		{bgpCell(BGP{}, "IPv4").Text, "—"},
		{bgpCell(BGP{State: "none"}, "IPv6").Text, "—"},
		{bgpCell(BGP{Peers: 2, Up: 2}, "IPv4").Text, "up 2/2"},
		{bgpCell(BGP{Peers: 1}, "IPv4").Text, "down 0/1"},
		{bgpCell(BGP{Peers: 3, Up: 1}, "IPv4").Text, "partial 1/3"},
		{zonesCell(0, 0, 0).Text, "current"},
		{zonesCell(2, 40*time.Second, 0).Text, "2 behind (lag 40s)"},
		{zonesCell(1, 200*time.Second, 0).Text, "1 behind (lag 3m20s)"},
		{zonesCell(1, 0, 0).Text, "1 behind"},
		{zonesCell(0, 0, 3).Text, "3 missing"},
		{configCell(5, 5).Text, "5"},
		{configCell(4, 5).Text, "4 → 5"},
		{configCell(6, 5).Text, "6 (ahead of 5)"},
		{firmwareCell("", 0, "", "").Text, "unknown"},
		{firmwareCell("v1", 0, "b", "apu2").Text, "v1 (b)"},
		{firmwareCell("v1", 12, "b", "apu2").Text, "v1 #12 (b)"},
		{firmwareCell("v1", 12, "b", "apu2").Title, "board apu2, build 12, slot b"},
		{updateCell(nil).Text, ""},
		{updateCell(&Update{Version: "v2", Build: 5, State: UpdateCommitted}).Text, "v2 committed"},
		{updateCell(&Update{Version: "v3", State: UpdateRolledBack, Reason: "not ready in 300s"}).Text, "v3 rolled back: not ready in 300s"},
		{updateCell(&Update{Version: "v3", State: UpdateRolledBack}).Class, "bad"},
		{updateCell(&Update{Version: "v3", State: UpdateRefused, Reason: "untrusted key"}).Text, "v3 refused: untrusted key"},
		{updateCell(&Update{Build: 9, State: UpdateDownloading, Done: 40, Total: 100}).Text, "build 9 downloading 40%"},
		{updateCell(&Update{Version: "v3", State: UpdateWriting}).Text, "v3 writing"},
		{updateCell(&Update{Version: "v3", State: UpdateTrial}).Text, "v3 on trial"},
		{updateCell(&Update{Version: "v3", State: UpdateFailed, Reason: "connection reset"}).Text, "v3 failed, retrying: connection reset"},
		{rolloutCell(Rollout{Version: "v3", Phase: "canary", Targets: 4, Committed: 1}).Text, "v3: canary phase, 1 of 4 committed"},
		{rolloutCell(Rollout{Version: "v3", Phase: "all", Targets: 4, Committed: 2}).Text, "v3: rolling out to all, 2 of 4 committed"},
		{rolloutCell(Rollout{Version: "v3", Phase: "done", Targets: 4, Committed: 4}).Text, "v3: done, 4 of 4 committed"},
		{rolloutCell(Rollout{Version: "v3", Phase: "halted", Targets: 4, Committed: 1, HaltNode: "bah-1", HaltReason: "rolled_back: not ready"}).Text,
			"v3: halted by bah-1 (rolled_back: not ready), 1 of 4 committed"},
		{rolloutCell(Rollout{Version: "v3", Phase: "halted", Targets: 4}).Text, "v3: halted by the operator, 0 of 4 committed"},
		{shortDuration(time.Hour), "1h"},
		{shortDuration(26*time.Hour + 30*time.Minute), "1d2h"},
		{shortDuration(90 * time.Minute), "1h30m"},
	} {
		if tt.got != tt.want {
			t.Errorf("got %q, want %q", tt.got, tt.want)
		}
	}
}
