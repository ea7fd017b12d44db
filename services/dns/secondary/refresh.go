package secondary

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/miekg/dns"

	authdns "github.com/goleudy/goleudy/services/dns"
)

// refresh brings one zone up to date from the first primary that can,
// trying them in the configured order.
func (m *Manager) refresh(ctx context.Context, j job) outcome {
	if len(j.primaries) == 0 {
		return outcome{err: fmt.Errorf("dns: refresh %s: no primaries", j.origin)}
	}
	var errs []error
	for _, p := range j.primaries {
		out, err := m.refreshFrom(ctx, j, p)
		if err == nil {
			out.primary = p
			return out
		}
		errs = append(errs, err)
		if ctx.Err() != nil {
			break
		}
	}
	return outcome{err: errors.Join(errs...)}
}

// refreshFrom checks one primary's serial and transfers when it is newer.
// Every error names the zone and the primary.
func (m *Manager) refreshFrom(ctx context.Context, j job, primary string) (outcome, error) {
	soa, err := querySOA(ctx, primary, j.origin, j.key)
	if err != nil {
		return outcome{}, fmt.Errorf("dns: refresh %s from %s: SOA query: %w", j.origin, primary, err)
	}
	if j.cur != nil && !serialNewer(soa.Serial, j.cur.Serial()) {
		if soa.Serial != j.cur.Serial() {
			m.log.Warn("dns: secondary: primary has an older serial; keeping ours", "zone", j.origin,
				"primary", primary, "primary_serial", soa.Serial, "serial", j.cur.Serial())
		}
		return outcome{}, nil
	}
	if j.cur != nil {
		out, err := m.transferFrom(ctx, j, primary, true)
		if err == nil || ctx.Err() != nil {
			return out, err
		}
		m.log.Info("dns: secondary: IXFR failed; trying AXFR", "zone", j.origin, "primary", primary, "err", err)
	}
	return m.transferFrom(ctx, j, primary, false)
}

// transferFrom runs one IXFR or AXFR and builds the new zone.
func (m *Manager) transferFrom(ctx context.Context, j job, primary string, incremental bool) (outcome, error) {
	kind := "AXFR"
	var base *dns.SOA
	if incremental {
		kind = "IXFR"
		base = j.cur.SOA()
	}
	wrap := func(err error) error {
		return fmt.Errorf("dns: transfer %s from %s (%s): %w", j.origin, primary, kind, err)
	}
	res, err := transfer(ctx, primary, j.origin, base, j.key, m.o.Limits)
	if err != nil {
		return outcome{}, wrap(err)
	}
	z, diffs, err := m.build(j, res)
	if err != nil {
		return outcome{}, wrap(err)
	}
	return outcome{zone: z, diffs: diffs, full: res.axfr != nil}, nil
}

// build turns a transfer into a new zone. It returns a nil zone when the
// primary says we are current.
func (m *Manager) build(j job, res *xfrResult) (*authdns.Zone, []diff, error) {
	if res.upToDate {
		return nil, nil, nil
	}
	if j.cur != nil && !serialNewer(res.soa.Serial, j.cur.Serial()) {
		return nil, nil, fmt.Errorf("%w: got %d, have %d", ErrNotNewer, res.soa.Serial, j.cur.Serial())
	}
	rrs := res.axfr
	if rrs == nil {
		if j.cur == nil {
			return nil, nil, fmt.Errorf("%w: incremental answer without a base version", ErrMalformed)
		}
		var err error
		if rrs, err = applyDiffs(j.cur, res.diffs); err != nil {
			return nil, nil, err
		}
	}
	if len(rrs) > m.o.Limits.MaxRecords {
		return nil, nil, fmt.Errorf("%w: %d records, limit %d", ErrTooLarge, len(rrs), m.o.Limits.MaxRecords)
	}
	z, err := buildZone(j.origin, rrs)
	if err != nil {
		return nil, nil, err
	}
	return z, res.diffs, nil
}

// querySOA asks primary for origin's SOA over UDP, and over TCP when the
// answer is truncated or UDP fails.
func querySOA(ctx context.Context, primary, origin string, key *tsigKey) (*dns.SOA, error) {
	soa, err := querySOAOver(ctx, "udp", primary, origin, key)
	if err == nil || ctx.Err() != nil || errors.Is(err, ErrRefused) {
		return soa, err
	}
	soa, tcpErr := querySOAOver(ctx, "tcp", primary, origin, key)
	if tcpErr != nil {
		return nil, fmt.Errorf("udp: %v; tcp: %w", err, tcpErr)
	}
	return soa, nil
}

var errTruncated = errors.New("truncated")

func querySOAOver(ctx context.Context, network, primary, origin string, key *tsigKey) (*dns.SOA, error) {
	q := new(dns.Msg)
	q.SetQuestion(origin, dns.TypeSOA)
	q.RecursionDesired = false
	c := &dns.Client{Net: network, Timeout: queryTimeout}
	if key != nil {
		c.TsigSecret = map[string]string{key.name: key.secret}
		q.SetTsig(key.name, key.alg, tsigFudge, 0)
	}
	r, _, err := c.ExchangeContext(ctx, q, primary)
	if err != nil {
		return nil, err
	}
	if key != nil && r.IsTsig() == nil {
		return nil, fmt.Errorf("%w: answer not signed", ErrTSIG)
	}
	if r.Truncated {
		return nil, errTruncated
	}
	if r.Rcode != dns.RcodeSuccess {
		return nil, fmt.Errorf("%w: %s", ErrRefused, dns.RcodeToString[r.Rcode])
	}
	for _, rr := range r.Answer {
		if soa, ok := rr.(*dns.SOA); ok && strings.EqualFold(soa.Hdr.Name, origin) {
			return soa, nil
		}
	}
	return nil, fmt.Errorf("%w: no SOA for %s in the answer", ErrMalformed, origin)
}

// buildZone builds a transferred zone; a zone NewZone refuses is a
// malformed transfer.
func buildZone(origin string, rrs []dns.RR) (*authdns.Zone, error) {
	z, err := authdns.NewZone(origin, rrs)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	return z, nil
}
