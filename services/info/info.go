// Package info is the node's small public HTTP page: GET / on an anycast
// address answers with a JSON document naming the node that answered,
// where it is, and the addresses of the connection as the node sees them.
//
// Anycast hides which node a client reaches; this page shows it. The idea
// comes from the "anycast on a shoestring" network, whose nodes each served
// a JSON page from lighttpd (local.esgob.com) so that anyone debugging a
// resolution could ask "which node am I hitting, and from which address
// does it see me?" with curl. Here it is a supervised goroutine of
// goleudy-node listening on config info.listen, normally the anycast
// addresses on port 80:
//
//	$ curl http://192.0.2.53/
//	{
//	  "node": "alban",
//	  "fqdn": "alban.nodes.example.net",
//	  "display": "Scotland, Edinburgh",
//	  "city": "Edinburgh",
//	  "country": "Scotland",
//	  "countryiso": "gb",
//	  "lat": 55.93,
//	  "lng": -3.29,
//	  "version": "v1.2.0",
//	  "server": "192.0.2.53:80",
//	  "client": "203.0.113.9:51234"
//	}
//
// It faces the internet on the IX side, which the volunteer host is told
// carries nothing but DNS, BGP and this page, so it does as little as it
// can: one path, GET and HEAD only (405 otherwise, 404 for other paths),
// tight read and write timeouts, a small header limit and a bound on open
// connections. The document says only what the operator already publishes.
// Answers carry Cache-Control: no-store, because a cached answer would
// name the node a cache reached, not the one the client reaches now.
//
// The listeners are bound with IP_FREEBIND, so the service starts before
// the anycast addresses are on the loopback, and [Service.Apply] changes
// addresses and location live, leaving unchanged listeners alone.
package info

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"sync/atomic"
	"time"

	"github.com/goleudy/goleudy/provision/config"
	"github.com/goleudy/goleudy/services/listeners"
)

// Document is the body of GET /.
type Document struct {
	Node       string  `json:"node"`
	FQDN       string  `json:"fqdn"`
	Display    string  `json:"display"`
	City       string  `json:"city"`
	Country    string  `json:"country"`
	CountryISO string  `json:"countryiso"`
	Lat        float64 `json:"lat"`
	Lng        float64 `json:"lng"`
	Version    string  `json:"version,omitempty"`
	// Server is the address the request came in on: which anycast
	// address, and which address family, reached this node.
	Server string `json:"server"`
	// Client is the client's address as the node sees it, after any NAT.
	Client string `json:"client"`
}

// Options configure a Service.
type Options struct {
	// Log receives listener changes. Default: discarded.
	Log *slog.Logger
	// Version, if set, names the running firmware in the document.
	Version func() string
}

// limits are the HTTP limits of the page. Tests shorten them.
type limits struct {
	readHeader, read, write, idle, shutdown time.Duration
	maxHeaderBytes, maxConns                int
}

var defaultLimits = limits{
	readHeader:     2 * time.Second,
	read:           3 * time.Second,
	write:          3 * time.Second,
	idle:           15 * time.Second,
	shutdown:       time.Second,
	maxHeaderBytes: 4 << 10,
	maxConns:       64,
}

// Service is the info page, run by the supervisor as "info".
type Service struct {
	opts Options
	set  *listeners.Set
	doc  atomic.Pointer[Document] // the node's part; addresses are per request
}

// New returns the info service for cfg; it listens once Run is called. An
// empty info.listen is valid: the service then serves nothing until Apply
// gives it addresses.
func New(cfg *config.Config, opts Options) (*Service, error) {
	return newService(cfg, opts, defaultLimits)
}

func newService(cfg *config.Config, opts Options, l limits) (*Service, error) {
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	s := &Service{opts: opts}
	s.set = listeners.New(listeners.Options{
		Name:              "info",
		Handler:           s,
		Log:               opts.Log,
		ReadHeaderTimeout: l.readHeader,
		ReadTimeout:       l.read,
		WriteTimeout:      l.write,
		IdleTimeout:       l.idle,
		ShutdownTimeout:   l.shutdown,
		MaxHeaderBytes:    l.maxHeaderBytes,
		MaxConns:          l.maxConns,
	})
	if err := s.Apply(cfg); err != nil {
		return nil, err
	}
	return s, nil
}

// Name is the supervisor's name for the service.
func (s *Service) Name() string { return "info" }

// Run serves the page until ctx is cancelled.
func (s *Service) Run(ctx context.Context) error { return s.set.Run(ctx) }

// Health reports info.listen addresses that could not be bound.
func (s *Service) Health() error { return s.set.Health() }

// Addrs returns the addresses being served, as bound.
func (s *Service) Addrs() []netip.AddrPort { return s.set.Addrs() }

// Apply takes a new config: the location shows in the next answer, new
// listen addresses are bound and removed ones closed, and unchanged ones
// keep their connections. A config with a bad info.listen changes nothing.
func (s *Service) Apply(cfg *config.Config) error {
	if cfg == nil {
		return errors.New("info: apply: no config")
	}
	if _, err := listeners.Parse(cfg.Info.Listen, false); err != nil {
		return fmt.Errorf("info: info.listen: %w", err)
	}
	loc := cfg.Node.Location
	s.doc.Store(&Document{
		Node: cfg.Node.ID, FQDN: cfg.Node.FQDN,
		Display: loc.Display, City: loc.City, Country: loc.Country, CountryISO: loc.CountryISO,
		Lat: loc.Lat, Lng: loc.Lng,
	})
	return s.set.Apply(cfg.Info.Listen)
}

// ServeHTTP answers GET / and HEAD /.
func (s *Service) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	// The document is public; let a web page ask "which node do you reach?".
	h.Set("Access-Control-Allow-Origin", "*")
	switch {
	case r.URL.Path != "/":
		writeError(w, http.StatusNotFound, "not found; the info page is at /")
		return
	case r.Method != http.MethodGet && r.Method != http.MethodHead:
		h.Set("Allow", "GET, HEAD")
		writeError(w, http.StatusMethodNotAllowed, "method "+r.Method+" not allowed; use GET")
		return
	}
	doc := *s.doc.Load()
	if s.opts.Version != nil {
		doc.Version = s.opts.Version()
	}
	if a, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr); ok {
		doc.Server = unmapped(a.String())
	}
	doc.Client = unmapped(r.RemoteAddr)
	writeJSON(w, http.StatusOK, doc)
}

// unmapped shows an IPv4 peer of a dual-stack socket as IPv4.
func unmapped(addr string) string {
	ap, err := netip.ParseAddrPort(addr)
	if err != nil {
		return addr
	}
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()).String()
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		code, b = http.StatusInternalServerError, []byte(`{"error": "encoding failed"}`)
	}
	b = append(b, '\n')
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", fmt.Sprint(len(b)))
	w.WriteHeader(code)
	w.Write(b)
}

func writeError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, struct {
		Error string `json:"error"`
	}{msg})
}
