package admin

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/goleudy/goleudy/services/clock"
	"github.com/goleudy/goleudy/services/listeners"
	"github.com/goleudy/goleudy/services/logring"
)

// DefaultRebootDelay is how long POST /v1/reboot waits after answering.
const DefaultRebootDelay = time.Second

// Options configure a Service. Allowed is required; a nil callback turns
// its endpoint into a 501.
type Options struct {
	// Listen is management.admin_listen, IP:port on the tunnel address.
	// Empty means no listener until Apply gives one.
	Listen string
	// Allowed returns the prefixes whose addresses may call: the
	// tunnel's allowed IPs. It is asked at every request, so it follows
	// config changes. An empty answer refuses everyone.
	Allowed func() []netip.Prefix
	// Log receives listener changes, refused callers and the actions
	// taken. Default: discarded.
	Log *slog.Logger
	// Clock times the reboot delay and the refusal log's rate limit.
	// Default clock.Real().
	Clock clock.Clock

	// Status returns the status document for GET /v1/status, usually
	// the current api.Heartbeat.
	Status func() any
	// Logs is the log ring GET /v1/log reads.
	Logs *logring.Ring
	// Drain drains (true) or undrains (false) the node.
	Drain func(drained bool) error
	// Reboot reboots the node. It is called from the service's own
	// goroutine RebootDelay after the 202 went out, and not at all if Run
	// ends first.
	Reboot func() error
	// RebootDelay defaults to DefaultRebootDelay.
	RebootDelay time.Duration
}

// Service is the admin API, run by the supervisor as "admin".
type Service struct {
	opts Options
	set  *listeners.Set
	csrf *http.CrossOriginProtection
	mux  *http.ServeMux

	mu         sync.Mutex
	reboot     chan struct{} // non-nil while Run runs; takes one request
	refusedLog time.Time     // when a refused caller was last logged
	refusedN   int           // refusals not logged since
}

// New returns the admin API. It fails without Allowed, or with a listen
// address that is not IP:port or is a wildcard.
func New(opts Options) (*Service, error) {
	if opts.Allowed == nil {
		return nil, errors.New("admin: no Allowed prefixes func: refusing to serve without knowing who may call")
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	if opts.Clock == nil {
		opts.Clock = clock.Real()
	}
	if opts.RebootDelay <= 0 {
		opts.RebootDelay = DefaultRebootDelay
	}
	s := &Service{opts: opts, csrf: http.NewCrossOriginProtection()}
	s.mux = s.routes()
	s.set = listeners.New(listeners.Options{
		Name:           "admin",
		Handler:        s,
		Log:            opts.Log,
		RefuseWildcard: true,
		// Drain may wait for BGP; the rest is quick.
		WriteTimeout: 30 * time.Second,
	})
	if err := s.Apply(opts.Listen); err != nil {
		return nil, err
	}
	return s, nil
}

// Name is the supervisor's name for the service.
func (s *Service) Name() string { return "admin" }

// Apply moves the API to listen, management.admin_listen of a new config.
// An unchanged address keeps its connections; a bad one changes nothing.
func (s *Service) Apply(listen string) error {
	var addrs []string
	if listen = strings.TrimSpace(listen); listen != "" {
		addrs = []string{listen}
	}
	return s.set.Apply(addrs)
}

// Health reports a listen address that could not be bound.
func (s *Service) Health() error { return s.set.Health() }

// Addrs returns the address being served, as bound.
func (s *Service) Addrs() []netip.AddrPort { return s.set.Addrs() }

// Run serves the API until ctx is cancelled. A reboot that is still
// waiting for its delay then is abandoned.
func (s *Service) Run(ctx context.Context) error {
	reboot := make(chan struct{}, 1)
	s.mu.Lock()
	s.reboot = reboot
	s.mu.Unlock()

	rctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { s.rebooter(rctx, reboot) })
	err := s.set.Run(ctx)
	cancel()
	wg.Wait()

	s.mu.Lock()
	s.reboot = nil
	s.mu.Unlock()
	return err
}

// rebooter waits for a reboot request, then for the delay, then reboots.
func (s *Service) rebooter(ctx context.Context, reboot chan struct{}) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-reboot:
		}
		t := s.opts.Clock.NewTimer(s.opts.RebootDelay)
		select {
		case <-ctx.Done():
			t.Stop()
			s.opts.Log.Warn("admin: reboot abandoned: the admin API is stopping")
			return
		case <-t.C():
		}
		s.opts.Log.Warn("admin: rebooting as asked")
		if err := s.opts.Reboot(); err != nil {
			s.opts.Log.Error("admin: reboot failed", "err", err)
		}
		// A reboot that failed may be asked for again; one that worked
		// ends this process before it matters.
		select {
		case <-reboot:
		default:
		}
	}
}

// requestReboot schedules a reboot; it reports false if the service is
// not running. A second request while one waits joins it.
func (s *Service) requestReboot() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.reboot == nil {
		return false
	}
	select {
	case s.reboot <- struct{}{}:
	default:
	}
	return true
}
