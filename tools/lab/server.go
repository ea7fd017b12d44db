package lab

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// Options says what a lab server serves and how.
type Options struct {
	Zones []Zone
	// IPv6 also listens on [::1] at the same port.
	IPv6 bool
	// XFR lets 127.0.0.1 and ::1 transfer every zone by AXFR and IXFR, so
	// the server can act as the primary for a secondary under test. IXFR
	// is computed from the differences between successive zone files.
	XFR bool
	// TSIG, when set, is required for transfers and signs NOTIFYs.
	TSIG *TSIG
	// Notify lists host:port addresses sent a NOTIFY when a zone changes.
	Notify []string
	// Workers is the number of server processes (NSD) or threads per
	// kind (Knot); 0 keeps the server's default.
	Workers int
	// Prefix goes before the server's command line, e.g.
	// []string{"taskset", "-c", "0"} to pin it to a core.
	Prefix []string
	// Quiet logs warnings only, so logging does not weigh on benchmarks.
	Quiet bool
	// StartTimeout bounds the wait for every zone to answer; 0 means 30s.
	StartTimeout time.Duration
}

// TSIG is a transaction signature key as both NSD and Knot configure it.
type TSIG struct {
	Name      string // key name, e.g. "hub."
	Algorithm string // e.g. "hmac-sha256"
	Secret    string // base64
}

// Server is a running lab server.
type Server struct {
	Kind  string // "nsd", "knot", or a command's name
	Addr  string // "127.0.0.1:port" for UDP and TCP
	Addr6 string // "[::1]:port" when Options.IPv6, else empty
	Dir   string // the server's own directory, removed by Stop
	// Started is when the process was started, Ready when every zone
	// first answered with its SOA: Ready-Started is the load time.
	Started, Ready time.Time

	daemon   Daemon
	opts     Options
	port     int
	identity string
	zones    map[string]string // canonical origin → zone file in ZonesDir
	serials  map[string]uint32 // canonical origin → SOA serial of its text
	proc     *process
	stopOnce sync.Once
	stopErr  error
}

// Daemon is a kind of authoritative server the lab can run.
type Daemon interface {
	// Name names the daemon in logs and tables.
	Name() string
	tools() []Tool
	// configure writes the daemon's configuration into s.Dir and returns
	// the command line that runs it in the foreground.
	configure(s *Server) ([]string, error)
	// reload makes the running server re-read its zone files; zone ""
	// means all of them.
	reload(ctx context.Context, s *Server, zone string) error
	// answersIdentity says whether CH TXT id.server answers s.identity,
	// which proves that our process, not a stranger, owns the port.
	answersIdentity() bool
}

// StartNSD starts NSD serving opts.Zones and stops it when the test ends.
func StartNSD(tb testing.TB, opts Options) *Server { return StartTB(tb, NSD, opts) }

// StartKnot starts Knot serving opts.Zones and stops it when the test ends.
func StartKnot(tb testing.TB, opts Options) *Server { return StartTB(tb, Knot, opts) }

// StartTB starts d and stops it when the test ends, failing the test if it
// does not start or leaves processes behind.
func StartTB(tb testing.TB, d Daemon, opts Options) *Server {
	tb.Helper()
	Require(tb, d.tools()...)
	s, err := Start(context.Background(), d, opts)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if tb.Failed() {
			tb.Logf("%s log (tail):\n%s", s.Kind, s.LogTail(4000))
		}
		if err := s.Stop(); err != nil {
			tb.Error(err)
		}
	})
	return s
}

// Start starts d serving opts.Zones on a free loopback port and returns
// once every zone answers its SOA over UDP and TCP. The caller must Stop
// it. A port taken between choosing and binding it is retried.
func Start(ctx context.Context, d Daemon, opts Options) (*Server, error) {
	for _, t := range d.tools() {
		if _, err := t.Path(); err != nil {
			return nil, err
		}
	}
	dir, err := os.MkdirTemp("", "lab-"+d.Name()+"-")
	if err != nil {
		return nil, fmt.Errorf("lab: start %s: %w", d.Name(), err)
	}
	s := &Server{Kind: d.Name(), Dir: dir, daemon: d, opts: opts,
		identity: "lab-" + d.Name() + "-" + filepath.Base(dir),
		zones:    map[string]string{}, serials: map[string]uint32{}}
	if err := s.writeZones(); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	const attempts = 5
	for attempt := 1; ; attempt++ {
		err = s.launch(ctx)
		if err == nil {
			return s, nil
		}
		tail := s.LogTail(2000)
		if s.proc != nil {
			s.proc.stop(2 * time.Second)
		}
		if attempt == attempts || !bindClash(tail) {
			os.RemoveAll(dir)
			return nil, fmt.Errorf("lab: start %s: %w\n%s", d.Name(), err, tail)
		}
		s.proc = nil
		os.Remove(s.outPath())
		os.Remove(filepath.Join(dir, d.Name()+".log"))
	}
}

// writeZones copies every zone into ZonesDir and notes the serial each
// must answer with, before the process starts, so that the load time
// measures the server alone.
func (s *Server) writeZones() error {
	if err := os.Mkdir(s.ZonesDir(), 0o755); err != nil {
		return fmt.Errorf("lab: start %s: %w", s.Kind, err)
	}
	for _, z := range s.opts.Zones {
		name := canonical(z.Name)
		if _, dup := s.zones[name]; dup {
			return fmt.Errorf("lab: start %s: zone %s given twice", s.Kind, name)
		}
		soa, err := z.soa()
		if err != nil {
			return err
		}
		path, err := z.write(s.ZonesDir())
		if err != nil {
			return err
		}
		s.zones[name], s.serials[name] = path, soa.Serial
	}
	return nil
}

// launch picks a port, starts the process and waits for it to serve.
func (s *Server) launch(ctx context.Context) error {
	port, err := pickPort(s.opts.IPv6)
	if err != nil {
		return err
	}
	s.port = port
	s.Addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	s.Addr6 = ""
	if s.opts.IPv6 {
		s.Addr6 = net.JoinHostPort("::1", strconv.Itoa(port))
	}
	argv, err := s.daemon.configure(s)
	if err != nil {
		return err
	}
	argv = append(append([]string(nil), s.opts.Prefix...), argv...)
	s.Started = time.Now()
	s.proc, err = startProcess(argv, s.Dir, s.outPath())
	if err != nil {
		return err
	}
	return s.waitReady(ctx)
}

// bindClash says whether a failed start's log shows the port was taken.
func bindClash(log string) bool {
	l := strings.ToLower(log)
	return strings.Contains(l, "already in use") || strings.Contains(l, "can't bind") ||
		strings.Contains(l, "cannot bind")
}

// Port is the port the server listens on, on every address.
func (s *Server) Port() int { return s.port }

// PID is the process id of the server's process-group leader. NSD forks
// more processes under it; measure the whole tree.
func (s *Server) PID() int { return s.proc.pid() }

// ZonesDir holds the server's copies of its zone files.
func (s *Server) ZonesDir() string { return filepath.Join(s.Dir, "zones") }

// ZoneFile is the path of the server's copy of zone name.
func (s *Server) ZoneFile(name string) string { return s.zones[canonical(name)] }

func (s *Server) outPath() string { return filepath.Join(s.Dir, "output.log") }

// Stop stops the server and every process it forked, then removes its
// directory. It reports processes that survived. It is idempotent.
func (s *Server) Stop() error {
	s.stopOnce.Do(func() {
		if s.proc != nil {
			s.stopErr = s.proc.stop(5 * time.Second)
		}
		if err := os.RemoveAll(s.Dir); err != nil && s.stopErr == nil {
			s.stopErr = fmt.Errorf("lab: stop %s: %w", s.Kind, err)
		}
	})
	return s.stopErr
}

// UpdateZone replaces zone name's text, makes the server reload it and
// waits until it serves the new text's SOA serial. Bump the serial: that is
// how the servers, and secondaries asking for IXFR, see the change.
func (s *Server) UpdateZone(name, text string) error {
	path, ok := s.zones[canonical(name)]
	if !ok {
		return fmt.Errorf("lab: update %s on %s: not served", name, s.Kind)
	}
	soa, err := Zone{Name: name, Text: text}.soa()
	if err != nil {
		return err
	}
	if err := replaceFile(path, text); err != nil {
		return fmt.Errorf("lab: update %s on %s: %w", name, s.Kind, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.daemon.reload(ctx, s, canonical(name)); err != nil {
		return fmt.Errorf("lab: update %s on %s: %w", name, s.Kind, err)
	}
	if err := s.waitSerials(ctx, map[string]uint32{canonical(name): soa.Serial}); err != nil {
		return fmt.Errorf("lab: update %s on %s: %w\n%s", name, s.Kind, err, s.LogTail(2000))
	}
	return nil
}

// Reload makes the server re-read every zone file that changed, for
// callers that edit ZoneFile themselves.
func (s *Server) Reload() error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.daemon.reload(ctx, s, ""); err != nil {
		return fmt.Errorf("lab: reload %s: %w", s.Kind, err)
	}
	return nil
}

// replaceFile swaps in new content atomically with a modification time
// later than the old file's, because NSD reloads only files whose mtime
// changed, and two writes can land within one timestamp tick.
func replaceFile(path, text string) error {
	mtime := time.Now()
	if st, err := os.Stat(path); err == nil && !mtime.After(st.ModTime()) {
		mtime = st.ModTime().Add(time.Second)
	}
	tmp := path + ".new"
	if err := os.WriteFile(tmp, []byte(text), 0o644); err != nil {
		return err
	}
	if err := os.Chtimes(tmp, mtime, mtime); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// LogTail returns up to n bytes from the end of the server's logs.
func (s *Server) LogTail(n int) string {
	var b strings.Builder
	for _, name := range []string{"output.log", s.Kind + ".log"} {
		data, err := os.ReadFile(filepath.Join(s.Dir, name))
		if err != nil || len(data) == 0 {
			continue
		}
		if len(data) > n {
			data = data[len(data)-n:]
		}
		fmt.Fprintf(&b, "--- %s\n%s", name, data)
	}
	return b.String()
}

// atPort turns host:port into the host@port both NSD and Knot expect.
func atPort(hostport string) string {
	host, port, err := net.SplitHostPort(hostport)
	if err != nil {
		return hostport
	}
	return host + "@" + port
}

// canonical is the lower-case, fully qualified form of a zone name.
func canonical(name string) string { return dns.CanonicalName(name) }
