package node

import (
	"log/slog"
	"net"
	"net/netip"

	"github.com/goleudy/goleudy/init/boot"
	"github.com/goleudy/goleudy/provision/config"
	"github.com/goleudy/goleudy/services/admin"
	"github.com/goleudy/goleudy/services/bgp"
	"github.com/goleudy/goleudy/services/clock"
	"github.com/goleudy/goleudy/services/dns/dnsservice"
	"github.com/goleudy/goleudy/services/health"
	"github.com/goleudy/goleudy/services/info"
	"github.com/goleudy/goleudy/services/metrics"
	"github.com/goleudy/goleudy/services/supervisor"
	"github.com/goleudy/goleudy/services/update"
)

// MetricsPort is where the metrics service listens on the node's tunnel
// address (the host of management.admin_listen).
const MetricsPort = "9100"

// services builds the services the node runs for cfg, in start order;
// the supervisor stops them in reverse, so BGP withdraws before the health
// gate and DNS stop, and the admin API goes first. The health gate probes
// the node's own DNS on its anycast addresses and tells BGP which prefixes
// may be announced.
func (n *node) services(cfg *config.Config) ([]supervisor.Service, *readiness, error) {
	log := n.log.With("node", cfg.Node.ID)
	clk := clock.Real()
	eff := n.live.effective(cfg)
	dns, err := dnsservice.New(eff, n.o.State, clk, log.With("service", "dns"))
	if err != nil {
		return nil, nil, err
	}
	speaker, err := bgp.New(eff, bgp.Options{Logger: log, Clock: clk}) // bgp names itself in its logs
	if err != nil {
		return nil, nil, err
	}
	gate, err := health.New(eff, health.Options{
		Clock: clk,
		Log:   log.With("service", "health"),
		OnChange: func(p netip.Prefix, healthy bool) {
			if err := speaker.SetHealthy(p, healthy); err != nil {
				log.Error("health gate: cannot tell bgp", "prefix", p, "healthy", healthy, "err", err)
			}
		},
	})
	if err != nil {
		return nil, nil, err
	}
	page, err := info.New(eff, info.Options{Log: log.With("service", "info"), Version: func() string { return n.version }})
	if err != nil {
		return nil, nil, err
	}
	met, err := metrics.New(metrics.Options{Listen: n.metricsListen, Log: log.With("service", "metrics")})
	if err != nil {
		return nil, nil, err
	}
	n.collect(met.Registry(), dns, speaker, gate)
	adm, err := admin.New(admin.Options{
		Listen:  eff.Management.AdminListen,
		Allowed: n.adminAllowed,
		Log:     log.With("service", "admin"),
		Status:  func() any { return n.live.heartbeat() },
		Logs:    n.ring,
		Drain:   n.live.setDrain,
		Reboot:  n.reboot,
	})
	if err != nil {
		return nil, nil, err
	}
	r := &readiness{dns: dns, gate: gate, started: n.started, log: log, node: cfg.Node.ID,
		serial: n.store.Serial, onReady: func() {
			n.commitWhenHealthy(log, gate)
			n.live.setReady()
		}}
	if n.pid1 != nil {
		r.sinceKernel = boot.SinceKernelStart
		if n.pid1.sys.Console != nil {
			r.console = n.pid1.sys.Console
		}
	}
	return []supervisor.Service{dns, gate, speaker, page, metricsApplier{met}, adminApplier{adm}}, r, nil
}

// commitWhenHealthy commits the booted slot once the node is ready on it.
// On the trial boot of a new release the trial watch commits instead, once
// the health gate is green as well: the node must serve before its slot
// is called good.
func (n *node) commitWhenHealthy(log *slog.Logger, gate *health.Service) {
	if n.update == nil || !n.update.OnTrial() {
		n.commit(log)
		return
	}
	n.trialGate.Store(gate)
}

// commit tells the bootloader the slot the node booted is good, once the
// node is ready on it (PID 1 only: a lab node has no boot partition).
func (n *node) commit(log *slog.Logger) {
	if n.pid1 == nil || n.pid1.slot == "" || n.pid1.sys.Boot.Dir == "" {
		return
	}
	out, err := update.Commit(log.With("part", "update"), n.pid1.sys.Boot.Dir, n.pid1.slot, true)
	if err != nil {
		log.Error("cannot commit the slot; the bootloader will count this boot as failed", "slot", n.pid1.slot, "err", err)
		return
	}
	if out.RolledBack {
		log.Warn("booted the other slot: the trial of the new one failed", "slot", out.Slot, "state", out.State)
	}
	if n.update != nil {
		n.update.Booted(out)
	}
	log.Info("slot good", "slot", out.Slot, "state", out.State, "changed", out.Changed)
}

// metricsListen is the tunnel address with MetricsPort: metrics never
// listen on the IX side.
func (n *node) metricsListen() []string {
	n.live.mu.Lock()
	cfg := n.live.cfg
	n.live.mu.Unlock()
	if cfg == nil || cfg.Management.AdminListen == "" {
		return nil
	}
	host, _, err := net.SplitHostPort(cfg.Management.AdminListen)
	if err != nil {
		return nil
	}
	return []string{net.JoinHostPort(host, MetricsPort)}
}

// adminAllowed is who may call the admin API: addresses on the management
// tunnel.
func (n *node) adminAllowed() []netip.Prefix {
	n.live.mu.Lock()
	cfg := n.live.cfg
	n.live.mu.Unlock()
	var out []netip.Prefix
	if cfg == nil {
		return nil
	}
	for _, s := range cfg.Management.WireGuard.AllowedIPs {
		if p, err := netip.ParsePrefix(s); err == nil {
			out = append(out, p.Masked())
		}
	}
	return out
}

// reboot is the admin API's reboot: the machine on the appliance; in a lab
// the node process stops cleanly instead.
func (n *node) reboot() error {
	if n.pid1 != nil {
		return n.pid1.sys.Power.Reboot()
	}
	n.log.Warn("admin: reboot asked; not PID 1, so the node process stops instead")
	n.stop()
	return nil
}

// metricsApplier and adminApplier take configs for services whose Apply
// takes less than a config.
type metricsApplier struct{ *metrics.Service }

func (m metricsApplier) Apply(*config.Config) error { return m.Service.Apply() }

type adminApplier struct{ *admin.Service }

func (a adminApplier) Apply(cfg *config.Config) error {
	return a.Service.Apply(cfg.Management.AdminListen)
}
