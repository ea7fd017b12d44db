package secondary

import (
	"fmt"
	"net/netip"

	"github.com/miekg/dns"

	authdns "github.com/goleudy/goleudy/services/dns"
)

// Transfer serves AXFR and IXFR to downstreams and implements
// dnsserver.Transfers.Transfer. Clients not in Options.Downstreams get
// REFUSED; a downstream with a key must sign with it (NOTAUTH otherwise).
// IXFR is answered from the journal when it reaches back to the client's
// serial, else with the whole zone in AXFR form (RFC 1995 section 4).
// Messages hold as many records as fit in about 60 KB, under the 64 KiB
// TCP message limit.
func (m *Manager) Transfer(wire []byte, req *dns.Msg, src netip.AddrPort, send func([]byte) error) error {
	resp := new(dns.Msg)
	resp.SetReply(req)
	refuse := func(rcode int) error {
		b := m.packReply(resp, rcode, nil, "")
		if b == nil {
			return fmt.Errorf("dns: transfer to %s: pack failed", src)
		}
		return send(b)
	}
	if len(req.Question) != 1 || req.Question[0].Qclass != dns.ClassINET {
		return refuse(dns.RcodeFormatError)
	}
	q := req.Question[0]
	origin := canonical(q.Name)
	from := src.Addr().Unmap()

	m.mu.Lock()
	var ds *Downstream
	for i := range m.downs {
		if m.downs[i].Addr.Addr().Unmap() == from {
			ds = &m.downs[i]
			break
		}
	}
	var key *tsigKey
	keyMissing := false
	if ds != nil && ds.TSIG != "" {
		if k, ok := m.keys[canonicalKey(ds.TSIG)]; ok {
			key = &k
		} else {
			keyMissing = true
		}
	}
	z := m.zones[origin]
	var cur *authdns.Zone
	var expired bool
	var diffs []diff
	if z != nil {
		cur, expired = z.cur, z.expired
	}
	if cur != nil && q.Qtype == dns.TypeIXFR {
		if have, ok := ixfrSerial(req); ok && serialNewer(cur.Serial(), have) {
			diffs, _ = z.journal.since(have)
		}
	}
	m.mu.Unlock()

	if ds == nil {
		m.refuseLog(from, "dns: secondary: transfer refused: not a downstream", "zone", origin)
		return refuse(dns.RcodeRefused)
	}
	var mac string
	if key != nil || keyMissing {
		var err error
		if keyMissing {
			err = fmt.Errorf("%w %s", ErrNoKey, ds.TSIG)
		} else {
			mac, err = key.verify(wire, req, "")
		}
		if err != nil {
			m.refuseLog(from, "dns: secondary: transfer refused: bad TSIG", "zone", origin, "err", err)
			return refuse(dns.RcodeNotAuth)
		}
	}
	switch {
	case cur == nil:
		return m.sendAll(resp, []dns.RR{}, key, mac, send, dns.RcodeNotAuth)
	case expired:
		return m.sendAll(resp, []dns.RR{}, key, mac, send, dns.RcodeServerFailure)
	}
	soa := cur.SOA()
	if q.Qtype == dns.TypeIXFR {
		have, ok := ixfrSerial(req)
		if !ok {
			return m.sendAll(resp, nil, key, mac, send, dns.RcodeFormatError)
		}
		if !serialNewer(soa.Serial, have) {
			return m.sendAll(resp, []dns.RR{soa}, key, mac, send, dns.RcodeSuccess)
		}
		if diffs != nil {
			rrs := []dns.RR{soa}
			for _, d := range diffs {
				rrs = append(rrs, d.from)
				rrs = append(rrs, d.del...)
				rrs = append(rrs, d.to)
				rrs = append(rrs, d.add...)
			}
			rrs = append(rrs, soa)
			m.log.Debug("dns: secondary: serving IXFR", "zone", origin, "to", src, "from_serial", have, "serial", soa.Serial)
			return m.sendAll(resp, rrs, key, mac, send, dns.RcodeSuccess)
		}
	}
	m.log.Debug("dns: secondary: serving AXFR", "zone", origin, "to", src, "serial", soa.Serial, "qtype", dns.Type(q.Qtype))
	return m.sendZone(resp, cur, key, mac, send)
}

// ixfrSerial returns the client's serial from an IXFR request's
// authority SOA.
func ixfrSerial(req *dns.Msg) (uint32, bool) {
	for _, rr := range req.Ns {
		if soa, ok := rr.(*dns.SOA); ok {
			return soa.Serial, true
		}
	}
	return 0, false
}

// sendZone streams z in AXFR form: SOA, the rest, SOA.
func (m *Manager) sendZone(resp *dns.Msg, z *authdns.Zone, key *tsigKey, mac string, send func([]byte) error) error {
	w := &xfrWriter{m: m, tmpl: resp, key: key, mac: mac, send: send}
	soa := z.SOA()
	for rr := range z.All() {
		if err := w.add(rr); err != nil {
			return err
		}
	}
	if err := w.add(soa); err != nil {
		return err
	}
	return w.flush()
}

// sendAll sends rrs (in one or more messages) with rcode.
func (m *Manager) sendAll(resp *dns.Msg, rrs []dns.RR, key *tsigKey, mac string, send func([]byte) error, rcode int) error {
	resp.Rcode = rcode
	w := &xfrWriter{m: m, tmpl: resp, key: key, mac: mac, send: send}
	for _, rr := range rrs {
		if err := w.add(rr); err != nil {
			return err
		}
	}
	return w.flush()
}

// xfrWriter packs records into transfer messages, signing each one when
// the request was signed (RFC 8945 section 5.3.1: the first with the
// request MAC, later ones with the previous MAC and timers only).
type xfrWriter struct {
	m    *Manager
	tmpl *dns.Msg
	key  *tsigKey
	mac  string
	send func([]byte) error

	rrs  []dns.RR
	size int
	sent int
}

// msgBudget keeps a message's uncompressed size under 64 KiB with room
// for the header, question and TSIG.
const msgBudget = 60_000

func (w *xfrWriter) add(rr dns.RR) error {
	n := dns.Len(rr)
	if w.size+n > msgBudget && len(w.rrs) > 0 {
		if err := w.flushOne(); err != nil {
			return err
		}
	}
	w.rrs = append(w.rrs, rr)
	w.size += n
	return nil
}

func (w *xfrWriter) flush() error {
	if len(w.rrs) > 0 || w.sent == 0 {
		return w.flushOne()
	}
	return nil
}

func (w *xfrWriter) flushOne() error {
	m := new(dns.Msg)
	m.MsgHdr = w.tmpl.MsgHdr
	m.Authoritative = w.tmpl.Rcode == dns.RcodeSuccess
	if w.sent == 0 {
		m.Question = w.tmpl.Question
	}
	m.Answer = w.rrs
	m.Compress = true
	var b []byte
	var err error
	if w.key != nil {
		b, w.mac, err = w.key.sign(m, w.mac, w.sent > 0)
	} else {
		b, err = m.Pack()
	}
	if err != nil {
		return fmt.Errorf("dns: transfer: pack: %w", err)
	}
	w.rrs, w.size = nil, 0
	w.sent++
	return w.send(b)
}
