package dnsserver

import (
	"sync/atomic"

	"github.com/miekg/dns"
)

// Stats counts what the server did, for metrics and status. All fields are
// read and written atomically.
type Stats struct {
	Queries    atomic.Uint64
	CacheHits  atomic.Uint64
	SlowPath   atomic.Uint64
	RRLDropped atomic.Uint64
	RRLSlipped atomic.Uint64
	SendErrors atomic.Uint64
	TCPRefused atomic.Uint64
	// Rcodes counts responses by RCODE (extended RCODEs in the last slot).
	Rcodes [dns.RcodeBadCookie + 1]atomic.Uint64
}

func (s *Stats) countRcode(rcode int) {
	s.Rcodes[min(rcode, len(s.Rcodes)-1)].Add(1)
}
