package admin

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/netip"
	"slices"
	"time"

	"github.com/goleudy/goleudy/provision/api"
	"github.com/goleudy/goleudy/services/logring"
)

// LogPage is the body of GET /v1/log.
type LogPage struct {
	// First and Last are the sequence numbers of the oldest and newest
	// entries the node keeps. A reader whose since is below First-1 has
	// missed entries.
	First uint64 `json:"first"`
	Last  uint64 `json:"last"`
	// Next is the since to ask with for the entries after these.
	Next    uint64          `json:"next"`
	Entries []logring.Entry `json:"entries"`
}

// DrainState is the body of the drain and undrain answers.
type DrainState struct {
	Drained bool `json:"drained"`
}

// RebootAnswer is the body of the reboot answer.
type RebootAnswer struct {
	RebootIn string `json:"reboot_in"`
}

// refusedLogEvery rate-limits the log of refused callers.
const refusedLogEvery = 10 * time.Second

// route is one endpoint: its method and handler.
type route struct {
	path, method string
	handle       func(http.ResponseWriter, *http.Request)
}

func (s *Service) routes() *http.ServeMux {
	mux := http.NewServeMux()
	table := []route{
		{"/v1/status", http.MethodGet, s.status},
		{"/v1/log", http.MethodGet, s.log},
		{"/v1/drain", http.MethodPost, s.drain(true)},
		{"/v1/undrain", http.MethodPost, s.drain(false)},
		{"/v1/reboot", http.MethodPost, s.rebootNow},
	}
	for _, rt := range table {
		mux.HandleFunc(rt.path, func(w http.ResponseWriter, r *http.Request) {
			allow := rt.method
			if rt.method == http.MethodGet {
				allow = "GET, HEAD"
			}
			if r.Method != rt.method && !(rt.method == http.MethodGet && r.Method == http.MethodHead) {
				w.Header().Set("Allow", allow)
				writeError(w, http.StatusMethodNotAllowed, fmt.Sprintf("%s %s: method not allowed; use %s", r.Method, rt.path, rt.method))
				return
			}
			rt.handle(w, r)
		})
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, fmt.Sprintf("%s: no such endpoint; see /v1/status, /v1/log, /v1/drain, /v1/undrain, /v1/reboot", r.URL.Path))
	})
	return mux
}

// ServeHTTP checks who is calling, then routes. A panicking callback
// answers 500 instead of dropping the connection.
func (s *Service) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	if from, ok := s.permitted(r); !ok {
		s.refused(from, r)
		writeError(w, http.StatusForbidden, fmt.Sprintf("forbidden: %s is not in the management network", from))
		return
	}
	if err := s.csrf.Check(r); err != nil {
		writeError(w, http.StatusForbidden, "forbidden: "+err.Error())
		return
	}
	defer func() {
		if p := recover(); p != nil {
			if p == http.ErrAbortHandler {
				panic(p)
			}
			s.opts.Log.Error("admin: handler panicked", "path", r.URL.Path, "panic", p)
			writeError(w, http.StatusInternalServerError, fmt.Sprintf("%s: internal error", r.URL.Path))
		}
	}()
	s.mux.ServeHTTP(w, r)
}

// permitted reports whether the caller's source address lies in an
// allowed prefix.
func (s *Service) permitted(r *http.Request) (netip.Addr, bool) {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return netip.Addr{}, false
	}
	from := ap.Addr().Unmap().WithZone("")
	return from, slices.ContainsFunc(s.opts.Allowed(), func(p netip.Prefix) bool { return p.Contains(from) })
}

// refused logs a refused caller, at most once per refusedLogEvery with a
// count of those in between, so that a scan cannot flood the log ring.
func (s *Service) refused(from netip.Addr, r *http.Request) {
	now := s.opts.Clock.Now()
	s.mu.Lock()
	s.refusedN++
	n := s.refusedN
	if !s.refusedLog.IsZero() && now.Sub(s.refusedLog) < refusedLogEvery {
		s.mu.Unlock()
		return
	}
	s.refusedLog, s.refusedN = now, 0
	s.mu.Unlock()
	s.opts.Log.Warn("admin: refused a caller outside the management network", "from", from, "method", r.Method, "path", r.URL.Path, "refused", n)
}

func (s *Service) status(w http.ResponseWriter, r *http.Request) {
	if s.opts.Status == nil {
		notImplemented(w, "status")
		return
	}
	writeJSON(w, http.StatusOK, s.opts.Status())
}

func (s *Service) log(w http.ResponseWriter, r *http.Request) {
	if s.opts.Logs == nil {
		notImplemented(w, "log")
		return
	}
	q, err := ParseLogQuery(r.URL.RawQuery)
	if err != nil {
		writeError(w, http.StatusBadRequest, "/v1/log: "+err.Error())
		return
	}
	var page LogPage
	if q.HasSince {
		page.Entries = s.opts.Logs.Records(q.Since, q.Limit)
		page.Next = q.Since
		page.First, page.Last = s.opts.Logs.Bounds()
		if q.Since > page.Last {
			// Numbers the ring never gave out: the node has restarted
			// since the reader's last page. Start again from the oldest.
			page.Entries = s.opts.Logs.Records(0, q.Limit)
			page.Next = 0
			page.First, page.Last = s.opts.Logs.Bounds()
		}
	} else {
		page.Entries = s.opts.Logs.Tail(q.Limit)
		page.First, page.Last = s.opts.Logs.Bounds()
	}
	if n := len(page.Entries); n > 0 {
		page.Next = page.Entries[n-1].Seq
	} else if !q.HasSince {
		page.Next = page.Last
	}
	if page.Entries == nil {
		page.Entries = []logring.Entry{}
	}
	writeJSON(w, http.StatusOK, page)
}

func (s *Service) drain(drained bool) func(http.ResponseWriter, *http.Request) {
	what := map[bool]string{true: "drain", false: "undrain"}[drained]
	return func(w http.ResponseWriter, r *http.Request) {
		if s.opts.Drain == nil {
			notImplemented(w, what)
			return
		}
		from, _ := s.permitted(r)
		if err := s.opts.Drain(drained); err != nil {
			s.opts.Log.Error("admin: "+what+" failed", "from", from, "err", err)
			writeError(w, http.StatusInternalServerError, what+": "+err.Error())
			return
		}
		s.opts.Log.Warn("admin: "+what+" as asked", "from", from)
		writeJSON(w, http.StatusOK, DrainState{Drained: drained})
	}
}

func (s *Service) rebootNow(w http.ResponseWriter, r *http.Request) {
	if s.opts.Reboot == nil {
		notImplemented(w, "reboot")
		return
	}
	if !s.requestReboot() {
		writeError(w, http.StatusServiceUnavailable, "reboot: the admin API is stopping")
		return
	}
	from, _ := s.permitted(r)
	s.opts.Log.Warn("admin: reboot asked for", "from", from, "in", s.opts.RebootDelay)
	writeJSON(w, http.StatusAccepted, RebootAnswer{RebootIn: s.opts.RebootDelay.String()})
	if f, ok := w.(http.Flusher); ok {
		f.Flush()
	}
}

func notImplemented(w http.ResponseWriter, what string) {
	writeError(w, http.StatusNotImplemented, what+": not available on this node")
}

func writeError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, api.Error{Error: msg})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		code = http.StatusInternalServerError
		b, _ = json.Marshal(api.Error{Error: "encoding the answer: " + err.Error()})
	}
	b = append(b, '\n')
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", fmt.Sprint(len(b)))
	w.WriteHeader(code)
	w.Write(b)
}
