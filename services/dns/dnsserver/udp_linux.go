package dnsserver

import (
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// mmsgConn is recvmmsg and sendmmsg on a UDP socket, through the runtime
// poller. It makes the calls with RawSyscall: the socket is non-blocking,
// so they never block, and telling the scheduler about each one (as
// x/net does) makes the runtime hand the P to another thread whenever a
// large batch takes more than a scheduler tick, which on one CPU cost
// more than the answering did.
type mmsgConn struct {
	rc    syscall.RawConn
	hdrs  []mmsghdr
	iovs  []unix.Iovec
	names []unix.RawSockaddrInet6 // large enough for IPv4 too
}

type mmsghdr struct {
	hdr unix.Msghdr
	len uint32
}

func newBatchConn(c *net.UDPConn) (batchConn, error) {
	rc, err := c.SyscallConn()
	if err != nil {
		return nil, fmt.Errorf("dns: udp: %w", err)
	}
	return &mmsgConn{
		rc:    rc,
		hdrs:  make([]mmsghdr, udpBatch),
		iovs:  make([]unix.Iovec, udpBatch),
		names: make([]unix.RawSockaddrInet6, udpBatch),
	}, nil
}

func (c *mmsgConn) prepare(ds []datagram, receive bool) {
	for i := range ds {
		b := ds[i].buf
		if receive {
			b = b[:cap(b)]
		} else {
			b = b[:ds[i].n]
			c.namelen(i, ds[i].addr)
		}
		c.iovs[i].Base = unsafe.SliceData(b)
		c.iovs[i].SetLen(len(b))
		h := &c.hdrs[i].hdr
		h.Name = (*byte)(unsafe.Pointer(&c.names[i]))
		if receive {
			h.Namelen = uint32(unsafe.Sizeof(c.names[i]))
		}
		h.Iov = &c.iovs[i]
		h.SetIovlen(1)
		h.Control = nil
		h.SetControllen(0)
		h.Flags = 0
	}
}

func (c *mmsgConn) readBatch(in []datagram) (int, error) {
	in = in[:min(len(in), len(c.hdrs))]
	c.prepare(in, true)
	n, err := c.call(c.rc.Read, unix.SYS_RECVMMSG, len(in))
	for i := range n {
		in[i].n = int(c.hdrs[i].len)
		in[i].trunc = c.hdrs[i].hdr.Flags&unix.MSG_TRUNC != 0
		in[i].addr = c.addr(i)
	}
	return n, err
}

func (c *mmsgConn) writeBatch(out []datagram) (int, error) {
	out = out[:min(len(out), len(c.hdrs))]
	c.prepare(out, false)
	return c.call(c.rc.Write, unix.SYS_SENDMMSG, len(out))
}

// call makes the recvmmsg or sendmmsg system call over the first n slots,
// waiting in the poller (through rc.Read or rc.Write) while the socket
// would block.
func (c *mmsgConn) call(wait func(func(fd uintptr) bool) error, sysno uintptr, n int) (int, error) {
	var done int
	var errno syscall.Errno
	err := wait(func(fd uintptr) bool {
		r, _, e := unix.RawSyscall6(sysno, fd, uintptr(unsafe.Pointer(&c.hdrs[0])), uintptr(n), 0, 0, 0)
		if e == unix.EAGAIN || e == unix.EINTR {
			return false
		}
		done, errno = int(r), e
		return true
	})
	if err != nil {
		return 0, err
	}
	if errno != 0 {
		return 0, fmt.Errorf("dns: mmsg syscall %d: %w", sysno, errno)
	}
	return done, nil
}

// addr decodes the peer address the kernel wrote into slot i.
func (c *mmsgConn) addr(i int) netip.AddrPort {
	sa := &c.names[i]
	switch sa.Family {
	case unix.AF_INET:
		sa4 := (*unix.RawSockaddrInet4)(unsafe.Pointer(sa))
		port := binary.BigEndian.Uint16((*[2]byte)(unsafe.Pointer(&sa4.Port))[:])
		return netip.AddrPortFrom(netip.AddrFrom4(sa4.Addr), port)
	case unix.AF_INET6:
		port := binary.BigEndian.Uint16((*[2]byte)(unsafe.Pointer(&sa.Port))[:])
		return netip.AddrPortFrom(netip.AddrFrom16(sa.Addr), port)
	}
	return netip.AddrPort{}
}

// namelen writes ap into slot i as the destination of a send.
func (c *mmsgConn) namelen(i int, ap netip.AddrPort) {
	sa := &c.names[i]
	h := &c.hdrs[i].hdr
	if ap.Addr().Is4() {
		sa4 := (*unix.RawSockaddrInet4)(unsafe.Pointer(sa))
		*sa4 = unix.RawSockaddrInet4{Family: unix.AF_INET, Addr: ap.Addr().As4()}
		binary.BigEndian.PutUint16((*[2]byte)(unsafe.Pointer(&sa4.Port))[:], ap.Port())
		h.Namelen = unix.SizeofSockaddrInet4
		return
	}
	*sa = unix.RawSockaddrInet6{Family: unix.AF_INET6, Addr: ap.Addr().As16()}
	binary.BigEndian.PutUint16((*[2]byte)(unsafe.Pointer(&sa.Port))[:], ap.Port())
	h.Namelen = unix.SizeofSockaddrInet6
}
