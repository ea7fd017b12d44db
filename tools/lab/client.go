package lab

import (
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/miekg/dns"
)

// AskTimeout bounds one exchange. Loopback answers take microseconds; a
// server that has not answered in this long has dropped the query.
const AskTimeout = 2 * time.Second

// Ask sends m to addr over network ("udp" or "tcp") and returns the reply.
// A UDP query that times out is sent once more before giving up. The read
// buffer is sized by the query's EDNS payload size, as a resolver's would
// be, so an oversized UDP reply shows up as an error rather than passing.
func Ask(addr string, m *dns.Msg, network string) (*dns.Msg, error) {
	c := &dns.Client{Net: network, Timeout: AskTimeout}
	tries := 1
	if network == "udp" {
		tries = 2
	}
	var err error
	for range tries {
		var r *dns.Msg
		r, _, err = c.Exchange(m, addr)
		if err == nil {
			return r, nil
		}
		var ne net.Error
		if !errors.As(err, &ne) || !ne.Timeout() {
			break
		}
	}
	return nil, fmt.Errorf("lab: ask %s %s over %s: %w", questionString(m), addr, network, err)
}

func questionString(m *dns.Msg) string {
	if len(m.Question) == 0 {
		return "(no question)"
	}
	q := m.Question[0]
	return q.Name + " " + dns.Type(q.Qtype).String()
}
