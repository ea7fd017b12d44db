package netconf

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
)

// DHCPv4 runs before the port has an address, so its messages go out and
// come in as whole IPv4/UDP packets on a packet socket; these build and
// read them.

const (
	dhcp4ClientPort = 68
	dhcp4ServerPort = 67
	ipv4HeaderLen   = 20
	udpHeaderLen    = 8
	protoUDP        = 17
)

var errNotUDP4 = errors.New("not an IPv4 UDP packet")

// buildUDP4 wraps payload in IPv4 and UDP headers.
func buildUDP4(src, dst netip.AddrPort, payload []byte) ([]byte, error) {
	if !src.Addr().Is4() || !dst.Addr().Is4() {
		return nil, fmt.Errorf("udp4: %s → %s: not IPv4", src, dst)
	}
	total := ipv4HeaderLen + udpHeaderLen + len(payload)
	if total > 0xffff {
		return nil, fmt.Errorf("udp4: %d-byte payload is too long", len(payload))
	}
	b := make([]byte, total)
	ip := b[:ipv4HeaderLen]
	ip[0] = 0x45 // version 4, 5 words of header
	binary.BigEndian.PutUint16(ip[2:], uint16(total))
	ip[8] = 64 // TTL
	ip[9] = protoUDP
	s, d := src.Addr().As4(), dst.Addr().As4()
	copy(ip[12:16], s[:])
	copy(ip[16:20], d[:])
	binary.BigEndian.PutUint16(ip[10:], checksum(ip, 0))
	udp := b[ipv4HeaderLen:]
	binary.BigEndian.PutUint16(udp[0:], src.Port())
	binary.BigEndian.PutUint16(udp[2:], dst.Port())
	binary.BigEndian.PutUint16(udp[4:], uint16(udpHeaderLen+len(payload)))
	copy(udp[udpHeaderLen:], payload)
	// The pseudo-header: addresses, protocol, UDP length.
	var sum uint32
	for _, a := range [][4]byte{s, d} {
		sum += uint32(binary.BigEndian.Uint16(a[0:])) + uint32(binary.BigEndian.Uint16(a[2:]))
	}
	sum += protoUDP + uint32(len(udp))
	c := checksum(udp, sum)
	if c == 0 {
		c = 0xffff // zero means "no checksum" in UDP
	}
	binary.BigEndian.PutUint16(udp[6:], c)
	return b, nil
}

// checksum is the Internet checksum of b, starting from sum.
func checksum(b []byte, sum uint32) uint16 {
	for i := 0; i+1 < len(b); i += 2 {
		sum += uint32(binary.BigEndian.Uint16(b[i:]))
	}
	if len(b)%2 == 1 {
		sum += uint32(b[len(b)-1]) << 8
	}
	for sum>>16 != 0 {
		sum = sum&0xffff + sum>>16
	}
	return ^uint16(sum)
}

// parseUDP4 reads an IPv4/UDP packet. It checks the IP header checksum but
// not the UDP one, which a sender on the same host (a veth, a VM's virtio)
// may leave to offload that never happens.
func parseUDP4(b []byte) (src, dst netip.AddrPort, payload []byte, err error) {
	if len(b) < ipv4HeaderLen || b[0]>>4 != 4 {
		return src, dst, nil, errNotUDP4
	}
	ihl := int(b[0]&0x0f) * 4
	total := int(binary.BigEndian.Uint16(b[2:]))
	switch {
	case ihl < ipv4HeaderLen || total < ihl+udpHeaderLen || total > len(b):
		return src, dst, nil, fmt.Errorf("udp4: bad lengths (header %d, total %d, have %d): %w", ihl, total, len(b), errNotUDP4)
	case b[9] != protoUDP:
		return src, dst, nil, errNotUDP4
	case binary.BigEndian.Uint16(b[6:])&0x3fff != 0:
		return src, dst, nil, fmt.Errorf("udp4: fragment: %w", errNotUDP4)
	case checksum(b[:ihl], 0) != 0:
		return src, dst, nil, fmt.Errorf("udp4: bad IP header checksum: %w", errNotUDP4)
	}
	udp := b[ihl:total]
	ulen := int(binary.BigEndian.Uint16(udp[4:]))
	if ulen < udpHeaderLen || ulen > len(udp) {
		return src, dst, nil, fmt.Errorf("udp4: UDP length %d in %d bytes: %w", ulen, len(udp), errNotUDP4)
	}
	sa, da := netip.AddrFrom4([4]byte(b[12:16])), netip.AddrFrom4([4]byte(b[16:20]))
	src = netip.AddrPortFrom(sa, binary.BigEndian.Uint16(udp[0:]))
	dst = netip.AddrPortFrom(da, binary.BigEndian.Uint16(udp[2:]))
	return src, dst, udp[udpHeaderLen:ulen], nil
}
