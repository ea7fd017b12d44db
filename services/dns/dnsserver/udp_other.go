//go:build !linux

package dnsserver

import (
	"net"
)

// plainConn reads and writes one datagram at a time where recvmmsg and
// sendmmsg are not available.
type plainConn struct{ c *net.UDPConn }

func newBatchConn(c *net.UDPConn) (batchConn, error) { return plainConn{c}, nil }

func (p plainConn) readBatch(in []datagram) (int, error) {
	n, addr, err := p.c.ReadFromUDPAddrPort(in[0].buf[:cap(in[0].buf)])
	if err != nil {
		return 0, err
	}
	in[0].n, in[0].addr, in[0].trunc = n, addr, false
	return 1, nil
}

func (p plainConn) writeBatch(out []datagram) (int, error) {
	if _, err := p.c.WriteToUDPAddrPort(out[0].buf[:out[0].n], out[0].addr); err != nil {
		return 0, err
	}
	return 1, nil
}
