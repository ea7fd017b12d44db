package netconf

import (
	"cmp"
	"net/netip"
	"slices"
	"time"
)

// Address sources, as Status reports them.
const (
	SourceDHCP4  = "dhcp4"
	SourceDHCP6  = "dhcp6"
	SourceSLAAC  = "slaac"
	SourceStatic = "static" // the config's addresses, or the seed's fallback
)

// Status is the node's network by role.
type Status struct {
	Running bool
	OOB     Port
	IX      Port
	// Probing lists the ports DHCP is trying while no match names OOB and
	// none has a lease yet.
	Probing []string
	// AnycastLink is anycast0, or lo when the kernel cannot make a dummy.
	AnycastLink string
	Anycast     []netip.Prefix
}

// Port is one role's port.
type Port struct {
	Name      string // "" when no port is found
	MAC       string
	Carrier   bool
	Addresses []Address
	Gateway4  netip.Addr // the configured, leased or static gateway
	Gateway6  netip.Addr // the configured or static gateway (RA routers are not listed)
	DNS       []netip.Addr
	// Error says why the port is missing or not fully configured.
	Error string
}

// Address is one address on a port and where it came from.
type Address struct {
	Prefix  netip.Prefix
	Source  string    // SourceDHCP4, SourceDHCP6, SourceSLAAC or SourceStatic
	Expires time.Time // lease expiry; zero for static and infinite leases
}

// Has4 reports whether the port has an IPv4 address.
func (p Port) Has4() bool {
	return slices.ContainsFunc(p.Addresses, func(a Address) bool { return a.Prefix.Addr().Is4() })
}

// Prefixes lists the port's addresses, sorted.
func (p Port) Prefixes() []netip.Prefix {
	out := make([]netip.Prefix, len(p.Addresses))
	for i, a := range p.Addresses {
		out[i] = a.Prefix
	}
	slices.SortFunc(out, func(a, b netip.Prefix) int {
		if c := a.Addr().Compare(b.Addr()); c != 0 {
			return c
		}
		return a.Bits() - b.Bits()
	})
	return out
}

// statusLocked builds the Status.
func (m *Manager) statusLocked() Status {
	rs := m.rs
	if rs == nil {
		return Status{}
	}
	st := Status{Running: true, AnycastLink: rs.anyLink}
	for name := range rs.probes {
		st.Probing = append(st.Probing, name)
	}
	slices.Sort(st.Probing)
	oobLink := rs.oob
	if oobLink == "" && rs.static {
		oobLink = m.staticLinkLocked(rs)
	}
	src := m.sourcesLocked(rs)
	st.OOB, st.IX = m.portLocked(rs, oobLink, src), m.portLocked(rs, rs.ix, src)
	if oobLink != "" {
		// SLAAC's addresses are the kernel's: they have lifetimes, ours
		// do not.
		if addrs, err := m.k.addrs(oobLink); err == nil {
			for _, a := range addrs {
				if _, ours := src[a.prefix]; !ours && a.dynamic && a.prefix.Addr().Is6() && a.prefix.Addr().IsGlobalUnicast() {
					st.OOB.Addresses = append(st.OOB.Addresses, Address{Prefix: a.prefix, Source: SourceSLAAC})
				}
			}
		}
	}
	for _, p := range []*Port{&st.OOB, &st.IX} {
		slices.SortFunc(p.Addresses, func(a, b Address) int { return a.Prefix.Addr().Compare(b.Prefix.Addr()) })
	}
	st.OOB.Gateway4, st.OOB.Gateway6 = m.want.oob.gw4, m.want.oob.gw6
	if rs.static && m.static != nil {
		st.OOB.Gateway4 = cmp.Or(st.OOB.Gateway4, m.static.gw4)
		st.OOB.Gateway6 = cmp.Or(st.OOB.Gateway6, m.static.gw6)
	}
	if rs.lease4 != nil {
		st.OOB.Gateway4 = cmp.Or(rs.lease4.router, st.OOB.Gateway4)
	}
	st.OOB.DNS = m.dnsLocked(rs)
	st.IX.Gateway4, st.IX.Gateway6 = m.want.ix.gw4, m.want.ix.gw6
	if rs.oobErr != nil {
		st.OOB.Error = rs.oobErr.Error()
	}
	if rs.ixErr != nil {
		st.IX.Error = rs.ixErr.Error()
	}
	for o := range rs.have {
		if a, ok := o.(addrObj); ok && a.link == rs.anyLink && slices.Contains(m.want.anycastAddrs, a.prefix.Addr()) {
			st.Anycast = append(st.Anycast, a.prefix)
		}
	}
	slices.SortFunc(st.Anycast, func(a, b netip.Prefix) int { return a.Addr().Compare(b.Addr()) })
	return st
}

// sourcesLocked says where each address the Manager puts on a port comes
// from.
func (m *Manager) sourcesLocked(rs *runState) map[netip.Prefix]Address {
	src := map[netip.Prefix]Address{}
	set := func(p netip.Prefix, s string, l *lease) {
		if !p.IsValid() {
			return
		}
		a := Address{Prefix: p, Source: s}
		if l != nil && !l.forever {
			a.Expires = l.expiry()
		}
		src[p] = a
	}
	for _, p := range slices.Concat(m.want.oob.addrs, m.want.ix.addrs) {
		set(p, SourceStatic, nil)
	}
	if rs.static && m.static != nil {
		set(m.static.addr4, SourceStatic, nil)
		set(m.static.addr6, SourceStatic, nil)
	}
	if rs.lease4 != nil {
		set(rs.lease4.addr, SourceDHCP4, rs.lease4)
	}
	if rs.lease6 != nil {
		set(rs.lease6.addr, SourceDHCP6, rs.lease6)
	}
	return src
}

// portLocked is a port's status: its link, and those of its addresses
// that are in place.
func (m *Manager) portLocked(rs *runState, name string, src map[netip.Prefix]Address) Port {
	p := Port{Name: name}
	if name == "" {
		return p
	}
	if li, err := m.k.link(name); err == nil {
		p.MAC, p.Carrier = li.mac.String(), li.carrier
	}
	for o := range rs.have {
		if a, ok := o.(addrObj); ok && a.link == name {
			if s, ok := src[a.prefix]; ok {
				p.Addresses = append(p.Addresses, s)
			}
		}
	}
	return p
}

// dnsLocked is the OOB's DNS servers: from the leases, else the seed's.
func (m *Manager) dnsLocked(rs *runState) []netip.Addr {
	var dns []netip.Addr
	for _, l := range []*lease{rs.lease4, rs.lease6} {
		if l != nil {
			dns = append(dns, l.dns...)
		}
	}
	if len(dns) == 0 && rs.static && m.static != nil {
		dns = append(dns, m.static.dns...)
	}
	return dns
}
