package secondary

import (
	"context"
	"net/netip"
	"time"

	"github.com/miekg/dns"
)

// NOTIFY to downstreams (RFC 1996 section 3.6): sent over UDP after every
// change, retried with doubling intervals until the downstream answers or
// the tries run out. The retries wait on the Manager's clock.
const (
	notifyTries    = 5
	notifyInterval = 2 * time.Second
)

// notifyDownstreams tells every downstream that origin changed.
func (m *Manager) notifyDownstreams(origin string, soa *dns.SOA) {
	m.mu.Lock()
	ctx := m.runCtx
	downs := m.downs
	m.mu.Unlock()
	if ctx == nil {
		return
	}
	for _, ds := range downs {
		m.mu.Lock()
		var key *tsigKey
		if k, ok := m.keys[canonicalKey(ds.TSIG)]; ok && ds.TSIG != "" {
			key = &k
		}
		m.mu.Unlock()
		addr := ds.Addr
		if addr.Port() == 0 {
			addr = netip.AddrPortFrom(addr.Addr(), 53)
		}
		m.wg.Go(func() { m.sendNotify(ctx, addr.String(), origin, soa, key) })
	}
}

func (m *Manager) sendNotify(ctx context.Context, addr, origin string, soa *dns.SOA, key *tsigKey) {
	wait := notifyInterval
	var err error
	for try := 1; try <= notifyTries; try++ {
		if err = notifyOnce(ctx, addr, origin, soa, key); err == nil {
			m.log.Debug("dns: secondary: NOTIFY sent", "zone", origin, "to", addr, "serial", soa.Serial)
			return
		}
		if try == notifyTries {
			break
		}
		t := m.clk.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C():
		}
		wait *= 2
	}
	m.log.Warn("dns: secondary: downstream did not answer NOTIFY", "zone", origin, "to", addr, "tries", notifyTries, "err", err)
}

func notifyOnce(ctx context.Context, addr, origin string, soa *dns.SOA, key *tsigKey) error {
	q := new(dns.Msg)
	q.SetNotify(origin)
	q.Answer = []dns.RR{soa}
	c := &dns.Client{Net: "udp", Timeout: queryTimeout}
	if key != nil {
		c.TsigSecret = map[string]string{key.name: key.secret}
		q.SetTsig(key.name, key.alg, tsigFudge, 0)
	}
	r, _, err := c.ExchangeContext(ctx, q, addr)
	if err != nil {
		return err
	}
	if r.Rcode != dns.RcodeSuccess {
		return &rcodeError{r.Rcode}
	}
	return nil
}

type rcodeError struct{ rcode int }

func (e *rcodeError) Error() string { return "answered " + dns.RcodeToString[e.rcode] }
