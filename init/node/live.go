package node

import (
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/goleudy/goleudy/provision/api"
	"github.com/goleudy/goleudy/provision/config"
	"github.com/goleudy/goleudy/provision/configstore"
	"github.com/goleudy/goleudy/services/bgp"
	"github.com/goleudy/goleudy/services/dns/dnsservice"
	"github.com/goleudy/goleudy/services/mgmt"
	"github.com/goleudy/goleudy/services/supervisor"
)

// live joins the management agent to the running node: configs the agent
// fetches are accepted by the store and applied to the services, and the
// services' state goes into heartbeats.
type live struct {
	store   *configstore.Store
	version string
	log     *slog.Logger
	agent   *mgmt.Agent
	started time.Time

	mu       sync.Mutex
	first    chan *config.Config // the first accepted config, before services run
	cfg      *config.Config      // the newest accepted config
	services []supervisor.Service
	sup      *supervisor.Supervisor
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
	l.log.Info("config accepted", "serial", cfg.Serial, "from", "server")
	l.mu.Lock()
	l.cfg = cfg
	services := l.services
	if services == nil {
		select {
		case l.first <- cfg:
		default:
		}
	}
	l.mu.Unlock()
	if services != nil {
		l.apply(cfg, services)
	}
	return nil
}

func (l *live) apply(cfg *config.Config, services []supervisor.Service) {
	for _, s := range services {
		if a, ok := s.(applier); ok {
			if err := a.Apply(cfg); err != nil {
				l.log.Error("config apply failed", "service", s.Name(), "err", err)
			}
		}
	}
	l.log.Info("config applied", "serial", cfg.Serial)
}

// start records the running services, built for cfg, and applies a newer
// config that arrived while they were being built.
func (l *live) start(cfg *config.Config, services []supervisor.Service, sup *supervisor.Supervisor) {
	l.mu.Lock()
	l.services, l.sup, l.started = services, sup, time.Now()
	newer := l.cfg
	if newer == nil || newer.Serial <= cfg.Serial {
		newer = nil
		l.cfg = cfg
	}
	l.mu.Unlock()
	if newer != nil {
		l.apply(newer, services)
	}
	if l.agent != nil {
		l.agent.Beat()
	}
}

// heartbeat reports the node's state.
func (l *live) heartbeat() api.Heartbeat {
	l.mu.Lock()
	cfg, services, sup, started := l.cfg, l.services, l.sup, l.started
	l.mu.Unlock()
	hb := api.Heartbeat{Version: l.version, ConfigSerial: l.store.Serial()}
	if cfg == nil {
		return hb
	}
	hb.Board, hb.State = cfg.Node.Board, cfg.Node.State
	if !started.IsZero() {
		hb.Uptime = time.Since(started).Seconds()
	}
	if sup != nil {
		hb.Ready, hb.Healthy = true, true
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
