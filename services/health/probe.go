package health

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"

	"github.com/miekg/dns"
)

// Query is what a probe asks and what it expects back.
type Query struct {
	// Zone, if set, is asked for its SOA, and the answer must be NOERROR,
	// authoritative and hold the zone's SOA.
	Zone string
	// Identity is used when Zone is empty: CHAOS TXT id.server must be
	// answered NOERROR with exactly this text.
	Identity string
}

// String names the question, for logs and errors.
func (q Query) String() string {
	if q.Zone != "" {
		return dns.Fqdn(q.Zone) + " SOA"
	}
	return "id.server. CH TXT"
}

// ProbeFunc asks target q and returns nil if the answer is correct. It must
// return by ctx's deadline. Tests inject one; production uses [ProbeDNS].
type ProbeFunc func(ctx context.Context, target netip.AddrPort, q Query) error

// ProbeDNS sends q over UDP to target from this host and checks the
// answer. The context's deadline is the timeout; a timeout matches
// [ErrTimeout], a bad rcode [ErrRcode] and a wrong answer [ErrWrongAnswer].
func ProbeDNS(ctx context.Context, target netip.AddrPort, q Query) error {
	m := new(dns.Msg)
	if q.Zone != "" {
		m.SetQuestion(dns.Fqdn(q.Zone), dns.TypeSOA)
	} else {
		m.SetQuestion("id.server.", dns.TypeTXT)
		m.Question[0].Qclass = dns.ClassCHAOS
	}
	m.RecursionDesired = false
	c := dns.Client{Net: "udp"}
	resp, _, err := c.ExchangeContext(ctx, m, target.String())
	if err != nil {
		if ne, ok := errors.AsType[net.Error](err); ok && ne.Timeout() || errors.Is(err, context.DeadlineExceeded) {
			return fmt.Errorf("health: %s at %s: %w: %w", q, target, ErrTimeout, err)
		}
		return fmt.Errorf("health: %s at %s: %w", q, target, err)
	}
	if err := q.check(resp); err != nil {
		return fmt.Errorf("health: %s at %s: %w", q, target, err)
	}
	return nil
}

// check reports whether resp is the correct answer to q.
func (q Query) check(resp *dns.Msg) error {
	if resp.Rcode != dns.RcodeSuccess {
		return fmt.Errorf("%w %s", ErrRcode, dns.RcodeToString[resp.Rcode])
	}
	if q.Zone != "" {
		if !resp.Authoritative {
			return fmt.Errorf("%w: AA not set", ErrWrongAnswer)
		}
		for _, rr := range resp.Answer {
			if soa, ok := rr.(*dns.SOA); ok && strings.EqualFold(soa.Hdr.Name, dns.Fqdn(q.Zone)) {
				return nil
			}
		}
		return fmt.Errorf("%w: no SOA for %s in the answer", ErrWrongAnswer, dns.Fqdn(q.Zone))
	}
	for _, rr := range resp.Answer {
		if txt, ok := rr.(*dns.TXT); ok && txt.Hdr.Class == dns.ClassCHAOS && strings.Join(txt.Txt, "") == q.Identity {
			return nil
		}
	}
	return fmt.Errorf("%w: id.server is not %q", ErrWrongAnswer, q.Identity)
}
