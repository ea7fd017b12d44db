package lab

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// NSD runs NLnet Labs' NSD (Debian package nsd), the server our secondary
// must answer exactly like. It is configured as a lab primary: no chroot,
// no privilege drop, no RRL (rate limiting would turn a corpus run into
// truncated answers), remote control over a Unix socket, so reloads need
// no TLS keys from nsd-control-setup.
var NSD Daemon = nsd{}

type nsd struct{}

func (nsd) Name() string          { return "nsd" }
func (nsd) tools() []Tool         { return []Tool{ToolNSD, ToolNSDControl} }
func (nsd) answersIdentity() bool { return true }

func (nsd) configure(s *Server) ([]string, error) {
	path, err := ToolNSD.Path()
	if err != nil {
		return nil, err
	}
	conf := filepath.Join(s.Dir, "nsd.conf")
	if err := os.WriteFile(conf, []byte(nsdConfig(s)), 0o644); err != nil {
		return nil, fmt.Errorf("lab: configure nsd: %w", err)
	}
	return []string{path, "-d", "-c", conf}, nil
}

func nsdConfig(s *Server) string {
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	p("server:")
	p("  ip-address: 127.0.0.1@%d", s.port)
	if s.opts.IPv6 {
		p("  ip-address: ::1@%d", s.port)
	}
	p("  port: %d", s.port)
	workers := s.opts.Workers
	if workers == 0 {
		workers = 1
	}
	p("  server-count: %d", workers)
	p(`  username: ""`)
	p(`  chroot: ""`)
	p("  zonesdir: %q", s.Dir)
	p(`  database: ""`)
	for _, f := range []string{"zonelistfile: zone.list", "xfrdfile: xfrd.state", "pidfile: nsd.pid", "logfile: nsd.log"} {
		k, v, _ := strings.Cut(f, ": ")
		p("  %s: %q", k, filepath.Join(s.Dir, v))
	}
	p("  xfrdir: %q", s.Dir)
	verbosity := 1
	if s.opts.Quiet {
		verbosity = 0
	}
	p("  verbosity: %d", verbosity)
	p("  identity: %q", s.identity)
	p("  rrl-ratelimit: 0")
	p("  rrl-whitelist-ratelimit: 0")
	p("remote-control:")
	p("  control-enable: yes")
	p("  control-interface: %q", filepath.Join(s.Dir, "nsd.ctl"))
	key := "NOKEY"
	if t := s.opts.TSIG; t != nil {
		key = t.Name
		p("key:")
		p("  name: %q", t.Name)
		p("  algorithm: %s", t.Algorithm)
		p("  secret: %q", t.Secret)
	}
	for _, z := range s.opts.Zones {
		p("zone:")
		p("  name: %q", canonical(z.Name))
		p("  zonefile: %q", s.zones[canonical(z.Name)])
		if s.opts.XFR {
			p("  provide-xfr: 127.0.0.1 %s", key)
			p("  provide-xfr: ::1 %s", key)
			// IXFR from zone file differences (NSD 4.6 and later).
			p("  store-ixfr: yes")
			p("  create-ixfr: yes")
		}
		for _, n := range s.opts.Notify {
			p("  notify: %s %s", atPort(n), key)
		}
	}
	return b.String()
}

func (nsd) reload(ctx context.Context, s *Server, zone string) error {
	path, err := ToolNSDControl.Path()
	if err != nil {
		return err
	}
	args := []string{"-c", filepath.Join(s.Dir, "nsd.conf"), "reload"}
	if zone != "" {
		args = append(args, zone)
	}
	out, err := exec.CommandContext(ctx, path, args...).CombinedOutput()
	if err != nil || !strings.HasPrefix(string(out), "ok") {
		return fmt.Errorf("nsd-control %s: %v: %s", strings.Join(args[2:], " "), err, out)
	}
	return nil
}
