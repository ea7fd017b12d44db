package secondary

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// Limits bound what one transfer may hold, so a broken or hostile primary
// cannot exhaust a Pi's memory. Zero fields take the defaults.
type Limits struct {
	// MaxRecords is the most records a zone (AXFR) or the sum of an
	// IXFR's deletions and additions may have. Default 2,000,000: a
	// 1M-record zone is about 200 MB in memory, and a 1 GB Pi must hold
	// the old and the new version during a swap.
	MaxRecords int
	// MaxBytes is the most wire bytes one transfer may carry. Default
	// 256 MiB, well above what 2M typical records take.
	MaxBytes int64
}

// Default limits.
const (
	DefaultMaxRecords = 2_000_000
	DefaultMaxBytes   = 256 << 20
)

// Network timeouts, in real time: they bound waits on sockets, which the
// fake clock of tests cannot move.
const (
	queryTimeout = 2 * time.Second  // one SOA query or NOTIFY
	dialTimeout  = 5 * time.Second  // TCP connect to a primary
	readTimeout  = 30 * time.Second // between two messages of a transfer
)

// diff is one IXFR sequence: the version it applies to, the records it
// deletes and adds, and the version it leads to (RFC 1995 section 4).
type diff struct {
	from, to *dns.SOA
	del, add []dns.RR
}

// xfrResult is what a transfer brought: a full zone (axfr), a chain of
// diffs, or nothing new (upToDate).
type xfrResult struct {
	soa      *dns.SOA // the primary's SOA: first and last record
	axfr     []dns.RR // full zone, SOA first; nil for IXFR
	diffs    []diff
	upToDate bool
	records  int
	bytes    int64
}

// xfrParser turns the messages of an AXFR or IXFR response into an
// xfrResult, record by record, checking framing, zone and limits. It is
// fed untrusted data and never panics (see FuzzXFR).
type xfrParser struct {
	origin string // lowercased
	ixfr   bool   // we asked for IXFR
	have   uint32 // our serial, for IXFR
	limits Limits

	state int
	res   xfrResult
	cur   diff
	msgs  int
}

const (
	stStart  = iota // expect the first SOA
	stSecond        // after the first SOA: IXFR sequence or AXFR body?
	stAXFR
	stDel
	stAdd
	stDone
)

func newXFRParser(origin string, ixfr bool, have uint32, l Limits) *xfrParser {
	return &xfrParser{origin: strings.ToLower(dns.Fqdn(origin)), ixfr: ixfr, have: have, limits: l}
}

// done reports whether the transfer is complete.
func (p *xfrParser) done() bool { return p.state == stDone }

// feed processes one response message of size bytes.
func (p *xfrParser) feed(m *dns.Msg, size int) error {
	if p.state == stDone {
		return fmt.Errorf("%w: message after the final SOA", ErrMalformed)
	}
	p.msgs++
	if !m.Response || m.Opcode != dns.OpcodeQuery {
		return fmt.Errorf("%w: not a query response", ErrMalformed)
	}
	if m.Rcode != dns.RcodeSuccess {
		return fmt.Errorf("%w: %s", ErrRefused, dns.RcodeToString[m.Rcode])
	}
	if p.msgs == 1 && len(m.Question) > 0 && !strings.EqualFold(m.Question[0].Name, p.origin) {
		return fmt.Errorf("%w: answer for %s", ErrMalformed, m.Question[0].Name)
	}
	p.res.bytes += int64(size)
	if p.res.bytes > p.limits.MaxBytes {
		return fmt.Errorf("%w: more than %d bytes", ErrTooLarge, p.limits.MaxBytes)
	}
	for _, rr := range m.Answer {
		if err := p.record(rr); err != nil {
			return err
		}
	}
	// A response that is a single SOA answers an IXFR whose version is
	// current (RFC 1995 section 2), or means "ask by AXFR".
	if p.state == stSecond && p.ixfr {
		if serialNewer(p.res.soa.Serial, p.have) {
			return fmt.Errorf("%w: IXFR answered with a lone newer SOA", ErrBrokenChain)
		}
		p.res.upToDate = true
		p.state = stDone
	}
	return nil
}

func (p *xfrParser) record(rr dns.RR) error {
	if p.state == stDone {
		return fmt.Errorf("%w: records after the final SOA", ErrMalformed)
	}
	h := rr.Header()
	if h.Class != dns.ClassINET {
		return fmt.Errorf("%w: class %s: %s", ErrMalformed, dns.Class(h.Class), rr)
	}
	if !inZone(h.Name, p.origin) {
		return fmt.Errorf("%w: record outside the zone: %s", ErrMalformed, rr)
	}
	soa, isSOA := rr.(*dns.SOA)
	if isSOA && !strings.EqualFold(h.Name, p.origin) {
		return fmt.Errorf("%w: SOA not at the apex: %s", ErrMalformed, rr)
	}
	p.res.records++
	if p.res.records > p.limits.MaxRecords+2 { // the two framing SOAs
		return fmt.Errorf("%w: more than %d records", ErrTooLarge, p.limits.MaxRecords)
	}
	switch p.state {
	case stStart:
		if !isSOA {
			return fmt.Errorf("%w: first record is not the SOA: %s", ErrMalformed, rr)
		}
		p.res.soa = soa
		p.state = stSecond
	case stSecond:
		switch {
		case isSOA && p.ixfr && soa.Serial == p.have && soa.Serial != p.res.soa.Serial:
			p.cur = diff{from: soa}
			p.state = stDel
		case isSOA && soa.Serial == p.res.soa.Serial:
			p.res.axfr = []dns.RR{p.res.soa} // a zone of just its SOA
			p.state = stDone
		case isSOA:
			return fmt.Errorf("%w: IXFR starts at serial %d, we have %d", ErrBrokenChain, soa.Serial, p.have)
		default:
			p.res.axfr = []dns.RR{p.res.soa, rr}
			p.state = stAXFR
		}
	case stAXFR:
		if isSOA {
			if soa.Serial != p.res.soa.Serial {
				return fmt.Errorf("%w: ends with serial %d, began with %d", ErrMalformed, soa.Serial, p.res.soa.Serial)
			}
			p.state = stDone
			return nil
		}
		p.res.axfr = append(p.res.axfr, rr)
	case stDel:
		if isSOA {
			p.cur.to = soa
			p.state = stAdd
			return nil
		}
		p.cur.del = append(p.cur.del, rr)
	case stAdd:
		if !isSOA {
			p.cur.add = append(p.cur.add, rr)
			return nil
		}
		p.res.diffs = append(p.res.diffs, p.cur)
		if p.cur.to.Serial == p.res.soa.Serial && soa.Serial == p.res.soa.Serial {
			p.state = stDone
			return nil
		}
		if soa.Serial != p.cur.to.Serial {
			return fmt.Errorf("%w: sequence from %d follows one to %d", ErrBrokenChain, soa.Serial, p.cur.to.Serial)
		}
		p.cur = diff{from: soa}
		p.state = stDel
	}
	return nil
}

// result returns the transfer once it is done.
func (p *xfrParser) result() (*xfrResult, error) {
	if p.state != stDone {
		return nil, fmt.Errorf("%w: stream ended before the final SOA", ErrMalformed)
	}
	return &p.res, nil
}

// inZone reports whether name is at or below origin (lowercased, FQDN).
func inZone(name, origin string) bool {
	name = strings.ToLower(name)
	if origin == "." {
		return true
	}
	return name == origin || (strings.HasSuffix(name, "."+origin) && dns.IsSubDomain(origin, name))
}

// transfer asks primary for origin by AXFR, or IXFR when base is set, and
// reads the whole response. key may be nil.
func transfer(ctx context.Context, primary, origin string, base *dns.SOA, key *tsigKey, l Limits) (*xfrResult, error) {
	d := net.Dialer{Timeout: dialTimeout}
	conn, err := d.DialContext(ctx, "tcp", primary)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()

	q := new(dns.Msg)
	ixfr := base != nil
	var have uint32
	if ixfr {
		q.SetIxfr(origin, base.Serial, base.Ns, base.Mbox)
		have = base.Serial
	} else {
		q.SetAxfr(origin)
	}
	var wire []byte
	var verifier *streamVerifier
	if key != nil {
		var mac string
		if wire, mac, err = key.sign(q, "", false); err != nil {
			return nil, err
		}
		verifier = newStreamVerifier(*key, mac)
	} else if wire, err = q.Pack(); err != nil {
		return nil, err
	}
	conn.SetWriteDeadline(time.Now().Add(readTimeout))
	if err := writeMsg(conn, wire); err != nil {
		return nil, err
	}
	p := newXFRParser(origin, ixfr, have, l)
	buf := make([]byte, 0, dns.MaxMsgSize)
	for !p.done() {
		conn.SetReadDeadline(time.Now().Add(readTimeout))
		b, err := readMsg(conn, buf)
		if err != nil {
			if err == io.EOF {
				err = fmt.Errorf("%w: connection closed before the final SOA", ErrMalformed)
			}
			return nil, err
		}
		m := new(dns.Msg)
		if err := m.Unpack(b); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
		}
		if m.Id != q.Id {
			return nil, fmt.Errorf("%w: message ID %d, want %d", ErrMalformed, m.Id, q.Id)
		}
		if verifier != nil {
			if err := verifier.next(b, m); err != nil {
				return nil, err
			}
		}
		if err := p.feed(m, len(b)); err != nil {
			return nil, err
		}
	}
	if verifier != nil {
		if err := verifier.done(); err != nil {
			return nil, err
		}
	}
	return p.result()
}

func writeMsg(w io.Writer, b []byte) error {
	out := make([]byte, 2+len(b))
	binary.BigEndian.PutUint16(out, uint16(len(b)))
	copy(out[2:], b)
	_, err := w.Write(out)
	return err
}

// readMsg reads one length-prefixed message into buf's storage.
func readMsg(r io.Reader, buf []byte) ([]byte, error) {
	var l [2]byte
	if _, err := io.ReadFull(r, l[:]); err != nil {
		return nil, err
	}
	n := int(binary.BigEndian.Uint16(l[:]))
	b := buf[:n]
	if _, err := io.ReadFull(r, b); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	return append([]byte(nil), b...), nil
}
