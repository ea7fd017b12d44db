package lab

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"syscall"
)

// Command is a daemon given as a shell command line, so a server the lab
// knows nothing about (our own, before it is wired in) can be run, timed
// and compared like NSD and Knot. Placeholders in cmdline are replaced:
//
//	{addr}      127.0.0.1:PORT     {addr6}  [::1]:PORT (with Options.IPv6)
//	{host}      127.0.0.1          {port}   PORT
//	{zonesdir}  a directory holding ORIGIN.zone for every zone
//	            (the origin without its final dot; root.zone for the root)
//	{dir}       a scratch directory of the server's own
//
// The command runs under sh -c with exec, so it leads its process group.
// It must serve every zone in {zonesdir} over UDP and TCP on {addr}, and
// re-read changed zone files on SIGHUP. Transfers and NOTIFY are not
// configured for it, and Options.Workers and Quiet do not apply.
func Command(name, cmdline string) Daemon { return command{name: name, cmdline: cmdline} }

type command struct{ name, cmdline string }

func (c command) Name() string        { return c.name }
func (command) tools() []Tool         { return nil }
func (command) answersIdentity() bool { return false }

func (c command) configure(s *Server) ([]string, error) {
	if s.opts.XFR || s.opts.TSIG != nil || len(s.opts.Notify) > 0 {
		return nil, fmt.Errorf("lab: configure %s: transfers and NOTIFY are not supported for commands", c.name)
	}
	r := strings.NewReplacer(
		"{addr}", s.Addr, "{addr6}", s.Addr6, "{host}", "127.0.0.1",
		"{port}", strconv.Itoa(s.port), "{zonesdir}", s.ZonesDir(), "{dir}", s.Dir)
	return []string{"/bin/sh", "-c", "exec " + r.Replace(c.cmdline)}, nil
}

func (command) reload(_ context.Context, s *Server, _ string) error {
	if err := syscall.Kill(s.PID(), syscall.SIGHUP); err != nil {
		return fmt.Errorf("SIGHUP: %w", err)
	}
	return nil
}
