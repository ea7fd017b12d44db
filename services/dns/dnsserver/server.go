// Package dnsserver is the network front of the node's DNS service: it
// listens on UDP and TCP, parses queries, adds what depends on the
// transport (EDNS, NSID, truncation, rate limiting, CHAOS identity) and asks
// a Backend (the zone store, package authdns) for the answer itself.
//
// Most queries take a fast path: the query is parsed in place without
// allocating, and the complete response is served from a cache keyed by the
// exact question bytes and the EDNS parameters that shape the response; only
// the ID and the RD and CD bits are patched in. The cache is dropped whenever
// the backend's generation changes, that is on any zone change, so it never
// serves stale data. Everything else, and every cache miss, takes the slow
// path through miekg/dns.
package dnsserver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"

	"github.com/goleudy/goleudy/services/listeners"
)

// Backend answers queries from zone data.
type Backend interface {
	// Answer returns the response to req, without OPT record and without
	// truncation, or nil to drop it.
	Answer(req *dns.Msg, ipv6 bool) *dns.Msg
	// Generation changes whenever any answer may change.
	Generation() uint64
}

// Transfers handles what is not a query: NOTIFY, AXFR and IXFR. It gets
// the raw message too, because TSIG is computed over the wire bytes.
type Transfers interface {
	// Notify answers a NOTIFY; a nil result drops it.
	Notify(wire []byte, req *dns.Msg, src netip.AddrPort) []byte
	// Transfer streams a zone transfer over TCP, calling send for each
	// response message. An error ends the connection.
	Transfer(wire []byte, req *dns.Msg, src netip.AddrPort, send func([]byte) error) error
}

// Options configure a Server. Identity, NSID, Version and RRL may change at
// run time through SetOptions.
type Options struct {
	Listen   []string // host:port, each served over UDP and TCP
	Identity string   // CHAOS TXT id.server and hostname.bind
	NSID     string   // EDNS NSID (RFC 5001); empty sends none
	Version  string   // CHAOS TXT version.bind; empty refuses the query
	UDPSize  uint16   // largest UDP response and advertised EDNS size; default 1232
	RRL      RRLOptions
}

// Defaults.
const (
	DefaultUDPSize    = 1232
	tcpIdleTimeout    = 10 * time.Second
	tcpMaxConnections = 1024
)

// Server serves DNS on its listen addresses until its Run context ends.
type Server struct {
	backend   Backend
	transfers Transfers
	log       *slog.Logger

	opts  atomic.Pointer[Options]
	rrl   atomic.Pointer[rrl]
	cache *cache
	Stats Stats

	mu    sync.Mutex
	bound []string // addresses actually bound, for tests using port 0
}

// New returns a server for opts. transfers may be nil: NOTIFY and transfers
// are then refused.
func New(opts Options, backend Backend, transfers Transfers, log *slog.Logger) *Server {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Server{backend: backend, transfers: transfers, log: log, cache: newCache()}
	s.SetOptions(opts)
	return s
}

// SetOptions changes identity, NSID, version and RRL at once; listen
// addresses are read only by Run.
func (s *Server) SetOptions(o Options) {
	if o.UDPSize == 0 {
		o.UDPSize = DefaultUDPSize
	}
	o.UDPSize = max(o.UDPSize, dns.MinMsgSize)
	s.opts.Store(&o)
	s.rrl.Store(newRRL(o.RRL))
	s.cache.flush() // cached responses carry NSID and sizes
}

// Addrs returns the bound addresses once Run has bound them.
func (s *Server) Addrs() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.bound...)
}

// Run binds every listen address, serves until ctx is done, then closes the
// sockets and waits for its goroutines. Failing to bind any address is an
// error naming it.
func (s *Server) Run(ctx context.Context) error {
	o := s.opts.Load()
	var udps []*net.UDPConn
	var tcps []*net.TCPListener
	closeAll := func() {
		for _, c := range udps {
			c.Close()
		}
		for _, l := range tcps {
			l.Close()
		}
	}
	var bound []string
	for _, addr := range o.Listen {
		u, t, err := listen(ctx, addr)
		if err != nil {
			closeAll()
			return err
		}
		udps, tcps = append(udps, u), append(tcps, t)
		bound = append(bound, u.LocalAddr().String())
	}
	s.mu.Lock()
	s.bound = bound
	s.mu.Unlock()
	s.log.Info("dns: serving", "listen", bound)

	var wg sync.WaitGroup
	readers := runtime.GOMAXPROCS(0) // one per CPU the process may use; each owns its batch buffers
	for _, c := range udps {
		for range readers {
			wg.Go(func() { s.serveUDP(c) })
		}
	}
	conns := newConnSet(tcpMaxConnections)
	for _, l := range tcps {
		wg.Go(func() { s.serveTCP(l, conns) })
	}
	<-ctx.Done()
	closeAll()
	conns.closeAll()
	wg.Wait()
	return nil
}

// listen binds addr over UDP and TCP. With port 0, TCP takes the port UDP
// got; if another socket holds that TCP port, it tries another.
func listen(ctx context.Context, addr string) (*net.UDPConn, *net.TCPListener, error) {
	lc := net.ListenConfig{Control: listeners.Freebind}
	_, port, _ := net.SplitHostPort(addr)
	for try := 1; ; try++ {
		pc, err := lc.ListenPacket(ctx, "udp", addr)
		if err != nil {
			return nil, nil, fmt.Errorf("dns: listen udp %s: %w", addr, err)
		}
		l, err := lc.Listen(ctx, "tcp", pc.LocalAddr().String())
		if err == nil {
			return pc.(*net.UDPConn), l.(*net.TCPListener), nil
		}
		pc.Close()
		if port != "0" || try == 20 {
			return nil, nil, fmt.Errorf("dns: listen tcp %s: %w", addr, err)
		}
	}
}

// isClosed reports whether err comes from using a socket after Close.
func isClosed(err error) bool { return errors.Is(err, net.ErrClosed) }
