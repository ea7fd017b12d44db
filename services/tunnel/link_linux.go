package tunnel

import (
	"fmt"
	"net"
	"net/netip"

	"github.com/vishvananda/netlink"
)

// linkUp gives the TUN link its address and MTU and sets it up. wireguard-go
// watches the link: setting it up (or down) starts (or stops) the device.
func linkUp(name string, addr netip.Prefix, mtu int) error {
	link, err := netlink.LinkByName(name)
	if err != nil {
		return fmt.Errorf("find %s: %w", name, err)
	}
	if err := netlink.AddrReplace(link, &netlink.Addr{IPNet: ipNet(addr)}); err != nil {
		return fmt.Errorf("ip addr add %s dev %s: %w", addr, name, err)
	}
	if err := netlink.LinkSetMTU(link, mtu); err != nil {
		return fmt.Errorf("ip link set %s mtu %d: %w", name, mtu, err)
	}
	if err := netlink.LinkSetUp(link); err != nil {
		return fmt.Errorf("ip link set %s up: %w", name, err)
	}
	return nil
}

// routeAdd routes dst into the link with src as source address, so that a
// connection over the tunnel always carries our tunnel address, the one
// the other end knows us by. It adds rather than replaces: a route to dst
// that already exists elsewhere (the underlay, a default route) makes it
// fail instead of being taken over.
func routeAdd(name string, dst netip.Prefix, src netip.Addr) error {
	link, err := netlink.LinkByName(name)
	if err != nil {
		return fmt.Errorf("find %s: %w", name, err)
	}
	r := &netlink.Route{LinkIndex: link.Attrs().Index, Dst: ipNet(dst), Scope: netlink.SCOPE_LINK}
	if src.Is4() == dst.Addr().Is4() {
		r.Src = src.AsSlice()
	}
	if err := netlink.RouteAdd(r); err != nil {
		return fmt.Errorf("ip route add %s dev %s src %s: %w", dst, name, src, err)
	}
	return nil
}

func routeDel(name string, dst netip.Prefix) error {
	link, err := netlink.LinkByName(name)
	if err != nil {
		return fmt.Errorf("find %s: %w", name, err)
	}
	r := &netlink.Route{LinkIndex: link.Attrs().Index, Dst: ipNet(dst), Scope: netlink.SCOPE_LINK}
	if err := netlink.RouteDel(r); err != nil {
		return fmt.Errorf("ip route del %s dev %s: %w", dst, name, err)
	}
	return nil
}

func ipNet(p netip.Prefix) *net.IPNet {
	return &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}
}
