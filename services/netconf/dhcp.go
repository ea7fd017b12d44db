package netconf

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
	"github.com/insomniacslk/dhcp/dhcpv6"
	"github.com/insomniacslk/dhcp/iana"
)

// infinite is the DHCP lease time meaning "forever" (0xffffffff seconds).
const infinite = 0xffffffff * time.Second

// defaultLease4 is assumed when an ACK leaves out the lease time, which
// RFC 2131 requires; a server that forgets it should not cost the node its
// network.
const defaultLease4 = time.Hour

// lease4FromACK reads the lease a DHCPv4 ACK grants.
func lease4FromACK(ack *dhcpv4.DHCPv4) (*lease, error) {
	if ack == nil {
		return nil, errors.New("dhcp4: no message")
	}
	if t := ack.MessageType(); t != dhcpv4.MessageTypeAck {
		return nil, fmt.Errorf("dhcp4: %s is not an ACK", t)
	}
	ip, ok := netip.AddrFromSlice(ack.YourIPAddr.To4())
	if !ok || !ip.IsGlobalUnicast() {
		return nil, fmt.Errorf("dhcp4: ACK offers %q, not a unicast IPv4 address: %w", ack.YourIPAddr, ErrNoLease)
	}
	bits := 0
	if m := ack.SubnetMask(); m != nil {
		ones, size := m.Size()
		if size != 32 || ones == 0 {
			return nil, fmt.Errorf("dhcp4: ACK subnet mask %s is not a contiguous IPv4 mask", net.IP(m))
		}
		bits = ones
	} else {
		ones, _ := net.IP(ip.AsSlice()).DefaultMask().Size()
		bits = ones
	}
	l := &lease{addr: netip.PrefixFrom(ip, bits), server: ack.ServerIdentifier().String()}
	for _, r := range ack.Router() {
		if a, ok := netip.AddrFromSlice(r.To4()); ok && a.IsGlobalUnicast() && a != ip {
			l.router = a
			break
		}
	}
	l.dns = addrs4(ack.DNS())
	valid := defaultLease4
	if v := ack.Options.Get(dhcpv4.OptionIPAddressLeaseTime); v != nil {
		if len(v) != 4 {
			return nil, fmt.Errorf("dhcp4: ACK lease time option is %d bytes, want 4", len(v))
		}
		valid = time.Duration(binary.BigEndian.Uint32(v)) * time.Second
	}
	switch {
	case valid == 0:
		return nil, fmt.Errorf("dhcp4: ACK grants %s for 0 seconds: %w", ip, ErrNoLease)
	case valid >= infinite:
		l.forever, l.valid = true, infinite
	default:
		l.valid = valid
	}
	l.t1, l.t2 = timers(l.valid, seconds4(ack.Options.Get(dhcpv4.OptionRenewTimeValue)), seconds4(ack.Options.Get(dhcpv4.OptionRebindingTimeValue)), 0.875)
	return l, nil
}

func seconds4(v []byte) time.Duration {
	if len(v) != 4 {
		return 0
	}
	return time.Duration(binary.BigEndian.Uint32(v)) * time.Second
}

func addrs4(ips []net.IP) []netip.Addr {
	var out []netip.Addr
	for _, ip := range ips {
		if a, ok := netip.AddrFromSlice(ip.To4()); ok && a.IsValid() && !a.IsUnspecified() && !a.IsMulticast() {
			out = append(out, a)
		}
	}
	return out
}

// iaid6 is the IA_NA identifier: the last four bytes of the MAC, as
// dhcpv6.NewSolicit does, so it is stable across restarts.
func iaid6(mac net.HardwareAddr) [4]byte {
	var id [4]byte
	if len(mac) >= 4 {
		copy(id[:], mac[len(mac)-4:])
	}
	return id
}

// duid6 is our DHCPv6 client identifier: DUID-LL from the port's MAC,
// which unlike DUID-LLT stays the same across boots, so the server gives
// the node the same address.
func duid6(mac net.HardwareAddr) dhcpv6.DUID {
	return &dhcpv6.DUIDLL{HWType: iana.HWTypeEthernet, LinkLayerAddr: mac}
}

// lease6FromReply reads the IA_NA lease a DHCPv6 REPLY grants to iaid.
func lease6FromReply(msg *dhcpv6.Message, iaid [4]byte) (*lease, error) {
	if msg == nil {
		return nil, errors.New("dhcp6: no message")
	}
	if msg.MessageType != dhcpv6.MessageTypeReply {
		return nil, fmt.Errorf("dhcp6: %s is not a REPLY", msg.MessageType)
	}
	if err := status6(msg.Options.Status()); err != nil {
		return nil, err
	}
	var ia *dhcpv6.OptIANA
	for _, o := range msg.Options.IANA() {
		if o.IaId == iaid {
			ia = o
			break
		}
	}
	if ia == nil {
		return nil, fmt.Errorf("dhcp6: REPLY has no IA_NA %x: %w", iaid, ErrNoLease)
	}
	if err := status6(ia.Options.Status()); err != nil {
		return nil, err
	}
	var got *dhcpv6.OptIAAddress
	for _, a := range ia.Options.Addresses() {
		ip, ok := netip.AddrFromSlice(a.IPv6Addr)
		if ok && ip.Is6() && !ip.Is4In6() && ip.IsGlobalUnicast() && a.ValidLifetime > 0 && a.PreferredLifetime <= a.ValidLifetime {
			got = a
			break
		}
	}
	if got == nil {
		return nil, fmt.Errorf("dhcp6: IA_NA %x has no usable address: %w", iaid, ErrNoLease)
	}
	ip, _ := netip.AddrFromSlice(got.IPv6Addr)
	l := &lease{addr: netip.PrefixFrom(ip, 128), raw: msg}
	if sid := msg.Options.ServerID(); sid != nil {
		l.server = sid.String()
	}
	for _, d := range msg.Options.DNS() {
		if a, ok := netip.AddrFromSlice(d); ok && a.Is6() && !a.IsUnspecified() && !a.IsMulticast() {
			l.dns = append(l.dns, a)
		}
	}
	if got.ValidLifetime >= infinite {
		l.forever, l.valid = true, infinite
	} else {
		l.valid = got.ValidLifetime
	}
	// RFC 8415 21.4: T1 and T2 of zero leave the times to the client;
	// 0.5 and 0.8 of the preferred lifetime are its recommendation.
	t1, t2 := ia.T1, ia.T2
	if t1 == 0 && t2 == 0 && got.PreferredLifetime > 0 && got.PreferredLifetime < infinite {
		t1, t2 = got.PreferredLifetime/2, got.PreferredLifetime*4/5
	}
	l.t1, l.t2 = timers(l.valid, t1, t2, 0.8)
	return l, nil
}

// status6 turns a DHCPv6 status code into an error: NoBinding means the
// lease is gone (errNak), anything else but Success means no lease.
func status6(s *dhcpv6.OptStatusCode) error {
	if s == nil || s.StatusCode == iana.StatusSuccess {
		return nil
	}
	if s.StatusCode == iana.StatusNoBinding {
		return fmt.Errorf("dhcp6: %s %q: %w", s.StatusCode, s.StatusMessage, errNak)
	}
	return fmt.Errorf("dhcp6: %s %q: %w", s.StatusCode, s.StatusMessage, ErrNoLease)
}

// extend6 builds the RENEW (or, with no server, REBIND) for l.
func extend6(t dhcpv6.MessageType, duid dhcpv6.DUID, iaid [4]byte, l *lease) (*dhcpv6.Message, error) {
	msg, err := dhcpv6.NewMessage()
	if err != nil {
		return nil, fmt.Errorf("dhcp6: %w", err)
	}
	msg.MessageType = t
	msg.AddOption(dhcpv6.OptClientID(duid))
	if t == dhcpv6.MessageTypeRenew {
		reply, ok := l.raw.(*dhcpv6.Message)
		if !ok || reply.Options.ServerID() == nil {
			return nil, errors.New("dhcp6: lease has no server identifier to renew with")
		}
		msg.AddOption(dhcpv6.OptServerID(reply.Options.ServerID()))
	}
	msg.AddOption(dhcpv6.OptElapsedTime(0))
	msg.AddOption(dhcpv6.OptRequestedOption(dhcpv6.OptionDNSRecursiveNameServer))
	msg.AddOption(&dhcpv6.OptIANA{IaId: iaid, Options: dhcpv6.IdentityOptions{Options: dhcpv6.Options{
		&dhcpv6.OptIAAddress{IPv6Addr: l.addr.Addr().AsSlice()},
	}}})
	return msg, nil
}
