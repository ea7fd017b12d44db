package netconf

import (
	"context"
	"fmt"
	"net"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// rawConn is a packet socket on one port that sends and receives whole
// IPv4 packets: DHCPv4 must talk before the port has an address, and
// replies unicast to the address being offered never reach a UDP socket.
// A BPF filter passes only unfragmented UDP to port 68, so the socket does
// not queue the LAN's other traffic.
type rawConn struct {
	f       *os.File
	ifindex int
}

// udp68 is the classic BPF program: IP protocol 17, not a fragment, UDP
// destination port 68 (the packet starts at the IP header).
var udp68 = []unix.SockFilter{
	{Code: 0x30, K: 9},                             // ldb [9]
	{Code: 0x15, Jt: 0, Jf: 6, K: 17},              // jeq #17, next, drop
	{Code: 0x28, K: 6},                             // ldh [6]
	{Code: 0x45, Jt: 4, Jf: 0, K: 0x1fff},          // jset #0x1fff, drop, next
	{Code: 0xb1, K: 0},                             // ldxb 4*([0]&0xf)
	{Code: 0x48, K: 2},                             // ldh [x+2]
	{Code: 0x15, Jt: 0, Jf: 1, K: dhcp4ClientPort}, // jeq #68, accept, drop
	{Code: 0x06, K: 0xffff},                        // ret #65535
	{Code: 0x06, K: 0},                             // ret #0
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

func openRaw4(link string) (packetConn, net.HardwareAddr, error) {
	ifc, err := net.InterfaceByName(link)
	if err != nil {
		return nil, nil, err
	}
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_DGRAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, int(htons(unix.ETH_P_IP)))
	if err != nil {
		return nil, nil, fmt.Errorf("packet socket: %w", err)
	}
	prog := unix.SockFprog{Len: uint16(len(udp68)), Filter: &udp68[0]}
	if err := unix.SetsockoptSockFprog(fd, unix.SOL_SOCKET, unix.SO_ATTACH_FILTER, &prog); err != nil {
		unix.Close(fd)
		return nil, nil, fmt.Errorf("attach filter: %w", err)
	}
	if err := unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_IP), Ifindex: ifc.Index}); err != nil {
		unix.Close(fd)
		return nil, nil, fmt.Errorf("bind to %s: %w", link, err)
	}
	// A non-blocking fd in an os.File is run by the poller: deadlines
	// work and Close wakes a blocked read.
	return &rawConn{f: os.NewFile(uintptr(fd), "dhcp4-"+link), ifindex: ifc.Index}, ifc.HardwareAddr, nil
}

func (c *rawConn) send(pkt []byte) error {
	rc, err := c.f.SyscallConn()
	if err != nil {
		return err
	}
	to := &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_IP), Ifindex: c.ifindex, Halen: 6,
		Addr: [8]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}}
	var serr error
	err = rc.Write(func(fd uintptr) bool {
		serr = unix.Sendto(int(fd), pkt, 0, to)
		return serr != unix.EAGAIN
	})
	if err != nil {
		return err
	}
	return serr
}

func (c *rawConn) recv(ctx context.Context, deadline time.Time) ([]byte, error) {
	if err := c.f.SetReadDeadline(deadline); err != nil {
		return nil, err
	}
	stop := context.AfterFunc(ctx, func() { c.f.SetReadDeadline(time.Unix(1, 0)) })
	defer stop()
	buf := make([]byte, 1600)
	n, err := c.f.Read(buf)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, err
	}
	return buf[:n], nil
}

func (c *rawConn) close() error { return c.f.Close() }
