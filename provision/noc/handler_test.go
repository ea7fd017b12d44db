package noc

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func fixtureSource(context.Context) (Page, error) { return fixturePage(), nil }

func serve(t *testing.T, h http.Handler, method, target string, hdr map[string]string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, target, nil)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func TestHandlerHTML(t *testing.T) {
	rec := serve(t, Handler(fixtureSource), http.MethodGet, "/", map[string]string{
		"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
	})
	if rec.Code != http.StatusOK {
		t.Fatalf("GET status %d: %s", rec.Code, rec.Body)
	}
	if ct := rec.Header().Get("Content-Type"); ct != "text/html; charset=utf-8" {
		t.Errorf("Content-Type %q", ct)
	}
	if csp := rec.Header().Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") || !strings.Contains(csp, "style-src 'sha256-") {
		t.Errorf("Content-Security-Policy %q", csp)
	}
	if cc := rec.Header().Get("Cache-Control"); cc != "no-store" {
		t.Errorf("Cache-Control %q", cc)
	}
	if body := rec.Body.String(); !strings.Contains(body, `<tr id="node-edi-1" class="st-live" data-state="live">`) {
		t.Errorf("body lacks the live row:\n%s", body)
	}
}

func TestHandlerHead(t *testing.T) {
	srv := httptest.NewServer(Handler(fixtureSource))
	defer srv.Close()
	resp, err := http.Head(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || len(body) != 0 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Errorf("HEAD = %d %q, %d body bytes", resp.StatusCode, resp.Header.Get("Content-Type"), len(body))
	}
}

func TestHandlerJSON(t *testing.T) {
	h := Handler(fixtureSource)
	for _, tt := range []struct {
		name   string
		target string
		hdr    map[string]string
	}{
		{"format", "/?format=json", nil},
		{"accept", "/", map[string]string{"Accept": "application/json"}},
		{"format beats browser accept", "/?format=json", map[string]string{"Accept": "text/html"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rec := serve(t, h, http.MethodGet, tt.target, tt.hdr)
			if rec.Code != http.StatusOK || rec.Header().Get("Content-Type") != "application/json" {
				t.Fatalf("status %d, Content-Type %q", rec.Code, rec.Header().Get("Content-Type"))
			}
			var got struct {
				Title          string    `json:"title"`
				Generated      time.Time `json:"generated"`
				RefreshSeconds float64   `json:"refresh_seconds"`
				Serial         uint64    `json:"serial"`
				Zones          int       `json:"zones"`
				Summary        Summary   `json:"summary"`
				Rollout        *Rollout  `json:"rollout"`
				Nodes          []struct {
					Update         *Update   `json:"update"`
					ID             string    `json:"id"`
					State          State     `json:"state"`
					BGP4           BGP       `json:"bgp4"`
					ZoneLagSeconds float64   `json:"zone_lag_seconds"`
					ZonesMissing   int       `json:"zones_missing"`
					InService      time.Time `json:"in_service"`
					LastHeartbeat  time.Time `json:"last_heartbeat"`
				} `json:"nodes"`
			}
			if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
				t.Fatalf("decode: %v\n%s", err, rec.Body)
			}
			if got.Title != DefaultTitle || !got.Generated.Equal(genTime) || got.RefreshSeconds != 10 || got.Serial != 42 || got.Zones != 120 {
				t.Errorf("page fields: %+v", got)
			}
			if got.Rollout == nil || got.Rollout.Phase != "halted" || got.Rollout.HaltNode != "bah-1" {
				t.Errorf("rollout %+v", got.Rollout)
			}
			if u := got.Nodes[1].Update; u == nil || u.State != UpdateRolledBack || u.Reason != "not ready within 300s" {
				t.Errorf("bah-1 update %+v", u)
			}
			if want := (Summary{Nodes: 3, Live: 1, Down: 1, InProgress: 1}); got.Summary != want {
				t.Errorf("summary %+v, want %+v", got.Summary, want)
			}
			if len(got.Nodes) != 3 || got.Nodes[0].ID != "bel-1" || got.Nodes[1].ID != "bah-1" || got.Nodes[2].ID != "edi-1" {
				t.Fatalf("nodes not in page order: %+v", got.Nodes)
			}
			bah := got.Nodes[1]
			if bah.State != StateInProgress || bah.ZoneLagSeconds != 40 || bah.ZonesMissing != 3 || bah.BGP4 != (BGP{State: "active", Peers: 1}) || !bah.InService.IsZero() {
				t.Errorf("bah-1: %+v", bah)
			}
			if !strings.Contains(rec.Body.String(), `"in_service": "2013-10-25T00:00:00Z"`) || strings.Count(rec.Body.String(), `"in_service"`) != 2 {
				t.Errorf("in_service should be present exactly for the two nodes in service:\n%s", rec.Body)
			}
		})
	}
}

func TestHandlerMethods(t *testing.T) {
	h := Handler(fixtureSource)
	for _, m := range []string{http.MethodPost, http.MethodPut, http.MethodDelete, http.MethodPatch, http.MethodOptions} {
		rec := serve(t, h, m, "/", nil)
		if rec.Code != http.StatusMethodNotAllowed || rec.Header().Get("Allow") != "GET, HEAD" {
			t.Errorf("%s: status %d, Allow %q", m, rec.Code, rec.Header().Get("Allow"))
		}
	}
}

func TestHandlerSourceError(t *testing.T) {
	var calls int
	var gotCtx context.Context
	h := Handler(func(ctx context.Context) (Page, error) {
		calls++
		gotCtx = ctx
		return Page{}, errors.New("bolt: /var/lib/goleudy/fleet.db: timeout")
	})
	for _, target := range []string{"/", "/?format=json"} {
		rec := serve(t, h, http.MethodGet, target, nil)
		if rec.Code != http.StatusInternalServerError {
			t.Errorf("%s: status %d", target, rec.Code)
		}
		if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
			t.Errorf("%s: Content-Type %q", target, ct)
		}
		if body := rec.Body.String(); body != "noc: fleet status unavailable\n" {
			t.Errorf("%s: body %q (must not leak the error)", target, body)
		}
	}
	if calls != 2 || gotCtx == nil {
		t.Errorf("source called %d times, ctx %v; want once per request", calls, gotCtx)
	}
}

func TestWantsJSON(t *testing.T) {
	for _, tt := range []struct {
		target, accept string
		want           bool
	}{
		{"/", "", false},
		{"/", "*/*", false},
		{"/", "application/json", true},
		{"/", "application/json; charset=utf-8", true},
		{"/", "text/html, application/json", false},
		{"/?format=html", "application/json", false},
		{"/?format=json", "", true},
		{"/?format=xml", "", false},
	} {
		req := httptest.NewRequest(http.MethodGet, tt.target, nil)
		if tt.accept != "" {
			req.Header.Set("Accept", tt.accept)
		}
		if got := wantsJSON(req); got != tt.want {
			t.Errorf("wantsJSON(%s, Accept %q) = %v, want %v", tt.target, tt.accept, got, tt.want)
		}
	}
}

// TestHandlerStyleHash: the CSP names the inline stylesheet by hash, so the
// hash must match the <style> element byte for byte or browsers drop the CSS.
func TestHandlerStyleHash(t *testing.T) {
	rec := serve(t, Handler(fixtureSource), http.MethodGet, "/", nil)
	body := rec.Body.String()
	start, end := strings.Index(body, "<style>"), strings.Index(body, "</style>")
	if start < 0 || end < start {
		t.Fatal("no <style> element")
	}
	sum := sha256.Sum256([]byte(body[start+len("<style>") : end]))
	want := "style-src 'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"
	if csp := rec.Header().Get("Content-Security-Policy"); !strings.Contains(csp, want) {
		t.Errorf("Content-Security-Policy %q lacks %q", csp, want)
	}
}
