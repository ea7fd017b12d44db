// Package metrics exports the node's numbers in the Prometheus text
// exposition format (version 0.0.4) at GET /metrics, on the management
// tunnel address only.
//
// The operator's Prometheus scrapes every node through the WireGuard hub:
//
//	services ──Counter.Inc / Gauge.Set──▶ Registry ◀──Collector funcs (at scrape)
//	                                         │
//	                             GET /metrics on 10.53.0.7:9100 ◀── Prometheus (via the tunnel)
//
// The format is small enough to write by hand, which keeps the Prometheus
// client module and its dependencies out of the node binary. A [Registry] holds counters and gauges with
// labels that code updates as things happen, and [Collector] funcs that
// report what is cheaper to read when asked (zone serials, BGP session
// states). The output is canonical: families sorted by name, HELP and
// TYPE lines for each, labels sorted, label values and help escaped, so
// two scrapes of an idle node are byte for byte the same.
//
// The service listens only on the addresses [Options.Listen] returns,
// which the integrator derives from the tunnel address. A wildcard
// address is refused: the volunteer host is promised that nothing but
// DNS, BGP and the info page listens on the IX side, and 0.0.0.0 would
// put the metrics there too.
package metrics

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/netip"
	"sync"

	"github.com/goleudy/goleudy/services/listeners"
)

// Options configure a Service.
type Options struct {
	// Listen returns the addresses to serve on, IP:port, such as the
	// tunnel address with port 9100. It is called by New, at every Run
	// and at every Apply. Nil or empty means serve nowhere for now.
	Listen func() []string
	// Log receives listener changes and collection problems. Default:
	// discarded.
	Log *slog.Logger
	// Registry is what the service exports. Default: a new one, with the
	// Go runtime collector registered.
	Registry *Registry
}

// Service is the metrics endpoint, run by the supervisor as "metrics".
type Service struct {
	opts Options
	set  *listeners.Set

	mu          sync.Mutex
	lastProblem string // the collection problems last logged
}

// New returns the service. It fails if Listen returns an address that is
// not IP:port or is a wildcard.
func New(opts Options) (*Service, error) {
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	if opts.Listen == nil {
		opts.Listen = func() []string { return nil }
	}
	if opts.Registry == nil {
		opts.Registry = NewRegistry()
		opts.Registry.Register(RuntimeCollector())
	}
	s := &Service{opts: opts}
	s.set = listeners.New(listeners.Options{
		Name:           "metrics",
		Handler:        s,
		Log:            opts.Log,
		RefuseWildcard: true,
	})
	if err := s.Apply(); err != nil {
		return nil, err
	}
	return s, nil
}

// Registry returns the registry the service exports.
func (s *Service) Registry() *Registry { return s.opts.Registry }

// Name is the supervisor's name for the service.
func (s *Service) Name() string { return "metrics" }

// Run serves /metrics until ctx is cancelled.
func (s *Service) Run(ctx context.Context) error {
	if err := s.Apply(); err != nil {
		return err
	}
	return s.set.Run(ctx)
}

// Apply asks Listen again and moves the listeners to its answer: new
// addresses are bound, gone ones closed, unchanged ones kept. A bad
// answer changes nothing.
func (s *Service) Apply() error { return s.set.Apply(s.opts.Listen()) }

// Health reports listen addresses that could not be bound.
func (s *Service) Health() error { return s.set.Health() }

// Addrs returns the addresses being served, as bound.
func (s *Service) Addrs() []netip.AddrPort { return s.set.Addrs() }

// ServeHTTP answers GET /metrics and HEAD /metrics.
func (s *Service) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.URL.Path != "/metrics":
		http.Error(w, "not found; metrics are at /metrics", http.StatusNotFound)
		return
	case r.Method != http.MethodGet && r.Method != http.MethodHead:
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method "+r.Method+" not allowed; use GET", http.StatusMethodNotAllowed)
		return
	}
	fams, problems := s.opts.Registry.Gather()
	s.logProblems(problems)
	var buf bytes.Buffer
	if err := Encode(&buf, fams); err != nil {
		http.Error(w, "encoding failed", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", ContentType)
	w.Header().Set("Cache-Control", "no-store")
	w.Write(buf.Bytes())
}

// logProblems logs collection problems when they change, not at every
// scrape, so a broken collector costs one log line rather than one every
// scrape interval.
func (s *Service) logProblems(err error) {
	text := ""
	if err != nil {
		text = err.Error()
	}
	s.mu.Lock()
	changed := text != s.lastProblem
	s.lastProblem = text
	s.mu.Unlock()
	switch {
	case changed && err != nil:
		s.opts.Log.Warn("metrics: some metrics left out", "err", err, "problems", len(unjoin(err)))
	case changed:
		s.opts.Log.Info("metrics: all metrics collected again")
	}
}

func unjoin(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}
