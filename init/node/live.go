package node

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/goleudy/goleudy/provision/api"
	"github.com/goleudy/goleudy/provision/config"
	"github.com/goleudy/goleudy/provision/configstore"
	"github.com/goleudy/goleudy/services/bgp"
	"github.com/goleudy/goleudy/services/dns/dnsservice"
	"github.com/goleudy/goleudy/services/mgmt"
	"github.com/goleudy/goleudy/services/statedir"
	"github.com/goleudy/goleudy/services/supervisor"
)

// DrainFile in the state directory marks a node drained from its admin
// API; it stays drained across restarts until undrained.
const DrainFile = "drained"

// applier is a service that takes a new config live.
type applier interface {
	Apply(*config.Config) error
}

// live joins the management agent to the running node: configs the agent
// fetches are accepted by the store and applied to the services, and the
// services' state goes into heartbeats and the admin API.
type live struct {
	store    *configstore.Store
	stateDir string
	version  string
	log      *slog.Logger
	agent    *mgmt.Agent
	started  time.Time
	extra    func(*api.Heartbeat) // adds what the base services know (OOB addresses)

	mu       sync.Mutex
	first    chan *config.Config // the first accepted config, before services run
	cfg      *config.Config      // the newest accepted config
	drained  bool                // drained by the admin API
	ready    bool
	base     []supervisor.Service // network, time, mgmt: run from boot
	services []supervisor.Service // built from the first config
	sups     []*supervisor.Supervisor
}

func newLive(store *configstore.Store, stateDir, version string, log *slog.Logger) *live {
	l := &live{store: store, stateDir: stateDir, version: version, log: log, started: time.Now(),
		first: make(chan *config.Config, 1)}
	if _, err := os.Stat(filepath.Join(stateDir, DrainFile)); err == nil {
		l.drained = true
		log.Warn("node is drained (by its admin API); it announces nothing until undrained")
	}
	return l
}

// effective is cfg as the services apply it: a drained node runs as
// node.state "drained" whatever the config says.
func (l *live) effective(cfg *config.Config) *config.Config {
	if !l.drained || cfg == nil || cfg.Node.State == config.StateDrained {
		return cfg
	}
	c := *cfg
	c.Node.State = config.StateDrained
	return &c
}

// offer is the agent's OnConfig: the store checks the envelope (trust,
// serial) and keeps it; a new config is applied live.
func (l *live) offer(data []byte) error {
	cfg, isNew, err := l.store.Accept(data)
	if err != nil {
		return err
	}
	if !isNew {
		return nil
	}
	l.logger().Info("config accepted", "serial", cfg.Serial, "from", "server")
	l.mu.Lock()
	l.cfg = cfg
	running := l.services != nil
	if !running {
		select {
		case l.first <- cfg:
		default:
		}
	}
	l.mu.Unlock()
	l.apply(cfg, running)
	return nil
}

// apply hands cfg to the base services, and to the others once they run.
func (l *live) apply(cfg *config.Config, running bool) {
	l.mu.Lock()
	eff, log := l.effective(cfg), l.log
	targets := l.base
	if running {
		targets = append(targets[:len(targets):len(targets)], l.services...)
	}
	l.mu.Unlock()
	if l.agent != nil {
		l.agent.Apply(cfg.Management)
	}
	for _, s := range targets {
		if a, ok := s.(applier); ok {
			if err := a.Apply(eff); err != nil {
				log.Error("config apply failed", "service", s.Name(), "err", err)
			}
		}
	}
	if running {
		log.Info("config applied", "serial", cfg.Serial, "state", eff.Node.State)
	}
	if l.agent != nil {
		l.agent.Beat()
	}
}

// logger is the node's logger; once the node knows its id, it names it.
func (l *live) logger() *slog.Logger {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.log
}

// start records the running services, built for cfg, and applies a newer
// config that arrived while they were being built. From now on the log
// names the node.
func (l *live) start(cfg *config.Config, services []supervisor.Service, sup *supervisor.Supervisor, log *slog.Logger) {
	l.mu.Lock()
	l.log = log
	l.services = services
	l.sups = append(l.sups, sup)
	newer := l.cfg
	if newer == nil || newer.Serial <= cfg.Serial {
		newer = nil
		l.cfg = cfg
	}
	l.mu.Unlock()
	if newer != nil {
		l.apply(newer, true)
	}
	if l.agent != nil {
		l.agent.Beat()
	}
}

// setDrain drains (GRACEFUL_SHUTDOWN, then withdraw) or undrains the node
// for its admin API, and keeps the choice in the state directory.
func (l *live) setDrain(drain bool) error {
	file := filepath.Join(l.stateDir, DrainFile)
	var err error
	if drain {
		err = statedir.WriteFile(file, []byte(time.Now().UTC().Format(time.RFC3339)+"\n"), 0o600)
	} else if err = os.Remove(file); errors.Is(err, os.ErrNotExist) {
		err = nil
	}
	if err != nil {
		return fmt.Errorf("drain: %w", err)
	}
	l.mu.Lock()
	changed := l.drained != drain
	l.drained = drain
	cfg, running := l.cfg, l.services != nil
	l.mu.Unlock()
	if changed && cfg != nil {
		l.logger().Warn("admin: drain changed", "drained", drain)
		l.apply(cfg, running)
	}
	return nil
}

func (l *live) setReady() {
	l.mu.Lock()
	l.ready = true
	l.mu.Unlock()
	if l.agent != nil {
		l.agent.Beat()
	}
}

// heartbeat reports the node's state.
func (l *live) heartbeat() api.Heartbeat {
	l.mu.Lock()
	cfg, services, sups, ready := l.effective(l.cfg), l.services, l.sups, l.ready
	l.mu.Unlock()
	hb := api.Heartbeat{Version: l.version, ConfigSerial: l.store.Serial(), Uptime: time.Since(l.started).Seconds()}
	if l.extra != nil {
		l.extra(&hb)
	}
	if cfg == nil {
		return hb
	}
	hb.Board, hb.State = cfg.Node.Board, cfg.Node.State
	hb.Ready, hb.Healthy = ready, true
	for _, sup := range sups {
		for _, st := range sup.Status() {
			hb.Services = append(hb.Services, api.ServiceInfo{Name: st.Name, State: st.State.String(), Healthy: st.Healthy()})
			if st.State != supervisor.Running {
				hb.Ready = false
			}
			// BGP sessions are reported one by one; a node without a
			// session up still serves DNS, and the NOC shows both.
			if !st.Healthy() && st.Name != "bgp" {
				hb.Healthy = false
			}
		}
	}
	for _, s := range services {
		switch s := s.(type) {
		case *dnsservice.Service:
			for _, z := range s.Secondary().Status() {
				if z.Catalog {
					continue
				}
				hb.Zones = append(hb.Zones, api.ZoneSerial{Name: z.Zone, Serial: z.Serial, Expired: z.Expired, Pending: !z.Loaded})
			}
		case *bgp.Service:
			for _, p := range s.Status().Peers {
				fam := "ipv4"
				if p.Neighbor.Is6() && !p.Neighbor.Is4In6() {
					fam = "ipv6"
				}
				hb.BGP = append(hb.BGP, api.BGPSession{Name: p.Name, Neighbor: p.Neighbor.String(), State: strings.ToLower(p.State), Family: fam})
			}
		}
	}
	return hb
}
