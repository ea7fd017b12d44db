package node

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/goleudy/goleudy/services/dns/dnsservice"
	"github.com/goleudy/goleudy/services/health"
	"github.com/goleudy/goleudy/services/supervisor"
)

// readiness decides when the node is ready: its config is valid (it has
// one: services are only built from an accepted config), every service
// runs, DNS is listening, and the BGP health gate has evaluated every
// anycast prefix at least once, so what BGP announces is decided. Boot
// tests wait for the one line it prints.
type readiness struct {
	sup     *supervisor.Supervisor
	dns     *dnsservice.Service
	gate    *health.Service
	started time.Time // process start
	// sinceKernel is the time since the kernel started, known when the
	// node is PID 1; nil in labs, where it would be the host's uptime.
	sinceKernel func() (time.Duration, error)
	console     io.Writer // PID 1: the console; nil otherwise
	log         *slog.Logger
	node        string
	serial      func() uint64
	onReady     func()
}

// why is what the node still waits for, or "" when it is ready.
func (r *readiness) why() string {
	for _, st := range r.sup.Status() {
		if st.State != supervisor.Running {
			return fmt.Sprintf("service %s is %s", st.Name, st.State)
		}
	}
	if err := r.dns.Health(); err != nil {
		return err.Error()
	}
	for _, p := range r.gate.Status() {
		if p.LastProbe.IsZero() {
			return fmt.Sprintf("health gate has not evaluated %s", p.Prefix)
		}
	}
	return ""
}

// wait watches until the node is ready, then prints the ready line once.
func (r *readiness) wait(ctx context.Context) {
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	last := ""
	for {
		why := r.why()
		if why == "" {
			break
		}
		if why != last {
			r.log.Debug("not ready yet", "waiting_for", why)
			last = why
		}
		select {
		case <-ctx.Done():
			return
		case <-r.sup.Changed():
		case <-tick.C:
		}
	}
	took := time.Since(r.started)
	attrs := []any{"serial", r.serial(), "since_start", took.Round(time.Millisecond).String()}
	line := fmt.Sprintf("goleudy-node: ready: node %s, config serial %d, %v after start", r.node, r.serial(), took.Round(time.Millisecond))
	if r.sinceKernel != nil {
		if k, err := r.sinceKernel(); err == nil {
			attrs = append(attrs, "since_kernel", k.Round(time.Millisecond).String())
			line += fmt.Sprintf(", %v after kernel start", k.Round(time.Millisecond))
		}
	}
	r.log.Info("node ready", attrs...)
	if r.console != nil {
		fmt.Fprintln(r.console, line)
	}
	if r.onReady != nil {
		r.onReady()
	}
}
