package netconf

import (
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"time"

	"github.com/goleudy/goleudy/provision/api"
	"github.com/goleudy/goleudy/provision/config"
	"github.com/goleudy/goleudy/services/clock"
)

// Defaults for Options left zero.
const (
	DefaultStaticAfter = 15 * time.Second
	DefaultIXTable     = 100
	DefaultSysfsRoot   = "/sys"
	// RulePriority is the priority of the policy rules that send traffic
	// from IX and anycast addresses to the IX table: before the main
	// table's rule (32766), after the local table's (0).
	RulePriority = 1000
	// AnycastLink is the dummy interface the anycast addresses go on when
	// the kernel can create it.
	AnycastLink = "anycast0"
)

// Options configure a Manager.
type Options struct {
	// Interfaces and Anycast are the starting config (the last good one,
	// or nothing before the first); Apply replaces them.
	Interfaces config.Interfaces
	Anycast    config.Anycast
	// OOBMatch and IXMatch are the board's defaults, used when the config
	// leaves a role's Match empty.
	OOBMatch, IXMatch string
	// Static is the seed's OOB fallback, applied when no DHCPv4 lease
	// arrives within StaticAfter. Nil means none.
	Static      *api.StaticOOB
	StaticAfter time.Duration
	// IXTable is the routing table that holds the IX default routes.
	IXTable int
	// ResolvConf is where DNS servers from DHCP (or Static.DNS) are
	// written; "" means resolv.conf is left alone.
	ResolvConf string
	// SysfsRoot is where sysfs is mounted; tests give a fake tree.
	SysfsRoot string
	Clock     clock.Clock
	Log       *slog.Logger
	// OnChange is called, not under any lock, whenever the set of OOB
	// addresses changes, so the management tunnel can roam. It may call
	// Status and Apply.
	OnChange func(Status)
}

// tuning holds the retry timings; tests shorten them.
type tuning struct {
	retryMin, retryMax time.Duration // between failed DHCP acquisitions
	renewMin           time.Duration // shortest wait between renew attempts (RFC 2131: 60 s)
	dhcpTimeout        time.Duration // first retransmission timeout of one exchange
	dhcpTries          int           // transmissions in one exchange, the timeout doubling
	reconcileRetry     time.Duration // after a failed kernel change or a missing port
}

func defaultTuning() tuning {
	return tuning{
		retryMin: time.Second, retryMax: 60 * time.Second,
		renewMin:    60 * time.Second,
		dhcpTimeout: time.Second, dhcpTries: 4,
		reconcileRetry: 5 * time.Second,
	}
}

// role is one port's wanted configuration, parsed.
type role struct {
	match        string
	dhcp4, dhcp6 bool
	addrs        []netip.Prefix
	gw4, gw6     netip.Addr
}

// want is the parsed config the Manager works towards.
type want struct {
	oob, ix         role
	anycastPrefixes []netip.Prefix
	anycastAddrs    []netip.Addr
}

// staticOOB is the parsed seed fallback.
type staticOOB struct {
	addr4, addr6 netip.Prefix
	gw4, gw6     netip.Addr
	dns          []netip.Addr
}

// parseWant checks a config's interfaces and anycast sections, naming the
// field of every problem.
func parseWant(ifs config.Interfaces, ac config.Anycast, oobMatch, ixMatch string) (want, error) {
	var w want
	var errs []error
	// A config that says nothing about OOB gets the defaults a host's
	// management LAN most likely wants: DHCPv4, and IPv6 by DHCPv6 and
	// SLAAC.
	oob := ifs.OOB
	if oob.Match == "" && !oob.DHCP4 && !oob.DHCP6 && len(oob.Addresses) == 0 && oob.Gateway4 == "" && oob.Gateway6 == "" {
		oob.DHCP4, oob.DHCP6 = true, true
	}
	var err error
	if w.oob, err = parseRole("interfaces.oob", oob, oobMatch); err != nil {
		errs = append(errs, err)
	}
	if w.ix, err = parseRole("interfaces.ix", ifs.IX, ixMatch); err != nil {
		errs = append(errs, err)
	}
	if w.ix.dhcp4 || w.ix.dhcp6 {
		errs = append(errs, errors.New("interfaces.ix: DHCP is not supported on IX; give static addresses"))
	}
	if w.ix.match != "" && w.oob.match != "" && w.ix.match == w.oob.match {
		errs = append(errs, fmt.Errorf("interfaces: oob and ix both match %q", w.ix.match))
	}
	seen := map[netip.Prefix]bool{}
	for i, s := range ac.Prefixes {
		p, err := netip.ParsePrefix(s)
		switch {
		case err != nil:
			errs = append(errs, fmt.Errorf("anycast.prefixes[%d]: %q is not a prefix (like 192.0.2.0/24)", i, s))
		case p != p.Masked():
			errs = append(errs, fmt.Errorf("anycast.prefixes[%d]: %q has host bits set", i, s))
		case !seen[p]:
			seen[p] = true
			w.anycastPrefixes = append(w.anycastPrefixes, p)
		}
	}
	seenA := map[netip.Addr]bool{}
	for i, s := range ac.Addresses {
		a, err := netip.ParseAddr(s)
		switch {
		case err != nil || a.Zone() != "":
			errs = append(errs, fmt.Errorf("anycast.addresses[%d]: %q is not an IP address", i, s))
		case !a.Unmap().IsGlobalUnicast():
			errs = append(errs, fmt.Errorf("anycast.addresses[%d]: %s is not a unicast address", i, a))
		case !seenA[a.Unmap()]:
			seenA[a.Unmap()] = true
			w.anycastAddrs = append(w.anycastAddrs, a.Unmap())
		}
	}
	if len(errs) > 0 {
		return want{}, fmt.Errorf("netconf: %w", errors.Join(errs...))
	}
	return w, nil
}

func parseRole(path string, in config.Interface, boardMatch string) (role, error) {
	r := role{match: in.Match, dhcp4: in.DHCP4, dhcp6: in.DHCP6}
	if r.match == "" {
		r.match = boardMatch
	}
	var errs []error
	if r.match != "" {
		if _, err := parseMatch(r.match); err != nil {
			errs = append(errs, fmt.Errorf("%s.match: %w", path, err))
		}
	}
	for i, s := range in.Addresses {
		p, err := netip.ParsePrefix(s)
		if err != nil || p.Addr().Zone() != "" || !p.Addr().Unmap().IsGlobalUnicast() {
			errs = append(errs, fmt.Errorf("%s.addresses[%d]: %q is not a unicast address with prefix length (like 198.51.100.2/30)", path, i, s))
			continue
		}
		r.addrs = append(r.addrs, netip.PrefixFrom(p.Addr().Unmap(), p.Bits()))
	}
	var err error
	if r.gw4, err = parseGateway(in.Gateway4, true); err != nil {
		errs = append(errs, fmt.Errorf("%s.gateway4: %w", path, err))
	}
	if r.gw6, err = parseGateway(in.Gateway6, false); err != nil {
		errs = append(errs, fmt.Errorf("%s.gateway6: %w", path, err))
	}
	if len(errs) > 0 {
		return role{}, errors.Join(errs...)
	}
	return r, nil
}

func parseGateway(s string, v4 bool) (netip.Addr, error) {
	if s == "" {
		return netip.Addr{}, nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("%q is not an IP address", s)
	}
	a = a.Unmap()
	if v4 && !a.Is4() {
		return netip.Addr{}, fmt.Errorf("%q is not an IPv4 address", s)
	}
	if !v4 && !a.Is6() {
		return netip.Addr{}, fmt.Errorf("%q is not an IPv6 address", s)
	}
	if a.IsUnspecified() || a.IsMulticast() || a.IsLoopback() {
		return netip.Addr{}, fmt.Errorf("%s is not a unicast address", a)
	}
	return a.WithZone(""), nil
}

func parseStatic(s *api.StaticOOB) (*staticOOB, error) {
	if s == nil {
		return nil, nil
	}
	var st staticOOB
	var errs []error
	if s.Address4 != "" {
		p, err := netip.ParsePrefix(s.Address4)
		if err != nil || !p.Addr().Is4() {
			errs = append(errs, fmt.Errorf("static.address4: %q is not an IPv4 address with prefix length", s.Address4))
		} else {
			st.addr4 = p
		}
	}
	if s.Address6 != "" {
		p, err := netip.ParsePrefix(s.Address6)
		if err != nil || !p.Addr().Is6() || p.Addr().Is4In6() {
			errs = append(errs, fmt.Errorf("static.address6: %q is not an IPv6 address with prefix length", s.Address6))
		} else {
			st.addr6 = p
		}
	}
	var err error
	if st.gw4, err = parseGateway(s.Gateway4, true); err != nil {
		errs = append(errs, fmt.Errorf("static.gateway4: %w", err))
	}
	if st.gw6, err = parseGateway(s.Gateway6, false); err != nil {
		errs = append(errs, fmt.Errorf("static.gateway6: %w", err))
	}
	for i, d := range s.DNS {
		a, err := netip.ParseAddr(d)
		if err != nil {
			errs = append(errs, fmt.Errorf("static.dns[%d]: %q is not an IP address", i, d))
			continue
		}
		st.dns = append(st.dns, a.Unmap())
	}
	if st.gw4.IsValid() && !st.addr4.IsValid() {
		errs = append(errs, errors.New("static.gateway4: set without static.address4"))
	}
	if st.gw6.IsValid() && !st.addr6.IsValid() {
		errs = append(errs, errors.New("static.gateway6: set without static.address6"))
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	if !st.addr4.IsValid() && !st.addr6.IsValid() {
		return nil, nil
	}
	return &st, nil
}
