package secondary

import (
	"net/netip"
	"sync"
	"time"

	"github.com/miekg/dns"

	"github.com/goleudy/goleudy/services/clock"
)

// Notify answers a NOTIFY (RFC 1996) and implements
// dnsserver.Transfers.Notify. A NOTIFY for a zone we hold, from the IP of
// one of its primaries (TSIG-signed with the zone's key when it has one),
// gets NOERROR with AA and triggers a refresh at once; a burst of them
// while a refresh runs causes one more refresh after it, not one each.
// Anything else is REFUSED (NOTAUTH for a missing or bad signature), and
// logged at most once a minute per source address.
func (m *Manager) Notify(wire []byte, req *dns.Msg, src netip.AddrPort) []byte {
	resp := new(dns.Msg)
	resp.SetReply(req)
	if len(req.Question) != 1 {
		return m.packReply(resp, dns.RcodeFormatError, nil, "")
	}
	q := req.Question[0]
	origin := canonical(q.Name)
	from := src.Addr().Unmap()

	m.mu.Lock()
	z := m.zones[origin]
	var key *tsigKey
	var keyName string
	allowed := false
	if z != nil {
		allowed = fromPrimary(z.primaries, from)
		keyName = z.keyName
		if k, ok := m.keys[keyName]; ok {
			key = &k
		}
	}
	m.mu.Unlock()

	switch {
	case z == nil:
		m.refuseLog(from, "dns: secondary: NOTIFY refused: not a zone of ours", "zone", origin)
		return m.packReply(resp, dns.RcodeRefused, nil, "")
	case !allowed:
		m.refuseLog(from, "dns: secondary: NOTIFY refused: source is not a primary of the zone", "zone", origin)
		return m.packReply(resp, dns.RcodeRefused, nil, "")
	case keyName != "" && key == nil:
		m.refuseLog(from, "dns: secondary: NOTIFY refused: zone's TSIG key is not configured", "zone", origin, "key", keyName)
		return m.packReply(resp, dns.RcodeNotAuth, nil, "")
	}
	var mac string
	if key != nil {
		var err error
		if mac, err = key.verify(wire, req, ""); err != nil {
			m.refuseLog(from, "dns: secondary: NOTIFY refused: bad TSIG", "zone", origin, "err", err)
			return m.packReply(resp, dns.RcodeNotAuth, nil, "")
		}
	}
	resp.Authoritative = true
	m.trigger(origin)
	m.log.Debug("dns: secondary: NOTIFY accepted", "zone", origin, "from", src)
	return m.packReply(resp, dns.RcodeSuccess, key, mac)
}

// trigger schedules a refresh of origin now, or right after the one in
// flight.
func (m *Manager) trigger(origin string) {
	m.mu.Lock()
	if z := m.zones[origin]; z != nil {
		if z.running {
			z.again = true
		} else {
			z.next = time.Time{}
		}
	}
	m.mu.Unlock()
	m.kick()
}

func (m *Manager) packReply(resp *dns.Msg, rcode int, key *tsigKey, requestMAC string) []byte {
	resp.Rcode = rcode
	if rcode != dns.RcodeSuccess {
		resp.Authoritative = false
	}
	var b []byte
	var err error
	if key != nil {
		b, _, err = key.sign(resp, requestMAC, false)
	} else {
		b, err = resp.Pack()
	}
	if err != nil {
		m.log.Error("dns: secondary: pack NOTIFY response", "err", err)
		return nil
	}
	return b
}

// fromPrimary reports whether addr is the IP of one of primaries
// ("ip:port").
func fromPrimary(primaries []string, addr netip.Addr) bool {
	for _, p := range primaries {
		ap, err := netip.ParseAddrPort(p)
		if err != nil {
			if a, err2 := netip.ParseAddr(p); err2 == nil {
				ap = netip.AddrPortFrom(a, 53)
			} else {
				continue
			}
		}
		if ap.Addr().Unmap() == addr {
			return true
		}
	}
	return false
}

// refuseLog logs a refusal unless this source was logged within the last
// minute; the next line says how many were suppressed.
func (m *Manager) refuseLog(src netip.Addr, msg string, args ...any) {
	ok, suppressed := m.notifyLog.allow(src)
	if !ok {
		return
	}
	args = append(args, "from", src)
	if suppressed > 0 {
		args = append(args, "suppressed", suppressed)
	}
	m.log.Warn(msg, args...)
}

// rateLog allows one log line per source per interval, counting the rest.
// It remembers at most max sources; when full it forgets those whose
// interval has passed, or else all of them (an attacker spraying sources
// then gets a few extra lines, never unbounded memory).
type rateLog struct {
	clk   clock.Clock
	every time.Duration
	max   int

	mu  sync.Mutex
	src map[netip.Addr]*rateEntry
}

type rateEntry struct {
	last       time.Time
	suppressed int
}

func newRateLog(clk clock.Clock, every time.Duration, max int) *rateLog {
	return &rateLog{clk: clk, every: every, max: max, src: map[netip.Addr]*rateEntry{}}
}

// allow reports whether to log for src now, and how many lines were
// suppressed since the last one.
func (r *rateLog) allow(src netip.Addr) (bool, int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.clk.Now()
	e := r.src[src]
	if e != nil && now.Sub(e.last) < r.every {
		e.suppressed++
		return false, 0
	}
	if e == nil {
		if len(r.src) >= r.max {
			r.prune(now)
		}
		e = &rateEntry{}
		r.src[src] = e
	}
	n := e.suppressed
	e.last, e.suppressed = now, 0
	return true, n
}

func (r *rateLog) prune(now time.Time) {
	for a, e := range r.src {
		if now.Sub(e.last) >= r.every {
			delete(r.src, a)
		}
	}
	if len(r.src) >= r.max {
		clear(r.src)
	}
}
