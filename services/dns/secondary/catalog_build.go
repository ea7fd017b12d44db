package secondary

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"

	"github.com/miekg/dns"
)

// The zone hub produces the catalog its nodes consume: BuildCatalog writes
// it and Manager.Publish serves it. Its SOA timers matter only as a
// fallback, since the hub NOTIFYs the nodes after every change: a node
// notices a missed NOTIFY within a minute (refresh), and keeps serving its
// members for two weeks (expire) when the hub is down.
const (
	catalogRefresh = 60
	catalogRetry   = 10
	catalogExpire  = 14 * 24 * 3600
	// catalogIDBytes of a member's SHA-256 make its unique id: 16 hex
	// digits, so ten million members collide with odds of about 3e-6,
	// and BuildCatalog refuses a collision rather than merging members.
	catalogIDBytes = 8
)

// BuildCatalog returns an RFC 9432 version 2 catalog zone named origin
// that lists members, for Manager.Publish:
//
//	origin               SOA invalid. invalid. serial 60 10 1209600 0
//	origin               NS  invalid.
//	version.origin       TXT "2"
//	ID.zones.origin      PTR member.        (one per member)
//
// A member's unique id is derived from its name alone, so a member keeps
// its id across versions and rebuilds: a changed id would make every
// consumer reset the zone (RFC 9432 section 5.3). Members are compared
// case-insensitively, listed once each and sorted; records have TTL 0, as
// catalogs are transferred, not queried.
func BuildCatalog(origin string, serial uint32, members []string) ([]dns.RR, error) {
	if _, ok := dns.IsDomainName(origin); !ok || origin == "" || hasSpaceOrControl(origin) {
		return nil, fmt.Errorf("dns: build catalog: %w: origin %q is not a domain name", ErrCatalog, origin)
	}
	origin = canonical(origin)
	names := make([]string, 0, len(members))
	for _, mem := range members {
		if _, ok := dns.IsDomainName(mem); !ok || mem == "" || hasSpaceOrControl(mem) {
			return nil, fmt.Errorf("dns: build catalog %s: %w: member %q is not a domain name", origin, ErrCatalog, mem)
		}
		c := canonical(mem)
		if c == origin {
			return nil, fmt.Errorf("dns: build catalog %s: %w: the catalog cannot list itself", origin, ErrCatalog)
		}
		names = append(names, c)
	}
	slices.Sort(names)
	names = slices.Compact(names)

	hdr := func(name string, t uint16) dns.RR_Header {
		return dns.RR_Header{Name: name, Rrtype: t, Class: dns.ClassINET}
	}
	rrs := make([]dns.RR, 0, len(names)+3)
	rrs = append(rrs,
		&dns.SOA{Hdr: hdr(origin, dns.TypeSOA), Ns: "invalid.", Mbox: "invalid.", Serial: serial,
			Refresh: catalogRefresh, Retry: catalogRetry, Expire: catalogExpire, Minttl: 0},
		&dns.NS{Hdr: hdr(origin, dns.TypeNS), Ns: "invalid."},
		&dns.TXT{Hdr: hdr("version."+origin, dns.TypeTXT), Txt: []string{"2"}})
	ids := make(map[string]string, len(names)) // id → member
	for _, name := range names {
		id := catalogID(name)
		if prev, dup := ids[id]; dup {
			return nil, fmt.Errorf("dns: build catalog %s: %w: members %s and %s hash to the same id %s", origin, ErrCatalog, prev, name, id)
		}
		ids[id] = name
		rrs = append(rrs, &dns.PTR{Hdr: hdr(id+".zones."+origin, dns.TypePTR), Ptr: name})
	}
	return rrs, nil
}

// catalogID is the unique id BuildCatalog gives member: the hex of
// the first bytes of the SHA-256 of its lowercased, fully qualified name.
func catalogID(member string) string {
	sum := sha256.Sum256([]byte(canonical(member)))
	return hex.EncodeToString(sum[:catalogIDBytes])
}

// hasSpaceOrControl reports whether a name holds bytes that
// dns.IsDomainName lets through but that no zone the hub serves is named
// with: whitespace and control characters are a typo or an injection.
func hasSpaceOrControl(name string) bool {
	return strings.ContainsFunc(name, func(r rune) bool { return r <= ' ' || r == 0x7f })
}
