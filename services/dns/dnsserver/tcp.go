package dnsserver

import (
	"bufio"
	"encoding/binary"
	"io"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/miekg/dns"
)

// connSet tracks open TCP connections so that shutdown can close them and
// a flood of idle connections cannot exhaust the node.
type connSet struct {
	mu    sync.Mutex
	max   int
	conns map[net.Conn]struct{}
}

func newConnSet(max int) *connSet { return &connSet{max: max, conns: make(map[net.Conn]struct{})} }

func (cs *connSet) add(c net.Conn) bool {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if cs.conns == nil || len(cs.conns) >= cs.max {
		return false
	}
	cs.conns[c] = struct{}{}
	return true
}

func (cs *connSet) remove(c net.Conn) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	delete(cs.conns, c)
}

// closeAll closes every connection and refuses new ones.
func (cs *connSet) closeAll() {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	for c := range cs.conns {
		c.Close()
	}
	cs.conns = nil
}

func (s *Server) serveTCP(l *net.TCPListener, conns *connSet) {
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		c, err := l.Accept()
		if err != nil {
			if isClosed(err) {
				return
			}
			s.log.Warn("dns: tcp accept", "err", err)
			time.Sleep(10 * time.Millisecond) // e.g. out of file descriptors
			continue
		}
		if !conns.add(c) {
			s.Stats.TCPRefused.Add(1)
			c.Close()
			continue
		}
		wg.Go(func() {
			defer conns.remove(c)
			defer c.Close()
			s.serveConn(c)
		})
	}
}

// serveConn answers the queries on one connection in order; clients may
// pipeline them (RFC 7766). It closes after tcpIdleTimeout without a query.
func (s *Server) serveConn(c net.Conn) {
	src := addrPort(c.RemoteAddr())
	r := bufio.NewReader(c)
	w := bufio.NewWriter(c)
	in := make([]byte, 65535)
	out := make([]byte, 0, 65535)
	for {
		c.SetReadDeadline(time.Now().Add(tcpIdleTimeout))
		var lenBuf [2]byte
		if _, err := io.ReadFull(r, lenBuf[:]); err != nil {
			return
		}
		n := int(binary.BigEndian.Uint16(lenBuf[:]))
		if _, err := io.ReadFull(r, in[:n]); err != nil {
			return
		}
		msg := in[:n]
		if s.transfers != nil && isTransfer(msg) {
			if err := w.Flush(); err != nil {
				return
			}
			req := new(dns.Msg)
			if req.Unpack(msg) != nil {
				return
			}
			send := func(b []byte) error { return writeFramed(c, b) }
			if err := s.transfers.Transfer(msg, req, src, send); err != nil {
				s.log.Info("dns: transfer ended", "client", src, "err", err)
				return
			}
			continue
		}
		resp := s.respond(msg, src, true, out[:0])
		if resp == nil {
			continue
		}
		if err := writeFramed(w, resp); err != nil {
			return
		}
		// Answer pipelined queries in one write when more are waiting.
		if r.Buffered() == 0 {
			if err := w.Flush(); err != nil {
				return
			}
		}
	}
}

func writeFramed(w io.Writer, b []byte) error {
	var l [2]byte
	binary.BigEndian.PutUint16(l[:], uint16(len(b)))
	if _, err := w.Write(l[:]); err != nil {
		return err
	}
	_, err := w.Write(b)
	return err
}

// isTransfer reports whether msg asks for AXFR or IXFR, without unpacking it.
func isTransfer(msg []byte) bool {
	q, ok := parseQuestion(msg)
	return ok && (q == dns.TypeAXFR || q == dns.TypeIXFR)
}

// parseQuestion returns the QTYPE of a message with one uncompressed question.
func parseQuestion(b []byte) (uint16, bool) {
	if len(b) < headerLen+5 || binary.BigEndian.Uint16(b[4:]) != 1 {
		return 0, false
	}
	off := headerLen
	for off < len(b) && b[off] != 0 {
		if b[off]&0xc0 != 0 {
			return 0, false
		}
		off += 1 + int(b[off])
	}
	if off+3 > len(b) {
		return 0, false
	}
	return binary.BigEndian.Uint16(b[off+1:]), true
}

func addrPort(a net.Addr) netip.AddrPort {
	switch a := a.(type) {
	case *net.TCPAddr:
		return a.AddrPort()
	case *net.UDPAddr:
		return a.AddrPort()
	}
	return netip.AddrPort{}
}
