package authdns

import (
	"fmt"
	"io"

	"github.com/miekg/dns"
)

// ParseZone reads a zone in master file format (RFC 1035 section 5) and
// builds it. file names the source in errors; syntax errors carry its line
// and column ("file: dns: bad A A: "1.2.3" at line: 7:12"). $INCLUDE is
// refused: a node only ever reads zones it was sent.
func ParseZone(r io.Reader, origin, file string) (*Zone, error) {
	zp := dns.NewZoneParser(r, lower(origin), file)
	zp.SetIncludeAllowed(false)
	var rrs []dns.RR
	for rr, ok := zp.Next(); ok; rr, ok = zp.Next() {
		rrs = append(rrs, rr)
	}
	if err := zp.Err(); err != nil {
		return nil, fmt.Errorf("dns: zone %s: %w", lower(origin), err)
	}
	return NewZone(origin, rrs)
}
