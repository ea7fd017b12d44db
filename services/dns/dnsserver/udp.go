package dnsserver

import (
	"net"
	"net/netip"
)

// UDP batching: on Linux, recvmmsg and sendmmsg move up to udpBatch
// datagrams per system call. Under load the syscalls, not the answering,
// are most of the CPU per query, so this is where the server keeps up with
// NSD, which batches the same way. Under light load a batch is one query.
const (
	udpBatch    = 64
	udpQueryMax = 4096 // larger queries are truncated by the kernel and dropped
	udpReplyMax = 4096 // dns.udp_size is at most 4096
)

// datagram is one slot of a batch: a buffer, how much of it is used, the
// peer, and whether the kernel truncated it.
type datagram struct {
	buf   []byte
	n     int
	addr  netip.AddrPort
	trunc bool
}

// batchConn reads and writes batches of datagrams.
type batchConn interface {
	readBatch(in []datagram) (int, error)
	writeBatch(out []datagram) (int, error)
}

// serveUDP reads queries from c in batches and answers them in batches,
// until c is closed. Several run per socket; each owns its buffers.
func (s *Server) serveUDP(c *net.UDPConn) {
	bc, err := newBatchConn(c)
	if err != nil {
		s.log.Error("dns: udp", "err", err)
		return
	}
	in := make([]datagram, udpBatch)
	out := make([]datagram, udpBatch)
	for i := range in {
		in[i].buf = make([]byte, udpQueryMax)
		out[i].buf = make([]byte, 0, udpReplyMax)
	}
	for {
		n, err := bc.readBatch(in)
		if err != nil {
			if isClosed(err) {
				return
			}
			s.log.Warn("dns: udp read", "err", err)
			continue
		}
		k := 0
		for i := range n {
			m := &in[i]
			if m.trunc {
				continue
			}
			resp := s.respond(m.buf[:m.n], m.addr, false, out[k].buf[:0])
			if resp == nil {
				continue
			}
			out[k].buf, out[k].n, out[k].addr = resp, len(resp), m.addr
			k++
		}
		for pending := out[:k]; len(pending) > 0; {
			sent, err := bc.writeBatch(pending)
			if err != nil {
				if isClosed(err) {
					return
				}
				s.Stats.SendErrors.Add(1)
				sent = max(sent, 1) // skip the datagram that failed
			}
			pending = pending[sent:]
		}
	}
}
