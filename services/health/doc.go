// Package health is the anycast health gate: it decides, prefix by prefix,
// whether this node may announce its anycast prefixes over BGP.
//
// Anycast only helps if a broken node leaves routing fast: while a node
// announces a prefix it attracts the queries of a whole catchment, and if
// its DNS is down those queries are lost until the route goes. So the
// [Service] asks the node's own DNS server, over UDP from the node itself,
// the question a resolver would, on every anycast service address (a
// dns.listen address inside the prefix), and reports each prefix's verdict
// through [Options.OnChange]; the BGP speaker announces a prefix only while
// it is healthy. The data flow is
//
//	config ──Apply──▶ health ──query──▶ local DNS on the anycast addresses
//	                    │
//	                    └──OnChange(prefix, healthy)──▶ bgp (announce/withdraw)
//
// # What counts as healthy
//
// Only local DNS answers count. The gate never looks at the primaries, the
// zone transfers, the management tunnel or the provisioning server: a node
// that still answers correctly serves its catchment well and must stay
// announced even when it is cut off from everything upstream, and gating on
// upstream reachability would withdraw every node at once when a primary
// or the tunnel hub fails. (A zone that has expired makes the local server
// answer SERVFAIL, and that does fail the check, because then the node no
// longer answers correctly.)
//
// A probe asks for the SOA of a served zone (the first in the config,
// unless [Options.Zone] picks one) and wants NOERROR, the AA bit and that
// SOA in the answer. With no zones configured it asks CHAOS TXT id.server
// and wants NOERROR and the node's identity. A timeout, a network error,
// any other rcode or a wrong answer is a failure.
//
// A prefix is healthy while at least one of its service addresses answers
// correctly. The server is one process answering every address from one
// zone store and binds all its addresses or none, so the failures that
// matter (process down, zones gone, host wedged) show on every address at
// once. Requiring all addresses to answer would instead multiply the
// chance that one lost UDP packet counts against the node, and withdrawing
// the prefix would also take away the addresses that still answer, whose
// clients' resolvers would otherwise just retry another address.
//
// A prefix with no service address inside it is never healthy: announcing
// it would attract traffic that nothing here is known to answer.
//
// # Timing
//
// Every Interval the service probes all targets concurrently, each with
// its own Timeout, and counts the round per prefix as a success or a
// failure. A prefix starts unhealthy, becomes healthy after Rise
// consecutive successful rounds and unhealthy after Fall consecutive
// failed ones. With the defaults (interval 250ms, timeout 300ms, fall 2,
// rise 3), a server that stops answering is detected within 850ms in the
// worst case (a packet black hole: one interval until the next round, then
// two rounds that each wait out the timeout) and within 500ms when the
// failure is immediate (refused port, SERVFAIL). That leaves more than a
// second of the two-second budget for BGP to send the withdrawal; see
// [Options.FailureBound]. A recovered server is announced again after at
// most about 800ms.
//
// The gate fails closed: when Run returns, every prefix becomes unhealthy
// (and OnChange says so), because a verdict nobody keeps checking must not
// keep a prefix announced.
package health
