package secondary

import (
	"context"
	"fmt"
	"net"
	"strings"
	"testing"

	"github.com/miekg/dns"

	authdns "github.com/goleudy/goleudy/services/dns"
)

// genRecords makes an n-record zone: an apex with SOA and NS, then host<i>
// names with an A record, every fourth with an AAAA too.
func genRecords(origin string, serial uint32, n int) []dns.RR {
	hdr := func(name string, t uint16) dns.RR_Header {
		return dns.RR_Header{Name: name, Rrtype: t, Class: dns.ClassINET, Ttl: 3600}
	}
	rrs := make([]dns.RR, 0, n)
	rrs = append(rrs,
		&dns.SOA{Hdr: hdr(origin, dns.TypeSOA), Ns: "ns1." + origin, Mbox: "hostmaster." + origin, Serial: serial, Refresh: 7200, Retry: 900, Expire: 1209600, Minttl: 300},
		&dns.NS{Hdr: hdr(origin, dns.TypeNS), Ns: "ns1." + origin},
		&dns.A{Hdr: hdr("ns1."+origin, dns.TypeA), A: net.IPv4(192, 0, 2, 53).To4()})
	for i := 0; len(rrs) < n; i++ {
		name := fmt.Sprintf("host%d.%s", i, origin)
		rrs = append(rrs, &dns.A{Hdr: hdr(name, dns.TypeA), A: net.IPv4(10, byte(i>>16), byte(i>>8), byte(i)).To4()})
		if i%4 == 0 && len(rrs) < n {
			rrs = append(rrs, &dns.AAAA{Hdr: hdr(name, dns.TypeAAAA), AAAA: net.ParseIP(fmt.Sprintf("2001:db8::%x:%x", i>>16, i&0xffff))})
		}
	}
	return rrs
}

func mustZone(tb testing.TB, origin string, rrs []dns.RR) *authdns.Zone {
	tb.Helper()
	z, err := authdns.NewZone(origin, rrs)
	if err != nil {
		tb.Fatal(err)
	}
	return z
}

// parseRRs parses master-file lines relative to origin.
func parseRRs(tb testing.TB, origin, text string) []dns.RR {
	tb.Helper()
	zp := dns.NewZoneParser(strings.NewReader("$TTL 3600\n"+text), origin, "")
	var rrs []dns.RR
	for rr, ok := zp.Next(); ok; rr, ok = zp.Next() {
		rrs = append(rrs, rr)
	}
	if err := zp.Err(); err != nil {
		tb.Fatal(err)
	}
	return rrs
}

// zoneStrings returns the zone's records as sorted presentation lines.
func zoneStrings(z *authdns.Zone) []string {
	var out []string
	for rr := range z.All() {
		out = append(out, rr.String())
	}
	sortStrings(out)
	return out
}

func contextWithCancel() (context.Context, context.CancelFunc) {
	return context.WithCancel(context.Background())
}
