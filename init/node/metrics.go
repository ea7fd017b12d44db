package node

import (
	"github.com/miekg/dns"

	"github.com/goleudy/goleudy/services/bgp"
	"github.com/goleudy/goleudy/services/dns/dnsservice"
	"github.com/goleudy/goleudy/services/health"
	"github.com/goleudy/goleudy/services/metrics"
)

// collect registers what the node exports at scrape time: DNS query and
// answer counts, zone serials, BGP sessions, the health gate, the config
// serial, the OOB lease and the clock.
func (n *node) collect(reg *metrics.Registry, d *dnsservice.Service, speaker *bgp.Service, gate *health.Service) {
	reg.Register(func() []metrics.Family {
		var fams []metrics.Family
		gauge := func(name, help string, samples ...metrics.Sample) {
			fams = append(fams, metrics.Family{Name: name, Help: help, Type: metrics.GaugeType, Samples: samples})
		}
		counter := func(name, help string, samples ...metrics.Sample) {
			fams = append(fams, metrics.Family{Name: name, Help: help, Type: metrics.CounterType, Samples: samples})
		}
		one := func(v float64, labels ...string) metrics.Sample {
			s := metrics.Sample{Value: v}
			for i := 0; i+1 < len(labels); i += 2 {
				s.Labels = append(s.Labels, metrics.Label{Name: labels[i], Value: labels[i+1]})
			}
			return s
		}
		b2f := func(b bool) float64 {
			if b {
				return 1
			}
			return 0
		}

		gauge("goleudy_config_serial", "Serial of the config the node runs.", one(float64(n.store.Serial())))
		gauge("goleudy_uptime_seconds", "Seconds since the node process started.", one(n.live.heartbeat().Uptime))
		n.live.mu.Lock()
		drained, ready := n.live.drained, n.live.ready
		n.live.mu.Unlock()
		gauge("goleudy_drained", "1 if the node was drained through its admin API.", one(b2f(drained)))
		gauge("goleudy_ready", "1 once the node printed its ready line.", one(b2f(ready)))

		if srv := d.Server(); srv != nil {
			st := &srv.Stats
			counter("goleudy_dns_queries_total", "DNS queries received.", one(float64(st.Queries.Load())))
			counter("goleudy_dns_cache_hits_total", "Answers from the response cache.", one(float64(st.CacheHits.Load())))
			counter("goleudy_dns_rrl_dropped_total", "Responses dropped by response rate limiting.", one(float64(st.RRLDropped.Load())))
			counter("goleudy_dns_rrl_slipped_total", "Responses truncated by response rate limiting.", one(float64(st.RRLSlipped.Load())))
			counter("goleudy_dns_send_errors_total", "Responses that could not be sent.", one(float64(st.SendErrors.Load())))
			var rc []metrics.Sample
			for code := range st.Rcodes {
				if v := st.Rcodes[code].Load(); v > 0 {
					name := dns.RcodeToString[code]
					if name == "" {
						name = "OTHER"
					}
					rc = append(rc, one(float64(v), "rcode", name))
				}
			}
			counter("goleudy_dns_responses_total", "DNS responses by RCODE.", rc...)
		}
		var serials, loaded []metrics.Sample
		for _, z := range d.Secondary().Status() {
			if z.Catalog {
				continue
			}
			serials = append(serials, one(float64(z.Serial), "zone", z.Zone))
			loaded = append(loaded, one(b2f(z.Loaded && !z.Expired), "zone", z.Zone))
		}
		gauge("goleudy_zone_serial", "SOA serial of each zone the node serves.", serials...)
		gauge("goleudy_zone_serving", "1 if the zone is loaded and not expired.", loaded...)

		var sessions []metrics.Sample
		for _, p := range speaker.Status().Peers {
			sessions = append(sessions, one(b2f(p.State == "established"), "peer", p.Name, "neighbor", p.Neighbor.String()))
		}
		gauge("goleudy_bgp_session_up", "1 if the BGP session is established.", sessions...)
		var prefixes []metrics.Sample
		for _, p := range gate.Status() {
			prefixes = append(prefixes, one(b2f(p.Healthy), "prefix", p.Prefix.String()))
		}
		gauge("goleudy_health_prefix_healthy", "1 if the health gate lets the prefix be announced.", prefixes...)

		if n.net != nil {
			st := n.net.Status()
			gauge("goleudy_oob_addresses", "Addresses on the OOB port.", one(float64(len(st.OOB.Addresses)), "port", st.OOB.Name))
		}
		if n.clock != nil {
			_, ok := n.clock.Trusted()
			gauge("goleudy_clock_trusted", "1 if the clock is synced or at least at its persisted floor.", one(b2f(ok)))
		}
		return fams
	})
}
