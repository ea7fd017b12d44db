// Package listeners serves one HTTP handler on a set of TCP addresses that
// can change while it runs. The node's three small HTTP services use it:
// the info page on the anycast addresses (services/info), and the metrics
// and admin endpoints on the management tunnel address (services/metrics,
// services/admin). It knows nothing of the info page; it sits under
// services/info only because the three services were written together,
// and could move to services/ as a sibling without change.
//
// Two things make it more than an http.Server:
//
//   - Every address is bound with IP_FREEBIND, so a service can start
//     before its address exists: the anycast addresses go on the loopback
//     and the tunnel address on wg0 some time after the supervisor starts
//     the services, and a listener bound early answers as soon as they do.
//     (Without freebind the bind would fail with EADDRNOTAVAIL and the
//     service would crash-loop until then.)
//   - [Set.Apply] takes a new address list while serving: it binds the
//     added addresses and shuts down the removed ones gracefully, and never
//     touches a listener whose address stayed, so a config change does not
//     drop the connections of an unchanged address.
//
// Management-side services refuse wildcard addresses ([Options.RefuseWildcard]):
// bound to 0.0.0.0 they would answer on the IX side too, which the
// volunteer host is promised never happens.
package listeners

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"
)

// Sentinel errors, for errors.Is.
var (
	// ErrAddress means a listen address is not IP:port.
	ErrAddress = errors.New("not an IP:port listen address")
	// ErrWildcard means a wildcard address was given where only a
	// specific one may be.
	ErrWildcard = errors.New("wildcard listen address refused")
	// ErrRunning means Run was called while the Set was already running.
	ErrRunning = errors.New("already running")
	// ErrNotBound is wrapped by Health for an address that should be
	// served but is not.
	ErrNotBound = errors.New("address not bound")
)

// Defaults for Options.
const (
	DefaultReadHeaderTimeout = 5 * time.Second
	DefaultReadTimeout       = 10 * time.Second
	DefaultWriteTimeout      = 10 * time.Second
	DefaultIdleTimeout       = 60 * time.Second
	DefaultMaxHeaderBytes    = 8 << 10
	DefaultShutdownTimeout   = 2 * time.Second
)

// Options configure a Set. Zero fields take the defaults.
type Options struct {
	// Name prefixes errors and names the service in logs: "info".
	Name    string
	Handler http.Handler
	// Log receives listener changes. Default: discarded.
	Log *slog.Logger
	// RefuseWildcard makes 0.0.0.0 and :: an error.
	RefuseWildcard bool

	// Timeouts and limits of every http.Server.
	ReadHeaderTimeout time.Duration
	ReadTimeout       time.Duration
	WriteTimeout      time.Duration
	IdleTimeout       time.Duration
	MaxHeaderBytes    int
	// MaxConns bounds the open connections per address; 0 is no bound.
	// Beyond it, new connections wait in the kernel's accept queue.
	MaxConns int
	// ShutdownTimeout bounds the graceful shutdown of a removed address
	// and of the whole Set when Run ends; then connections are cut.
	ShutdownTimeout time.Duration
}

func (o Options) withDefaults() Options {
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Handler == nil {
		o.Handler = http.NotFoundHandler()
	}
	if o.ReadHeaderTimeout <= 0 {
		o.ReadHeaderTimeout = DefaultReadHeaderTimeout
	}
	if o.ReadTimeout <= 0 {
		o.ReadTimeout = DefaultReadTimeout
	}
	if o.WriteTimeout <= 0 {
		o.WriteTimeout = DefaultWriteTimeout
	}
	if o.IdleTimeout <= 0 {
		o.IdleTimeout = DefaultIdleTimeout
	}
	if o.MaxHeaderBytes <= 0 {
		o.MaxHeaderBytes = DefaultMaxHeaderBytes
	}
	if o.ShutdownTimeout <= 0 {
		o.ShutdownTimeout = DefaultShutdownTimeout
	}
	return o
}

// Set is an HTTP handler served on a changing set of addresses. The
// addresses are kept whether or not the Set is running: Apply before Run
// says where Run will listen.
type Set struct {
	opts Options

	mu      sync.Mutex
	want    []netip.AddrPort
	bound   map[netip.AddrPort]*binding // by the address asked for (port 0 stays 0)
	failed  map[netip.AddrPort]error    // wanted but not bound, while running
	running bool                        // from Run's start until it returns
	stopped bool                        // Run is shutting down: Apply only records
	fatal   chan error                  // a listener that died; Run returns it
	wg      sync.WaitGroup              // serve and shutdown goroutines of the current run
}

// binding is one address being served.
type binding struct {
	srv  *http.Server
	addr netip.AddrPort // as bound: port 0 resolved
}

// New returns a Set with no addresses.
func New(opts Options) *Set {
	return &Set{opts: opts.withDefaults()}
}

// Parse checks a listen address list: each entry IP:port (a port of 0
// binds any free port), no duplicates and, if refuseWildcard, no
// unspecified address. IPv4-mapped IPv6 addresses are taken as IPv4.
func Parse(addrs []string, refuseWildcard bool) ([]netip.AddrPort, error) {
	out := make([]netip.AddrPort, 0, len(addrs))
	for _, s := range addrs {
		ap, err := netip.ParseAddrPort(strings.TrimSpace(s))
		if err != nil {
			return nil, fmt.Errorf("%q: %w (like 192.0.2.53:80 or [2001:db8::53]:80)", s, ErrAddress)
		}
		ap = netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
		if refuseWildcard && ap.Addr().IsUnspecified() {
			return nil, fmt.Errorf("%q: %w: it would answer on every interface; give the interface's own address", s, ErrWildcard)
		}
		if slices.Contains(out, ap) {
			return nil, fmt.Errorf("%q: listed more than once", s)
		}
		out = append(out, ap)
	}
	return out, nil
}

// Apply makes addrs the addresses to serve. A bad list is refused whole
// and changes nothing. While running, it binds the new addresses, shuts
// the removed ones down gracefully in the background, and leaves the rest
// alone; an address that fails to bind is reported in the error and by
// Health, and the others are served regardless.
func (s *Set) Apply(addrs []string) error {
	want, err := Parse(addrs, s.opts.RefuseWildcard)
	if err != nil {
		return s.errorf("listen: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.want = want
	if !s.running || s.stopped {
		return nil
	}
	return s.syncLocked()
}

// Run serves until ctx is cancelled, then shuts every listener down,
// waiting up to ShutdownTimeout for requests in flight, and returns nil.
// It returns an error at once if an address cannot be bound, and later if
// a listener dies.
func (s *Set) Run(ctx context.Context) error {
	s.mu.Lock()
	if s.running {
		s.mu.Unlock()
		return s.errorf("run: %w", ErrRunning)
	}
	s.running, s.stopped = true, false
	s.bound = make(map[netip.AddrPort]*binding)
	s.failed = make(map[netip.AddrPort]error)
	s.fatal = make(chan error, 1)
	err := s.syncLocked()
	fatal := s.fatal
	s.mu.Unlock()
	if err == nil {
		select {
		case <-ctx.Done():
		case err = <-fatal:
		}
	}
	s.stop()
	return err
}

// Addrs returns the addresses being served, as bound (a port of 0 shows
// the port the kernel chose), in the order they were configured.
func (s *Set) Addrs() []netip.AddrPort {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []netip.AddrPort
	for _, ap := range s.want {
		if b := s.bound[ap]; b != nil {
			out = append(out, b.addr)
		}
	}
	return out
}

// Health reports addresses that should be served but are not, because
// binding them failed at the last Apply. It is nil when not running.
func (s *Set) Health() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var errs []error
	for _, ap := range s.want {
		if err := s.failed[ap]; err != nil {
			errs = append(errs, s.errorf("%s: %w: %w", ap, ErrNotBound, err))
		}
	}
	return errors.Join(errs...)
}

// syncLocked makes the bound set match want.
func (s *Set) syncLocked() error {
	for ap, b := range s.bound {
		if !slices.Contains(s.want, ap) {
			delete(s.bound, ap)
			s.opts.Log.Info("listeners: stop listening", "addr", b.addr)
			s.wg.Go(func() { s.shutdown(b.srv) })
		}
	}
	clear(s.failed)
	var errs []error
	for _, ap := range s.want {
		if s.bound[ap] != nil {
			continue
		}
		b, err := s.bind(ap)
		if err != nil {
			s.failed[ap] = err
			errs = append(errs, err)
			continue
		}
		s.bound[ap] = b
		s.opts.Log.Info("listeners: listening", "addr", b.addr)
	}
	return errors.Join(errs...)
}

// bind listens on ap and starts serving it.
func (s *Set) bind(ap netip.AddrPort) (*binding, error) {
	lc := net.ListenConfig{Control: Freebind}
	ln, err := lc.Listen(context.Background(), "tcp", ap.String())
	if err != nil {
		return nil, s.errorf("%w", err) // names the address: "listen tcp ADDR: bind: ..."
	}
	bound := ap
	if tcp, ok := ln.Addr().(*net.TCPAddr); ok {
		bound = tcp.AddrPort()
		bound = netip.AddrPortFrom(bound.Addr().Unmap(), bound.Port())
	}
	if s.opts.MaxConns > 0 {
		ln = limit(ln, s.opts.MaxConns)
	}
	srv := &http.Server{
		Handler:           s.opts.Handler,
		ReadHeaderTimeout: s.opts.ReadHeaderTimeout,
		ReadTimeout:       s.opts.ReadTimeout,
		WriteTimeout:      s.opts.WriteTimeout,
		IdleTimeout:       s.opts.IdleTimeout,
		MaxHeaderBytes:    s.opts.MaxHeaderBytes,
		// Bad requests from the internet are not worth a log line each.
		ErrorLog: slog.NewLogLogger(s.opts.Log.Handler(), slog.LevelDebug),
	}
	fatal := s.fatal
	s.wg.Go(func() {
		err := srv.Serve(ln)
		if err != nil && !errors.Is(err, http.ErrServerClosed) {
			select {
			case fatal <- s.errorf("serve %s: %w", bound, err):
			default:
			}
		}
	})
	return &binding{srv: srv, addr: bound}, nil
}

// shutdown stops srv gracefully, then by force once ShutdownTimeout has
// passed.
func (s *Set) shutdown(srv *http.Server) {
	ctx, cancel := context.WithTimeout(context.Background(), s.opts.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		srv.Close()
	}
}

// stop ends the run: every listener shuts down, and stop waits for all of
// them and their removed predecessors.
func (s *Set) stop() {
	s.mu.Lock()
	s.stopped = true
	for _, b := range s.bound {
		s.wg.Go(func() { s.shutdown(b.srv) })
	}
	clear(s.bound)
	clear(s.failed)
	s.mu.Unlock()
	s.wg.Wait()
	s.mu.Lock()
	s.running = false
	s.mu.Unlock()
}

func (s *Set) errorf(format string, args ...any) error {
	if s.opts.Name != "" {
		format = s.opts.Name + ": " + format
	}
	return fmt.Errorf(format, args...)
}
