package netconf

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// netlinkKernel is the real kernel: netlink for links, addresses, routes
// and rules, sysfs for port matching, procfs for sysctls. Every call acts
// in the network namespace of the calling thread, which for a node is the
// only one and for a test is the one ExecTest put the whole binary in.
type netlinkKernel struct {
	sysfs string
}

func newKernel(sysfs string) (kernel, error) { return netlinkKernel{sysfs: sysfs}, nil }

func (k netlinkKernel) ports() ([]port, error) {
	ps, err := scanPorts(k.sysfs)
	if err != nil {
		return nil, err
	}
	// A veth has no device in sysfs, but it is how a container or a lab
	// gives a node its ports, so it counts as physical.
	for i := range ps {
		if ps[i].physical {
			continue
		}
		if l, err := netlink.LinkByName(ps[i].name); err == nil && l.Type() == "veth" {
			ps[i].physical = true
		}
	}
	return ps, nil
}

func (netlinkKernel) link(name string) (linkInfo, error) {
	l, err := netlink.LinkByName(name)
	if err != nil {
		return linkInfo{}, fmt.Errorf("find %s: %w", name, err)
	}
	return infoOf(l), nil
}

func infoOf(l netlink.Link) linkInfo {
	a := l.Attrs()
	return linkInfo{
		name: a.Name, index: a.Index, mac: a.HardwareAddr,
		up:      a.Flags&net.FlagUp != 0,
		carrier: a.RawFlags&unix.IFF_LOWER_UP != 0,
	}
}

func (netlinkKernel) linkUp(name string) error {
	l, err := netlink.LinkByName(name)
	if err != nil {
		return fmt.Errorf("find %s: %w", name, err)
	}
	return netlink.LinkSetUp(l)
}

func (netlinkKernel) dummyAdd(name string) error {
	err := netlink.LinkAdd(&netlink.Dummy{LinkAttrs: netlink.LinkAttrs{Name: name}})
	if errors.Is(err, unix.EEXIST) {
		return fmt.Errorf("%s: %w", name, errExist)
	}
	return err
}

func (netlinkKernel) linkDel(name string) error {
	l, err := netlink.LinkByName(name)
	if err != nil {
		if gone(err) {
			return nil
		}
		return err
	}
	return netlink.LinkDel(l)
}

// gone reports an error that means the object, or its link, is not there.
func gone(err error) bool {
	var nf netlink.LinkNotFoundError
	return errors.As(err, &nf) || errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ESRCH) ||
		errors.Is(err, unix.ENODEV) || errors.Is(err, unix.EADDRNOTAVAIL)
}

func exist(err error) error {
	if errors.Is(err, unix.EEXIST) {
		return errExist
	}
	return err
}

func ipNet(p netip.Prefix) *net.IPNet {
	return &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}
}

func (netlinkKernel) addrAdd(a addrObj) error {
	l, err := netlink.LinkByName(a.link)
	if err != nil {
		return fmt.Errorf("find %s: %w", a.link, err)
	}
	na := &netlink.Addr{IPNet: ipNet(a.prefix)}
	if a.nodad {
		na.Flags = unix.IFA_F_NODAD
	}
	return exist(netlink.AddrAdd(l, na))
}

func (netlinkKernel) addrDel(a addrObj) error {
	l, err := netlink.LinkByName(a.link)
	if err != nil {
		if gone(err) {
			return nil
		}
		return err
	}
	if err := netlink.AddrDel(l, &netlink.Addr{IPNet: ipNet(a.prefix)}); err != nil && !gone(err) {
		return err
	}
	return nil
}

func (netlinkKernel) addrs(link string) ([]kernelAddr, error) {
	l, err := netlink.LinkByName(link)
	if err != nil {
		return nil, fmt.Errorf("find %s: %w", link, err)
	}
	list, err := netlink.AddrList(l, netlink.FAMILY_ALL)
	if err != nil {
		return nil, fmt.Errorf("list addresses of %s: %w", link, err)
	}
	var out []kernelAddr
	for _, a := range list {
		ip, ok := netip.AddrFromSlice(a.IP)
		if !ok {
			continue
		}
		ones, _ := a.Mask.Size()
		out = append(out, kernelAddr{
			prefix:  netip.PrefixFrom(ip.Unmap(), ones),
			dynamic: a.Flags&unix.IFA_F_PERMANENT == 0,
		})
	}
	return out, nil
}

func (netlinkKernel) route(r routeObj) (*netlink.Route, error) {
	l, err := netlink.LinkByName(r.link)
	if err != nil {
		return nil, fmt.Errorf("find %s: %w", r.link, err)
	}
	nr := &netlink.Route{
		LinkIndex: l.Attrs().Index,
		Dst:       ipNet(r.dst),
		Table:     r.table,
		Protocol:  unix.RTPROT_STATIC,
		Family:    netlink.FAMILY_V4,
	}
	if r.dst.Addr().Is6() {
		nr.Family = netlink.FAMILY_V6
	}
	if r.gw.IsValid() {
		nr.Gw = r.gw.AsSlice()
	} else {
		nr.Scope = netlink.SCOPE_LINK
	}
	if r.onlink {
		nr.Flags = int(netlink.FLAG_ONLINK)
	}
	return nr, nil
}

func (k netlinkKernel) routeAdd(r routeObj) error {
	nr, err := k.route(r)
	if err != nil {
		return err
	}
	return exist(netlink.RouteAdd(nr))
}

func (k netlinkKernel) routeDel(r routeObj) error {
	nr, err := k.route(r)
	if err != nil {
		if gone(err) {
			return nil
		}
		return err
	}
	nr.Protocol = 0 // match whatever protocol it has
	if err := netlink.RouteDel(nr); err != nil && !gone(err) {
		return err
	}
	return nil
}

func (k netlinkKernel) routeHas(r routeObj) (bool, error) {
	nr, err := k.route(r)
	if err != nil {
		if gone(err) {
			return false, nil
		}
		return false, err
	}
	list, err := netlink.RouteListFiltered(nr.Family, &netlink.Route{LinkIndex: nr.LinkIndex, Table: r.table},
		netlink.RT_FILTER_OIF|netlink.RT_FILTER_TABLE)
	if err != nil {
		return false, fmt.Errorf("list routes of %s: %w", r.link, err)
	}
	for _, x := range list {
		dst := r.dst.Addr().Unmap()
		if x.Dst != nil {
			if ip, ok := netip.AddrFromSlice(x.Dst.IP); ok {
				ones, _ := x.Dst.Mask.Size()
				if netip.PrefixFrom(ip.Unmap(), ones) != netip.PrefixFrom(dst, r.dst.Bits()) {
					continue
				}
			}
		} else if r.dst.Bits() != 0 {
			continue
		}
		gw, _ := netip.AddrFromSlice(x.Gw)
		if gw.Unmap() == r.gw {
			return true, nil
		}
	}
	return false, nil
}

func (netlinkKernel) ruleHas(r ruleObj) (bool, error) {
	want := rule(r)
	list, err := netlink.RuleList(want.Family)
	if err != nil {
		return false, fmt.Errorf("list rules: %w", err)
	}
	for _, x := range list {
		if x.Priority == r.pref && x.Table == r.table && x.Src != nil && x.Src.String() == want.Src.String() {
			return true, nil
		}
	}
	return false, nil
}

// solicitRouters sends an ICMPv6 router solicitation to all routers. The
// kernel fills in the checksum of ICMPv6 on raw sockets.
func (netlinkKernel) solicitRouters(link string) error {
	ifc, err := net.InterfaceByName(link)
	if err != nil {
		return err
	}
	if ifc.Flags&net.FlagUp == 0 {
		return nil
	}
	fd, err := unix.Socket(unix.AF_INET6, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.IPPROTO_ICMPV6)
	if err != nil {
		return fmt.Errorf("router solicitation on %s: %w", link, err)
	}
	defer unix.Close(fd)
	if err := unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_MULTICAST_HOPS, 255); err != nil {
		return fmt.Errorf("router solicitation on %s: %w", link, err)
	}
	if err := unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_MULTICAST_IF, ifc.Index); err != nil {
		return fmt.Errorf("router solicitation on %s: %w", link, err)
	}
	allRouters := [16]byte{0xff, 0x02, 15: 0x02}
	rs := []byte{133, 0, 0, 0, 0, 0, 0, 0} // type, code, checksum, reserved
	if err := unix.Sendto(fd, rs, 0, &unix.SockaddrInet6{Addr: allRouters, ZoneId: uint32(ifc.Index)}); err != nil {
		return fmt.Errorf("router solicitation on %s: %w", link, err)
	}
	return nil
}

func rule(r ruleObj) *netlink.Rule {
	nr := netlink.NewRule()
	nr.Priority = r.pref
	nr.Table = r.table
	nr.Src = ipNet(r.src)
	nr.Family = netlink.FAMILY_V4
	if r.src.Addr().Is6() {
		nr.Family = netlink.FAMILY_V6
	}
	return nr
}

func (netlinkKernel) ruleAdd(r ruleObj) error { return exist(netlink.RuleAdd(rule(r))) }

func (netlinkKernel) ruleDel(r ruleObj) error {
	if err := netlink.RuleDel(rule(r)); err != nil && !gone(err) {
		return err
	}
	return nil
}

func sysctlPath(key string) string { return filepath.Join("/proc/sys", filepath.FromSlash(key)) }

func (netlinkKernel) sysctl(key string) (string, error) {
	b, err := os.ReadFile(sysctlPath(key))
	if err != nil {
		return "", fmt.Errorf("sysctl %s: %w", strings.ReplaceAll(key, "/", "."), err)
	}
	return strings.TrimSpace(string(b)), nil
}

func (netlinkKernel) setSysctl(key, value string) error {
	if err := os.WriteFile(sysctlPath(key), []byte(value), 0o644); err != nil {
		return fmt.Errorf("sysctl %s=%s: %w", strings.ReplaceAll(key, "/", "."), value, err)
	}
	return nil
}

func (netlinkKernel) flushSLAAC(link string) error {
	l, err := netlink.LinkByName(link)
	if err != nil {
		if gone(err) {
			return nil
		}
		return err
	}
	var errs []error
	addrs, err := netlink.AddrList(l, netlink.FAMILY_V6)
	if err != nil {
		return fmt.Errorf("list addresses of %s: %w", link, err)
	}
	for _, a := range addrs {
		if a.Flags&unix.IFA_F_PERMANENT == 0 && a.IP.IsGlobalUnicast() {
			if err := netlink.AddrDel(l, &a); err != nil && !gone(err) {
				errs = append(errs, fmt.Errorf("ip addr del %s dev %s: %w", a.IPNet, link, err))
			}
		}
	}
	// RA routes: the default router, and on-link prefixes, which the
	// kernel files as proto kernel and which no address needs once the
	// SLAAC addresses are gone.
	left, err := netlink.AddrList(l, netlink.FAMILY_V6)
	if err != nil {
		return fmt.Errorf("list addresses of %s: %w", link, err)
	}
	routes, err := netlink.RouteListFiltered(netlink.FAMILY_V6,
		&netlink.Route{LinkIndex: l.Attrs().Index, Table: unix.RT_TABLE_MAIN}, netlink.RT_FILTER_OIF|netlink.RT_FILTER_TABLE)
	if err != nil {
		return fmt.Errorf("list routes of %s: %w", link, err)
	}
	for _, r := range routes {
		orphan := r.Protocol == unix.RTPROT_KERNEL && r.Dst != nil && r.Dst.IP.IsGlobalUnicast() &&
			!slices.ContainsFunc(left, func(a netlink.Addr) bool {
				return a.IPNet.Mask.String() == r.Dst.Mask.String() && r.Dst.Contains(a.IP)
			})
		if r.Protocol == unix.RTPROT_RA || orphan {
			if err := netlink.RouteDel(&r); err != nil && !gone(err) {
				errs = append(errs, fmt.Errorf("ip -6 route del %s dev %s: %w", r.Dst, link, err))
			}
		}
	}
	return errors.Join(errs...)
}

// watch merges link and address notifications. Closing done closes both
// subscriptions; the channel closes once both have drained, so no
// goroutine of netlink's or ours outlives the caller's wait on it.
func (netlinkKernel) watch(done <-chan struct{}) (<-chan event, error) {
	lch := make(chan netlink.LinkUpdate, 64)
	ach := make(chan netlink.AddrUpdate, 64)
	ldone, adone := make(chan struct{}), make(chan struct{})
	var mu sync.Mutex
	var subErr error
	onErr := func(err error) {
		mu.Lock()
		defer mu.Unlock()
		if subErr == nil {
			subErr = err
		}
	}
	if err := netlink.LinkSubscribeWithOptions(lch, ldone, netlink.LinkSubscribeOptions{ErrorCallback: onErr}); err != nil {
		return nil, fmt.Errorf("subscribe to links: %w", err)
	}
	if err := netlink.AddrSubscribeWithOptions(ach, adone, netlink.AddrSubscribeOptions{ErrorCallback: onErr}); err != nil {
		close(ldone)
		for range lch {
		}
		return nil, fmt.Errorf("subscribe to addresses: %w", err)
	}
	out := make(chan event, 64)
	go func() {
		defer close(out)
		stopped := false
		stop := func() {
			if !stopped {
				stopped = true
				close(ldone)
				close(adone)
			}
		}
		send := func(ev event) {
			if stopped {
				return
			}
			select {
			case out <- ev:
			case <-done:
				stop()
			}
		}
		broken := func() {
			mu.Lock()
			err := subErr
			mu.Unlock()
			if err == nil {
				err = errors.New("subscription closed")
			}
			send(event{err: fmt.Errorf("netlink watch: %w", err)})
			stop()
		}
		for lch != nil || ach != nil {
			select {
			case <-done:
				stop()
				done = nil
			case u, ok := <-lch:
				if !ok {
					lch = nil
					if !stopped {
						broken()
					}
					continue
				}
				info := infoOf(u.Link)
				send(event{link: info.name, index: info.index, up: info.up, carrier: info.carrier,
					deleted: u.Header.Type == unix.RTM_DELLINK})
			case u, ok := <-ach:
				if !ok {
					ach = nil
					if !stopped {
						broken()
					}
					continue
				}
				name := ""
				if l, err := netlink.LinkByIndex(u.LinkIndex); err == nil {
					name = l.Attrs().Name
				}
				send(event{link: name, index: u.LinkIndex, addr: true})
			}
		}
	}()
	return out, nil
}

func (netlinkKernel) dhcp4(link string, t tuning) (leaseClient, error) {
	return &dhcp4Client{link: link, t: t, open: func() (packetConn, net.HardwareAddr, error) { return openRaw4(link) }}, nil
}

func (netlinkKernel) dhcp6(link string, t tuning) (leaseClient, error) {
	return &dhcp6Client{link: link, t: t}, nil
}
