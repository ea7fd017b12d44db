// Package secondary is the zone-transfer half of the node's DNS service:
// it keeps every zone the node is secondary for current, and hands the
// result to the query side.
//
// Data flows like this:
//
//	config (zones, catalogs, keys) ──Configure──▶ Manager
//	primary ──SOA query, IXFR/AXFR (TSIG)──▶ Manager ──Replace──▶ Store (authdns.Zones) ──▶ queries
//	primary ──NOTIFY──▶ dnsserver ──Notify──▶ Manager (refresh at once)
//	Manager ──zone files──▶ state dir ──at boot──▶ Manager (served before any primary answers)
//	downstream ◀──NOTIFY── Manager; downstream ──AXFR/IXFR──▶ dnsserver ──Transfer──▶ Manager
//
// A [Manager] owns one record per zone: its configuration (primaries, TSIG
// key, where it came from), the current [authdns.Zone], the SOA timers and
// the status shown on the admin page. One scheduler goroutine in
// [Manager.Run] keeps a single clock timer on the earliest refresh or
// expiry deadline and starts refreshes on a bounded pool (Options.
// MaxTransfers), so ten thousand zones cost ten thousand small structs, not
// ten thousand goroutines. All waiting goes through a clock.Clock, so
// tests drive hours of SOA timers on a fake clock.
//
// A refresh asks each primary in turn for its SOA (UDP, TCP when
// truncated or failed). When the serial is newer (RFC 1982) it transfers
// by IXFR when it has a version, by AXFR otherwise or when IXFR fails, and
// fails over to the next primary on any error. A transfer is checked
// record by record (framing SOAs, in-zone names, Limits), then built with
// authdns.NewZone; only then does it replace the served zone, so a bad
// transfer never takes down a good zone. The new zone is then written to
// the state dir in a checksummed wire-format file that loads without text
// parsing.
//
// Catalog zones (RFC 9432, version 2) are transferred like other zones but
// never put in the Store, so they are not answered publicly; their member
// zones are added and removed as the catalog changes. Zones configured
// explicitly win over catalog members of the same name.
//
// The zone hub also authors a zone: the catalog listing its customer
// zones, built with [BuildCatalog] and served with [Manager.Publish].
// Published zones are served, transferred and NOTIFYed like the others
// (IXFR from a journal of the differences between published versions),
// but have no primary, so they are never refreshed and never expire,
// and are not saved: the hub publishes them again when it starts.
//
// The Manager implements dnsserver.Transfers: NOTIFY from a zone's
// primaries triggers a refresh; AXFR and IXFR are served to the
// downstreams in Options (IXFR from a small in-memory journal of the diffs
// received, or in AXFR form when the journal does not reach back).
package secondary
