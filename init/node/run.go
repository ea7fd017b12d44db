package node

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/goleudy/goleudy/provision/api"
	"github.com/goleudy/goleudy/provision/config"
	"github.com/goleudy/goleudy/provision/configstore"
	"github.com/goleudy/goleudy/provision/envelope"
	"github.com/goleudy/goleudy/services/clock"
	"github.com/goleudy/goleudy/services/health"
	"github.com/goleudy/goleudy/services/identity"
	"github.com/goleudy/goleudy/services/logring"
	"github.com/goleudy/goleudy/services/mgmt"
	"github.com/goleudy/goleudy/services/netconf"
	"github.com/goleudy/goleudy/services/supervisor"
	"github.com/goleudy/goleudy/services/timesync"
	"github.com/goleudy/goleudy/services/tunnel"
	"github.com/goleudy/goleudy/services/update"
)

// node is one run of goleudy-node: the pieces run wires together.
type node struct {
	o       Options
	version string
	log     *slog.Logger
	ring    *logring.Ring
	pid1    *pid1 // nil unless the node is the machine's init
	started time.Time

	seed   api.Seed
	store  *configstore.Store
	live   *live
	net    *netconf.Manager
	clock  *timesync.Service
	agent  *mgmt.Agent
	update *update.Agent      // PID 1 with a seed only
	stop   context.CancelFunc // ends the run: SIGTERM, or reboot outside PID 1
	// trialGate is the health gate, once the node is ready on a trial
	// boot (see watchTrial).
	trialGate atomic.Pointer[health.Service]
}

func run(ctx context.Context, version string, args []string, stderr io.Writer) error {
	o, err := parseRun(args, stderr)
	if err != nil {
		return err
	}
	n := &node{o: o, version: version, started: time.Now()}
	n.ring = newRing(o, stderr)
	n.log = slog.New(n.ring.Handler())
	ctx, n.stop = context.WithCancel(ctx)
	defer n.stop()
	return n.run(ctx)
}

// newRing is the node's logger: records go to w, and the last of them
// stay in memory for the admin API.
func newRing(o Options, w io.Writer) *logring.Ring {
	return logring.New(newHandler(o, w), logring.DefaultRecords)
}

func newHandler(o Options, w io.Writer) slog.Handler {
	ho := &slog.HandlerOptions{Level: o.LogLevel}
	if o.LogFormat == "text" {
		return slog.NewTextHandler(w, ho)
	}
	return slog.NewJSONHandler(w, ho)
}

func (n *node) run(ctx context.Context) error {
	log := n.log
	trust, err := n.trust()
	if err != nil {
		return err
	}
	if n.store, err = configstore.Open(n.o.State, trust, log.With("part", "configstore")); err != nil {
		return exitf(ExitFailure, "goleudy-node run: %w", err)
	}
	var cfg *config.Config
	if n.o.Config != "" {
		if cfg, err = load(n.store, n.o.Config, log); err != nil && n.o.Seed == "" {
			return exitf(ExitNoConfig, "goleudy-node run: %w", err)
		}
	} else {
		cfg = n.store.Current()
	}
	n.live = newLive(n.store, n.o.State, n.version, log)
	n.live.cfg = cfg

	// The base services run from boot, before there is a config: the
	// network by role, the clock, and the management agent.
	base, err := n.baseServices(cfg)
	if err != nil {
		return exitf(ExitFailure, "goleudy-node run: %w", err)
	}
	n.live.base = base
	baseSup, err := supervisor.New(supervisor.Options{Logger: log.With("part", "supervisor")}, base...)
	if err != nil {
		return exitf(ExitFailure, "goleudy-node run: %w", err)
	}
	n.live.sups = append(n.live.sups, baseSup)
	baseCtx, cancelBase := context.WithCancel(context.WithoutCancel(ctx))
	var wg sync.WaitGroup
	var baseErr error
	wg.Go(func() { baseErr = baseSup.Run(baseCtx) })
	// The base stops after the services, so BGP withdraws while the
	// network and tunnel are still there.
	var stopOnce sync.Once
	stopBase := func() {
		stopOnce.Do(func() {
			cancelBase()
			wg.Wait()
			if baseErr != nil {
				log.Error("base services", "err", baseErr)
			}
		})
	}
	defer stopBase()

	if cfg == nil {
		log.Info("waiting for the first config from the server", "node", n.seed.NodeID)
		select {
		case cfg = <-n.live.first:
		case <-ctx.Done():
			log.Info("node stopped before its first config")
			return nil
		}
	}
	log = log.With("node", cfg.Node.ID)
	services, r, err := n.services(cfg)
	if err != nil {
		return exitf(ExitFailure, "goleudy-node run: %w", err)
	}
	sup, err := supervisor.New(supervisor.Options{Logger: log.With("part", "supervisor")}, services...)
	if err != nil {
		return exitf(ExitFailure, "goleudy-node run: %w", err)
	}
	r.sup = sup
	n.live.start(cfg, services, sup, log)
	names := make([]string, 0, len(base)+len(services))
	for _, s := range append(base[:len(base):len(base)], services...) {
		names = append(names, s.Name())
	}
	log.Info("node running", "version", n.version, "serial", cfg.Serial, "state", n.live.effective(cfg).Node.State,
		"network", n.o.Network, "services", names)
	if n.o.Config != "" {
		stopReload := reloadOnHangup(ctx, n.store, n.o.Config, n.live, log)
		defer stopReload()
	}
	n.watchTrial(ctx)
	readyCtx, stopReady := context.WithCancel(ctx)
	wg.Go(func() { r.wait(readyCtx) })
	err = sup.Run(ctx)
	stopReady()
	stopBase()
	if err != nil {
		return exitf(ExitFailure, "goleudy-node run: %w", err)
	}
	log.Info("node stopped")
	return nil
}

// trust is the set of config keys: the seed's and --trust files, or none
// with --unsigned. It also loads the seed.
func (n *node) trust() (*envelope.TrustSet, error) {
	var err error
	switch {
	case n.o.Seed != "":
		if n.seed, err = mgmt.LoadSeed(n.o.Seed); err != nil {
			return nil, exitf(ExitUsage, "goleudy-node run: --seed: %w", err)
		}
		t, err := seedTrust(n.seed, n.o.Trust)
		if err != nil {
			return nil, exitf(ExitUsage, "goleudy-node run: %w", err)
		}
		return t, nil
	case !n.o.Unsigned:
		t, err := envelope.LoadTrustSet(n.o.Trust...)
		if err != nil {
			return nil, exitf(ExitUsage, "goleudy-node run: --trust: %w", err)
		}
		return t, nil
	}
	n.log.Warn("accepting unsigned configs (--unsigned); never do this on a deployed node")
	return nil, nil
}

// baseServices builds what runs before the first config: the network
// (with --network=manage), the clock, and the management agent (with a
// seed). cfg is the last good config, or nil.
func (n *node) baseServices(cfg *config.Config) ([]supervisor.Service, error) {
	var out []supervisor.Service
	log := n.log
	if n.o.Network == "manage" {
		var ifaces config.Interfaces
		var anycast config.Anycast
		if cfg != nil {
			ifaces, anycast = cfg.Interfaces, cfg.Anycast
		}
		resolv := ""
		if n.pid1 != nil {
			resolv = "/etc/resolv.conf"
		}
		var err error
		n.net, err = netconf.New(netconf.Options{
			Interfaces: ifaces, Anycast: anycast, OOBMatch: n.o.OOB, IXMatch: n.o.IX,
			Static: n.seed.OOB, StaticAfter: n.o.DHCPTimeout, ResolvConf: resolv,
			Clock: clock.Real(), Log: log, // netconf names itself in its logs
			OnChange: n.networkChanged,
		})
		if err != nil {
			return nil, err
		}
		out = append(out, n.net)
	}
	n.live.extra = n.netHeartbeat
	var err error
	n.clock, err = timesync.New(timesync.Options{
		Dir: n.o.State, Servers: n.ntpServers(), SetClock: n.pid1 != nil,
		Log: log.With("service", "timesync"),
	})
	if err != nil {
		return nil, err
	}
	out = append(out, n.clock)
	if n.o.Seed == "" {
		return out, nil
	}
	id, err := identity.Load(identity.Options{Dir: n.o.State, TPM: n.tpm(), Log: log.With("part", "identity")})
	if err != nil {
		return nil, err
	}
	wg, err := n.wireGuardKey(id)
	if err != nil {
		return nil, err
	}
	n.agent, err = mgmt.New(mgmt.Options{
		StateDir: n.o.State, Seed: n.seed, Identity: id.Private(), WireGuard: wg,
		OnConfig: n.live.offer, Heartbeat: n.live.heartbeat, Facts: n.facts(cfg),
		Log: log.With("part", "mgmt"),
	})
	if err != nil {
		return nil, err
	}
	n.live.agent = n.agent
	if cfg != nil {
		n.agent.Apply(cfg.Management)
	}
	out = append(out, n.agent)
	if n.pid1 != nil && n.pid1.sys.Boot.Dir != "" {
		// A node that cannot update still serves: the error is logged,
		// and the heartbeat says nothing of updates.
		if n.update, err = n.updater(cfg); err != nil {
			log.Error("no updates on this node", "err", err)
		} else {
			out = append(out, n.update)
		}
	}
	return out, nil
}

// tpm is where the identity looks for a TPM: probed on the appliance,
// never in a lab, where the host's TPM is not the node's.
func (n *node) tpm() string {
	if n.pid1 != nil {
		return ""
	}
	return identity.NoTPM
}

// wireGuardKey is the key the node's tunnel uses. A node enrolled before
// keys were derived from the identity keeps its stored key (the server
// has it bound); otherwise it is derived, so a TPM protects it too.
func (n *node) wireGuardKey(id *identity.Identity) (tunnel.Key, error) {
	file := filepath.Join(n.o.State, mgmt.WireGuardKey)
	if _, err := os.Stat(file); err == nil {
		return tunnel.LoadOrCreateKey(file)
	} else if !errors.Is(err, os.ErrNotExist) {
		return tunnel.Key{}, fmt.Errorf("wireguard key: %w", err)
	}
	return tunnel.Key(id.WireGuardKey()), nil
}

func (n *node) facts(cfg *config.Config) api.Facts {
	var f api.Facts
	if cfg != nil {
		f.Board = cfg.Node.Board
	}
	if n.pid1 != nil {
		f.Board = n.pid1.board
	}
	return f
}

// ntpServers are the configured servers; the SNTP client reaches them
// over OOB, since the main table's default route is OOB's.
func (n *node) ntpServers() []string {
	if n.o.Network != "manage" && n.pid1 == nil {
		return nil // a lab node does not ask the internet for the time
	}
	return n.o.NTP
}

// networkChanged is the network's OnChange: the OOB addresses changed.
func (n *node) networkChanged(st netconf.Status) {
	n.log.Info("OOB addresses changed", "port", st.OOB.Name, "addresses", len(st.OOB.Addresses))
	if n.agent != nil {
		n.agent.NetworkChanged()
	}
}

// netHeartbeat adds the slot, the release, the update's progress, the
// OOB addresses and the clock to a heartbeat.
func (n *node) netHeartbeat(hb *api.Heartbeat) {
	if n.pid1 != nil {
		hb.Slot, hb.Build = n.pid1.slot, n.pid1.release.Build
	}
	if n.update != nil {
		hb.Update = n.update.Report()
	}
	if n.net != nil {
		for _, a := range n.net.Status().OOB.Addresses {
			hb.OOB = append(hb.OOB, api.OOBAddress{Address: a.Prefix.String(), Source: a.Source})
		}
	}
	if n.clock != nil {
		if _, ok := n.clock.Trusted(); ok {
			hb.Clock = "trusted"
			if n.clock.Status().Synced {
				hb.Clock = "synced"
			}
		} else {
			hb.Clock = "unsynced"
		}
	}
}
