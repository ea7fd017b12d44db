package config

import (
	"encoding/base64"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
)

// Limits that are not protocol ranges but sanity: beyond them a value is
// certainly a mistake.
const (
	MaxPrepend     = 10
	MaxPasswordLen = 80 // TCP_MD5SIG_MAXKEYLEN
)

var tsigAlgorithms = map[string]bool{
	"hmac-sha1": true, "hmac-sha224": true, "hmac-sha256": true,
	"hmac-sha384": true, "hmac-sha512": true,
}

// Validate reports every problem in c, each with its field path. It expects
// SetDefaults to have run.
func (c *Config) Validate() error {
	v := validator{}
	v.top(c)
	return v.err()
}

type validator struct{ problems }

func (v *validator) top(c *Config) {
	if c.Schema != Schema {
		if c.Schema == 0 {
			v.add("schema", "missing; must be %d", Schema)
		} else {
			v.add("schema", "%d is not supported; must be %d", c.Schema, Schema)
		}
	}
	if c.Serial == 0 {
		v.add("serial", "missing; must be at least 1")
	}
	v.node(c.Node)
	v.iface("interfaces.oob", c.Interfaces.OOB)
	v.iface("interfaces.ix", c.Interfaces.IX)
	v.anycast(c.Anycast)
	v.bgp(c.BGP)
	v.dns(c.DNS)
	keys := v.tsigKeys(c.TSIGKeys)
	names := make(map[string]string)
	v.zones("zones", c.Zones, keys, names)
	v.zones("catalogs", c.Catalogs, keys, names)
	v.downstreams(c.DNS.Downstreams, keys)
	v.management(c.Management)
	v.listeners("info.listen", c.Info.Listen)
	v.update(c.Update)
}

func (v *validator) update(u Update) {
	if u == (Update{}) {
		return
	}
	if u.Version == "" {
		v.add("update.version", "missing")
	} else if len(u.Version) > 64 || strings.ContainsAny(u.Version, " \t\n/") {
		v.add("update.version", "%q is not a version", u.Version)
	}
	if u.Build == 0 {
		v.add("update.build", "missing; must be at least 1")
	}
	if len(u.SHA256) != 64 || strings.Trim(u.SHA256, "0123456789abcdef") != "" {
		v.add("update.sha256", "%q is not 64 lower-case hex digits", u.SHA256)
	}
	if u.Size <= 0 {
		v.add("update.size", "missing; must be the slot image's size in bytes")
	}
	if uu, err := url.Parse(u.URL); err != nil || (uu.Scheme != "http" && uu.Scheme != "https") || uu.Host == "" {
		v.add("update.url", "%q is not an http(s) URL", u.URL)
	}
}

func (v *validator) node(n Node) {
	if n.ID == "" {
		v.add("node.id", "missing")
	} else if why := hostLabel(n.ID); why != "" {
		v.add("node.id", "%q %s", n.ID, why)
	}
	if n.FQDN != "" {
		// A host name, so the trailing dot is optional here.
		if why := domainName(strings.TrimSuffix(n.FQDN, ".") + "."); why != "" {
			v.add("node.fqdn", "%q %s", n.FQDN, why)
		}
	}
	if n.Board != "" {
		if why := hostLabel(n.Board); why != "" {
			v.add("node.board", "%q %s", n.Board, why)
		}
	}
	switch n.State {
	case StateLive, StateMaintenance, StateDrained:
	default:
		v.add("node.state", "%q is not a known state; must be %s, %s or %s", n.State, StateLive, StateMaintenance, StateDrained)
	}
	l := n.Location
	if l.Lat < -90 || l.Lat > 90 {
		v.add("node.location.lat", "%v must be -90..90", l.Lat)
	}
	if l.Lng < -180 || l.Lng > 180 {
		v.add("node.location.lng", "%v must be -180..180", l.Lng)
	}
	if l.CountryISO != "" && !isLower(l.CountryISO, 2) {
		v.add("node.location.countryiso", "%q must be a two-letter lower-case ISO 3166 code", l.CountryISO)
	}
}

func (v *validator) iface(path string, in Interface) {
	var subnets4 []netip.Prefix
	var has6 bool
	for i, a := range in.Addresses {
		p, err := netip.ParsePrefix(a)
		if err != nil {
			v.add(index(path+".addresses", i), "%q is not an address with prefix length (like 198.51.100.2/30)", a)
			continue
		}
		if p.Addr().Is4() {
			subnets4 = append(subnets4, p.Masked())
		} else {
			has6 = true
		}
	}
	// An empty match is the board's port for the role (board.json).
	if in.Gateway4 != "" {
		gw, err := netip.ParseAddr(in.Gateway4)
		switch {
		case err != nil || !gw.Is4():
			v.add(path+".gateway4", "%q is not an IPv4 address", in.Gateway4)
		case !in.DHCP4 && !containedIn(gw, subnets4):
			v.add(path+".gateway4", "%s is not inside any of this interface's IPv4 subnets", gw)
		}
	}
	if in.Gateway6 != "" {
		gw, err := netip.ParseAddr(in.Gateway6)
		switch {
		case err != nil || !gw.Is6() || gw.Is4In6():
			v.add(path+".gateway6", "%q is not an IPv6 address", in.Gateway6)
		case !has6 && !in.DHCP6:
			v.add(path+".gateway6", "set, but the interface has no IPv6 address")
		}
	}
}

func (v *validator) anycast(a Anycast) {
	if a.ASN == 0 && (len(a.Prefixes) > 0) {
		v.add("anycast.asn", "must be 1..4294967295")
	}
	v.asn("anycast.asn", a.ASN)
	var prefixes []netip.Prefix
	seen := make(map[netip.Prefix]bool)
	for i, s := range a.Prefixes {
		at := index("anycast.prefixes", i)
		p, err := netip.ParsePrefix(s)
		switch {
		case err != nil:
			v.add(at, "%q is not a prefix (like 192.0.2.0/24)", s)
		case p != p.Masked():
			v.add(at, "%q has host bits set; did you mean %s?", s, p.Masked())
		case seen[p]:
			v.add(at, "%s is listed more than once", p)
		default:
			seen[p] = true
			prefixes = append(prefixes, p)
		}
	}
	addrs := make(map[netip.Addr]bool)
	for i, s := range a.Addresses {
		at := index("anycast.addresses", i)
		ip, err := netip.ParseAddr(s)
		switch {
		case err != nil:
			v.add(at, "%q is not an IP address", s)
		case addrs[ip]:
			v.add(at, "%s is listed more than once", ip)
		case !containedIn(ip, prefixes):
			v.add(at, "%s is not inside any announced prefix in anycast.prefixes", ip)
		}
		addrs[ip] = true
	}
}

// asn checks a nonzero ASN; zero means "missing" and is reported by callers
// that require one.
func (v *validator) asn(path string, n uint32) {
	if n == 23456 {
		v.add(path, "23456 is AS_TRANS, not a real ASN")
	}
}

func (v *validator) bgp(b BGP) {
	if b.RouterID != "" {
		if ip, err := netip.ParseAddr(b.RouterID); err != nil || !ip.Is4() {
			v.add("bgp.router_id", "%q is not an IPv4 address", b.RouterID)
		}
	} else if len(b.Peers) > 0 {
		v.add("bgp.router_id", "missing, and the IX interface has no IPv4 address to take it from")
	}
	names := make(map[string]bool)
	neighbors := make(map[netip.Addr]bool)
	for i, p := range b.Peers {
		at := index("bgp.peers", i)
		switch {
		case p.Name == "":
			v.add(at+".name", "missing")
		case names[p.Name]:
			v.add(at+".name", "%q is used by another peer", p.Name)
		}
		names[p.Name] = true
		if p.ASN == 0 {
			v.add(at+".asn", "must be 1..4294967295")
		}
		v.asn(at+".asn", p.ASN)
		ip, err := netip.ParseAddr(p.Neighbor)
		switch {
		case p.Neighbor == "":
			v.add(at+".neighbor", "missing")
		case err != nil:
			v.add(at+".neighbor", "%q is not an IP address", p.Neighbor)
		case neighbors[ip]:
			v.add(at+".neighbor", "%s is used by another peer", ip)
		}
		neighbors[ip] = true
		for j, s := range p.Communities {
			if why := community(s, 2, 0xffff); why != "" {
				v.add(index(at+".communities", j), "%q %s", s, why)
			}
		}
		for j, s := range p.LargeCommunities {
			if why := community(s, 3, 0xffffffff); why != "" {
				v.add(index(at+".large_communities", j), "%q %s", s, why)
			}
		}
		if p.Prepend < 0 || p.Prepend > MaxPrepend {
			v.add(at+".prepend", "%d must be 0..%d", p.Prepend, MaxPrepend)
		}
		if len(p.Password) > MaxPasswordLen {
			v.add(at+".password", "is %d bytes; TCP-MD5 keys are at most %d", len(p.Password), MaxPasswordLen)
		}
		if p.Multihop != 0 && (p.Multihop < 2 || p.Multihop > 255) {
			v.add(at+".multihop", "%d must be 2..255 (or 0 for a directly connected neighbor)", p.Multihop)
		}
		if p.HoldTime < 3 || p.HoldTime > 65535 {
			v.add(at+".hold_time", "%d must be 3..65535 seconds", p.HoldTime)
		}
	}
}

func (v *validator) dns(d DNS) {
	v.listeners("dns.listen", d.Listen)
	if len(d.NSID) > 512 {
		v.add("dns.nsid", "is %d bytes; at most 512", len(d.NSID))
	}
	if len(d.Identity) > 255 {
		v.add("dns.identity", "is %d bytes; at most 255 fit in a TXT string", len(d.Identity))
	}
	if len(d.Version) > 255 {
		v.add("dns.version", "is %d bytes; at most 255 fit in a TXT string", len(d.Version))
	}
	if d.UDPSize < 512 || d.UDPSize > 4096 {
		v.add("dns.udp_size", "%d must be 512..4096 (1232 avoids fragmentation)", d.UDPSize)
	}
	r := d.RRL
	if r.ResponsesPerSecond < 0 {
		v.add("dns.rrl.responses_per_second", "%d must not be negative (0 turns rate limiting off)", r.ResponsesPerSecond)
	}
	if r.Slip < 0 || r.Slip > 10 {
		v.add("dns.rrl.slip", "%d must be 1..10 (default 2: every second limited response goes out truncated)", r.Slip)
	}
	if r.IPv4PrefixLength < 0 || r.IPv4PrefixLength > 32 {
		v.add("dns.rrl.ipv4_prefix_length", "%d must be 0..32", r.IPv4PrefixLength)
	}
	if r.IPv6PrefixLength < 0 || r.IPv6PrefixLength > 128 {
		v.add("dns.rrl.ipv6_prefix_length", "%d must be 0..128", r.IPv6PrefixLength)
	}
}

func (v *validator) listeners(path string, list []string) {
	seen := make(map[netip.AddrPort]bool)
	for i, s := range list {
		at := index(path, i)
		ap, why := ipPort(s)
		switch {
		case why != "":
			v.add(at, "%q %s", s, why)
		case seen[ap]:
			v.add(at, "%s is listed more than once", ap)
		}
		seen[ap] = true
	}
}

func (v *validator) tsigKeys(keys []TSIGKey) map[string]bool {
	known := make(map[string]bool)
	for i, k := range keys {
		at := index("tsig_keys", i)
		name := canonical(k.Name)
		switch {
		case k.Name == "":
			v.add(at+".name", "missing")
		case domainName(strings.TrimSuffix(k.Name, ".")+".") != "":
			v.add(at+".name", "%q is not a valid key name", k.Name)
		case known[name]:
			v.add(at+".name", "%q is defined more than once", k.Name)
		}
		known[name] = true
		if !tsigAlgorithms[k.Algorithm] {
			v.add(at+".algorithm", "%q is not supported; use hmac-sha256, hmac-sha384 or hmac-sha512", k.Algorithm)
		}
		if k.Secret == "" {
			v.add(at+".secret", "missing")
		} else if _, err := base64.StdEncoding.DecodeString(k.Secret); err != nil {
			v.add(at+".secret", "is not valid base64")
		}
	}
	return known
}

// zones checks zones or catalogs. names is shared between the two lists so
// that a zone and a catalog cannot have the same name.
func (v *validator) zones(path string, zones []Zone, keys map[string]bool, names map[string]string) {
	for i, z := range zones {
		at := index(path, i)
		name := canonical(z.Name)
		if why := domainName(z.Name); why != "" {
			v.add(at+".name", "%q %s", z.Name, why)
		} else if prev, dup := names[name]; dup {
			v.add(at+".name", "%q is already listed at %s", z.Name, prev)
		} else {
			names[name] = at
		}
		if len(z.Primaries) == 0 {
			v.add(at+".primaries", "missing; a secondary zone needs at least one primary")
		}
		seen := make(map[netip.AddrPort]bool)
		for j, p := range z.Primaries {
			ap, why := ipPort(p)
			switch {
			case why != "":
				v.add(index(at+".primaries", j), "%q %s", p, why)
			case seen[ap]:
				v.add(index(at+".primaries", j), "%s is listed more than once", ap)
			}
			seen[ap] = true
		}
		if z.TSIG != "" && !keys[canonical(z.TSIG)] {
			v.add(at+".tsig", "key %q is not defined in tsig_keys", z.TSIG)
		}
	}
}

func (v *validator) downstreams(ds []Downstream, keys map[string]bool) {
	seen := make(map[netip.Addr]bool)
	for i, d := range ds {
		at := index("dns.downstreams", i)
		ap, why := ipPort(d.Address)
		switch {
		case why != "":
			v.add(at+".address", "%q %s", d.Address, why)
		case seen[ap.Addr()]:
			v.add(at+".address", "%s is listed more than once", ap.Addr())
		}
		seen[ap.Addr()] = true
		if d.TSIG != "" && !keys[canonical(d.TSIG)] {
			v.add(at+".tsig", "key %q is not defined in tsig_keys", d.TSIG)
		}
	}
}

func (v *validator) management(m Management) {
	wg := m.WireGuard
	if wg.Endpoint != "" {
		if _, port, err := net.SplitHostPort(wg.Endpoint); err != nil || !validPort(port) {
			v.add("management.wireguard.endpoint", "%q is not host:port", wg.Endpoint)
		}
	}
	if wg.PublicKey != "" {
		if b, err := base64.StdEncoding.DecodeString(wg.PublicKey); err != nil || len(b) != 32 {
			v.add("management.wireguard.public_key", "is not a base64 WireGuard key (32 bytes)")
		}
	}
	if wg.Address != "" {
		if _, err := netip.ParsePrefix(wg.Address); err != nil {
			v.add("management.wireguard.address", "%q is not an address with prefix length (like 10.53.0.7/32)", wg.Address)
		}
	}
	for i, s := range wg.AllowedIPs {
		if _, err := netip.ParsePrefix(s); err != nil {
			v.add(index("management.wireguard.allowed_ips", i), "%q is not a prefix", s)
		}
	}
	if m.ConfigURL != "" {
		u, err := url.Parse(m.ConfigURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			v.add("management.config_url", "%q is not an http or https URL", m.ConfigURL)
		}
	}
	if m.AdminListen != "" {
		if _, why := ipPort(m.AdminListen); why != "" {
			v.add("management.admin_listen", "%q %s", m.AdminListen, why)
		}
	}
}

func containedIn(ip netip.Addr, prefixes []netip.Prefix) bool {
	for _, p := range prefixes {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// ipPort parses a listen or primary address; it returns a reason on failure.
func ipPort(s string) (netip.AddrPort, string) {
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return netip.AddrPort{}, "is not host:port (IPv6 goes in brackets, like [2001:db8::53]:53)"
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return netip.AddrPort{}, "must have an IP address as host"
	}
	if !validPort(port) {
		return netip.AddrPort{}, "has port " + strconv.Quote(port) + "; must be 1..65535"
	}
	n, _ := strconv.Atoi(port)
	return netip.AddrPortFrom(ip, uint16(n)), ""
}

func validPort(s string) bool {
	n, err := strconv.Atoi(s)
	return err == nil && n >= 1 && n <= 65535
}

// community checks "a:b" (parts=2) or "a:b:c" (parts=3) with each part at most max.
func community(s string, parts int, max uint64) string {
	f := strings.Split(s, ":")
	if len(f) != parts {
		if parts == 2 {
			return "is not a community (like 64500:100)"
		}
		return "is not a large community (like 64500:1:2)"
	}
	for _, x := range f {
		n, err := strconv.ParseUint(x, 10, 64)
		if err != nil || n > max {
			return fmt.Sprintf("has a part out of range; each must be 0..%d", max)
		}
	}
	return ""
}

// hostLabel accepts what may be used as one DNS label, a file name and a
// WireGuard peer name at once: lower-case letters, digits and inner hyphens.
func hostLabel(s string) string {
	if len(s) > 63 {
		return "is longer than 63 characters"
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		ok := c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' && i > 0 && i < len(s)-1
		if !ok {
			return "may only hold lower-case letters, digits and inner hyphens"
		}
	}
	return ""
}

// domainName checks a fully qualified domain name in presentation format.
func domainName(s string) string {
	if s == "." {
		return ""
	}
	if !strings.HasSuffix(s, ".") {
		return fmt.Sprintf("is not fully qualified; end it with a dot (%q)", s+".")
	}
	if len(s) > 254 {
		return "is longer than 255 octets"
	}
	for _, l := range strings.Split(strings.TrimSuffix(s, "."), ".") {
		if l == "" {
			return "has an empty label"
		}
		if len(l) > 63 {
			return "has a label longer than 63 characters"
		}
		for i := 0; i < len(l); i++ {
			if c := l[i]; c <= ' ' || c >= 0x7f || c == '\\' || c == '"' || c == '(' || c == ')' || c == ';' || c == '@' || c == '$' {
				return fmt.Sprintf("has %q in label %q", c, l)
			}
		}
	}
	return ""
}

func canonical(name string) string {
	return strings.ToLower(strings.TrimSuffix(name, "."))
}

func isLower(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 'a' || s[i] > 'z' {
			return false
		}
	}
	return true
}
