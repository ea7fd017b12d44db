// Package authdns holds the node's authoritative zone data and answers
// queries from it the way NSD 4.6 does.
//
// It is the bottom layer of the DNS service. Transfers (AXFR/IXFR) build a
// [Zone] from the records they receive and swap it into a [Zones] set; the
// network layer unpacks a query, calls [Zones.Answer] and then adds what is
// transport specific: the EDNS OPT record, NSID, truncation to the client's
// buffer size, RRL and metrics. CHAOS-class queries (id.server, version.bind)
// are that layer's job too; here they get REFUSED like any other non-IN class.
//
// # Naming
//
// The folder is services/dns, like every other service, but the package is
// called authdns: a package named dns would shadow github.com/miekg/dns,
// which every file here and every caller needs under its usual name. Import
// it as
//
//	authdns "github.com/goleudy/goleudy/services/dns"
//
// # Data layout
//
// A Zone is immutable once built, so readers take no locks; an update builds
// a new Zone and swaps a pointer. All records of a zone live in one byte
// slice in wire format (rdata as packed, names uncompressed), grouped by
// owner name and then by type, and each owner name is one node in a single
// map keyed by the lowercased name. A lookup turns the RRsets it needs back
// into dns.RR values; the apex RRsets, which most answers carry, and the
// NSEC3 chain are kept as dns.RR values. Empty non-terminals are nodes without RRsets, so "does
// this name exist" is one map lookup and the closest encloser is found by
// walking labels up from the query name: a lookup costs O(labels), whatever
// the size of the zone or the number of zones. Zone cuts are resolved at
// build time: each node knows the topmost delegation above it. NSEC owners
// are kept sorted in canonical order and NSEC3 hashes are kept sorted, so
// denial proofs are binary searches.
//
// Responses share RR values, and the address bytes of A and AAAA records,
// with the zone. Callers must treat the records of a response as read-only
// (copy before changing a TTL, say).
//
// # Behaviour, and where it differs from NSD 4.6.1
//
// The algorithm follows RFC 1034 section 4.3.2 as NSD implements it, since
// nodes are compared against NSD, and nsd_test.go checks
// every table case against a real NSD 4.6.1 byte for byte. Like NSD: the
// apex NS RRset goes in the authority section of positive answers (not for
// DS, DNSKEY or ANY); A/AAAA of in-zone NS, MX, KX, MB, RT and SRV targets
// go in the additional section (glue only for NS, wildcards expanded,
// AAAA first for NS over IPv6); ANY gets one RRset chosen like NSD's
// minimise-any (RFC 8482); CNAME chains are followed into other zones of
// the same set, and end in NXDOMAIN or NODATA with the SOA; QCLASS ANY is
// answered without AA and without SOA; other classes are REFUSED; negative
// answers carry the SOA and its RRSIGs with TTL min(SOA TTL, MINIMUM);
// names that share labels with the query name are written in the query's
// spelling, as NSD's name compression into the question does.
//
// Deliberate differences:
//
//   - DNAME is not synthesised: a DNAME RRset is served as ordinary data,
//     and names below it are looked up as if it were not there.
//   - A CNAME chain stops after 64 links (NSD stops only at a loop).
//   - A query for an NSEC3 owner name gets an ordinary closest encloser
//     NXDOMAIN proof; NSD leaves out the next closer NSEC3 in that case.
//   - For ANY without DO, an RRSIG RRset counts as coming after all other
//     RRsets of its name when picking the one RRset to return.
//   - Only the closest encloser of the query name is written in the
//     query's spelling, not names NSD knows only from rdata.
package authdns
