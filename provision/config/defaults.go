package config

import (
	"net"
	"net/netip"
)

// Defaults for fields an operator may leave out.
const (
	DefaultHoldTime      = 90
	DefaultTSIGAlgorithm = "hmac-sha256"
	DefaultDNSPort       = "53"
	DefaultUDPSize       = 1232
	DefaultRRLSlip       = 2
	DefaultRRLIPv4Prefix = 24
	DefaultRRLIPv6Prefix = 56
)

// SetDefaults fills in what the operator left out. It derives values from
// other fields, so it runs before Validate, and it never overwrites a value
// that was given. Values it cannot derive are left for Validate to report.
func (c *Config) SetDefaults() {
	if c.Node.State == "" {
		c.Node.State = StateLive
	}
	if c.DNS.Identity == "" {
		c.DNS.Identity = c.Node.ID
	}
	if c.DNS.NSID == "" {
		c.DNS.NSID = c.DNS.Identity
	}
	if c.DNS.UDPSize == 0 {
		c.DNS.UDPSize = DefaultUDPSize
	}
	if r := &c.DNS.RRL; r.ResponsesPerSecond > 0 {
		if r.Slip == 0 {
			r.Slip = DefaultRRLSlip
		}
		if r.IPv4PrefixLength == 0 {
			r.IPv4PrefixLength = DefaultRRLIPv4Prefix
		}
		if r.IPv6PrefixLength == 0 {
			r.IPv6PrefixLength = DefaultRRLIPv6Prefix
		}
	}
	// A node exists to answer on its anycast addresses.
	if len(c.DNS.Listen) == 0 {
		for _, a := range c.Anycast.Addresses {
			if ip, err := netip.ParseAddr(a); err == nil {
				c.DNS.Listen = append(c.DNS.Listen, netip.AddrPortFrom(ip, 53).String())
			}
		}
	}
	if c.BGP.RouterID == "" && len(c.BGP.Peers) > 0 {
		for _, a := range c.Interfaces.IX.Addresses {
			if p, err := netip.ParsePrefix(a); err == nil && p.Addr().Is4() {
				c.BGP.RouterID = p.Addr().String()
				break
			}
		}
	}
	for i := range c.BGP.Peers {
		if c.BGP.Peers[i].HoldTime == 0 {
			c.BGP.Peers[i].HoldTime = DefaultHoldTime
		}
	}
	for _, zs := range [][]Zone{c.Zones, c.Catalogs} {
		for i := range zs {
			for j, p := range zs[i].Primaries {
				zs[i].Primaries[j] = withDefaultPort(p)
			}
		}
	}
	for i := range c.DNS.Downstreams {
		c.DNS.Downstreams[i].Address = withDefaultPort(c.DNS.Downstreams[i].Address)
	}
	for i := range c.TSIGKeys {
		if c.TSIGKeys[i].Algorithm == "" {
			c.TSIGKeys[i].Algorithm = DefaultTSIGAlgorithm
		}
	}
}

// withDefaultPort adds port 53 to a bare IP address, so "10.53.0.1" and
// "2001:db8::1" mean the primary's DNS port.
func withDefaultPort(s string) string {
	if ip, err := netip.ParseAddr(s); err == nil {
		return net.JoinHostPort(ip.String(), DefaultDNSPort)
	}
	return s
}
