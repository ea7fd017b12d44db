package noc

import (
	"bytes"
	"context"
	"encoding/json"
	"mime"
	"net/http"
	"strings"
	"time"
)

// Handler serves the NOC page for GET and HEAD (405 otherwise), as HTML, or
// as JSON for "?format=json" or a request that accepts application/json but
// not text/html. source is called once per request with the request's
// context; when it fails the client gets a 500 with a fixed message, since
// the page may be public and the error may name internals. Wrap source to
// log its errors.
func Handler(source func(ctx context.Context) (Page, error)) http.Handler {
	return &handler{source: source, now: time.Now}
}

type handler struct {
	source func(ctx context.Context) (Page, error)
	now    func() time.Time
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	hdr := w.Header()
	hdr.Set("Cache-Control", "no-store")
	hdr.Set("X-Content-Type-Options", "nosniff")
	hdr.Add("Vary", "Accept")

	p, err := h.source(r.Context())
	if err != nil {
		http.Error(w, "noc: fleet status unavailable", http.StatusInternalServerError)
		return
	}
	p = p.withDefaults(h.now)

	if wantsJSON(r) {
		body, err := json.MarshalIndent(newJSONPage(p), "", "  ")
		if err != nil {
			http.Error(w, "noc: cannot encode status", http.StatusInternalServerError)
			return
		}
		hdr.Set("Content-Type", "application/json")
		w.Write(append(body, '\n'))
		return
	}
	hdr.Set("Content-Security-Policy", contentSecurityPolicy)
	hdr.Set("Referrer-Policy", "no-referrer")
	hdr.Set("Content-Type", "text/html; charset=utf-8")
	var buf bytes.Buffer
	if err := render(&buf, p); err != nil {
		hdr.Del("Content-Security-Policy")
		http.Error(w, "noc: cannot render page", http.StatusInternalServerError)
		return
	}
	buf.WriteTo(w)
}

// wantsJSON: an explicit ?format= wins; otherwise the Accept header, where
// browsers always list text/html and API clients do not.
func wantsJSON(r *http.Request) bool {
	switch r.URL.Query().Get("format") {
	case "json":
		return true
	case "html":
		return false
	}
	var acceptJSON, acceptHTML bool
	for part := range strings.SplitSeq(r.Header.Get("Accept"), ",") {
		mt, _, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		switch mt {
		case "application/json":
			acceptJSON = true
		case "text/html":
			acceptHTML = true
		}
	}
	return acceptJSON && !acceptHTML
}

// jsonPage is Page on the wire: durations in seconds, and the summary the
// HTML page shows, so a monitoring script need not recount.
type jsonPage struct {
	Title          string     `json:"title"`
	Generated      time.Time  `json:"generated"`
	RefreshSeconds float64    `json:"refresh_seconds"`
	Serial         uint64     `json:"serial"`
	Zones          int        `json:"zones"`
	Summary        Summary    `json:"summary"`
	Rollout        *Rollout   `json:"rollout,omitempty"`
	Nodes          []jsonNode `json:"nodes"`
}

type jsonNode struct {
	Node
	ZoneLagSeconds float64 `json:"zone_lag_seconds"`
}

func newJSONPage(p Page) jsonPage {
	j := jsonPage{
		Title:          p.Title,
		Generated:      p.Generated,
		RefreshSeconds: max(p.Refresh, 0).Seconds(),
		Serial:         p.Serial,
		Zones:          p.Zones,
		Summary:        p.Summarize(),
		Rollout:        p.Rollout,
		Nodes:          make([]jsonNode, 0, len(p.Nodes)),
	}
	for _, n := range p.Nodes {
		j.Nodes = append(j.Nodes, jsonNode{Node: n, ZoneLagSeconds: n.ZoneLag.Seconds()})
	}
	return j
}
