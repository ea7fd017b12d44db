package lab

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// Knot runs CZ.NIC's Knot DNS (Debian package knot), a second reference:
// where NSD and Knot disagree, the behaviour is an implementation choice.
// As a primary it computes IXFR from zone file differences
// (zonefile-load: difference) and never writes back to the zone files.
var Knot Daemon = knot{}

type knot struct{}

func (knot) Name() string          { return "knot" }
func (knot) tools() []Tool         { return []Tool{ToolKnotd, ToolKnotc} }
func (knot) answersIdentity() bool { return true }

func (knot) configure(s *Server) ([]string, error) {
	path, err := ToolKnotd.Path()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Join(s.Dir, "db"), 0o755); err != nil {
		return nil, fmt.Errorf("lab: configure knot: %w", err)
	}
	conf := filepath.Join(s.Dir, "knot.conf")
	if err := os.WriteFile(conf, []byte(knotConfig(s)), 0o644); err != nil {
		return nil, fmt.Errorf("lab: configure knot: %w", err)
	}
	return []string{path, "-c", conf}, nil
}

func knotConfig(s *Server) string {
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	p("server:")
	p("    rundir: %q", s.Dir)
	p("    pidfile: %q", filepath.Join(s.Dir, "knot.pid"))
	p("    identity: %q", s.identity)
	listen := fmt.Sprintf("127.0.0.1@%d", s.port)
	if s.opts.IPv6 {
		listen += fmt.Sprintf(", ::1@%d", s.port)
	}
	p("    listen: [ %s ]", listen)
	if w := s.opts.Workers; w > 0 {
		p("    udp-workers: %d", w)
		p("    tcp-workers: %d", w)
		p("    background-workers: %d", w)
	}
	p("control:")
	p("    listen: %q", filepath.Join(s.Dir, "knot.sock"))
	level := "info"
	if s.opts.Quiet {
		level = "warning"
	}
	p("log:")
	p("  - target: %q", filepath.Join(s.Dir, "knot.log"))
	p("    any: %s", level)
	p("database:")
	p("    storage: %q", filepath.Join(s.Dir, "db"))
	if t := s.opts.TSIG; t != nil {
		p("key:")
		p("  - id: %s", t.Name)
		p("    algorithm: %s", t.Algorithm)
		p("    secret: %s", t.Secret)
	}
	var notify []string
	if len(s.opts.Notify) > 0 {
		p("remote:")
		for i, n := range s.opts.Notify {
			id := fmt.Sprintf("notify%d", i)
			notify = append(notify, id)
			p("  - id: %s", id)
			p("    address: %s", atPort(n))
			if s.opts.TSIG != nil {
				p("    key: %s", s.opts.TSIG.Name)
			}
		}
	}
	if s.opts.XFR {
		p("acl:")
		p("  - id: xfr")
		p("    address: [ 127.0.0.1, ::1 ]")
		p("    action: transfer")
		if s.opts.TSIG != nil {
			p("    key: %s", s.opts.TSIG.Name)
		}
	}
	p("template:")
	p("  - id: default")
	p("    storage: %q", s.ZonesDir())
	p("    zonefile-sync: -1")
	if s.opts.XFR {
		p("    zonefile-load: difference")
		p("    journal-content: changes")
		p("    acl: xfr")
	} else {
		p("    zonefile-load: whole")
		p("    journal-content: none")
	}
	if len(notify) > 0 {
		p("    notify: [ %s ]", strings.Join(notify, ", "))
	}
	p("zone:")
	for _, z := range s.opts.Zones {
		p("  - domain: %q", canonical(z.Name))
		p("    file: %q", s.zones[canonical(z.Name)])
	}
	return b.String()
}

func (knot) reload(ctx context.Context, s *Server, zone string) error {
	path, err := ToolKnotc.Path()
	if err != nil {
		return err
	}
	args := []string{"-s", filepath.Join(s.Dir, "knot.sock"), "-b", "zone-reload"}
	if zone != "" {
		args = append(args, zone)
	}
	out, err := exec.CommandContext(ctx, path, args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("knotc %s: %v: %s", strings.Join(args[2:], " "), err, out)
	}
	return nil
}
