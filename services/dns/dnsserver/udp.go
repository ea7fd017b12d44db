package dnsserver

import (
	"net"

	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
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

// batchConn is what ipv4.PacketConn and ipv6.PacketConn share.
type batchConn interface {
	ReadBatch(ms []ipv4.Message, flags int) (int, error)
	WriteBatch(ms []ipv4.Message, flags int) (int, error)
}

func newBatchConn(c *net.UDPConn) batchConn {
	if a, ok := c.LocalAddr().(*net.UDPAddr); ok && a.IP.To4() == nil {
		return ipv6.NewPacketConn(c)
	}
	return ipv4.NewPacketConn(c)
}

// serveUDP reads queries from c in batches and answers them in batches,
// until c is closed. Several run per socket; each owns its buffers.
func (s *Server) serveUDP(c *net.UDPConn) {
	bc := newBatchConn(c)
	in := make([]ipv4.Message, udpBatch)
	out := make([]ipv4.Message, udpBatch)
	for i := range in {
		in[i].Buffers = [][]byte{make([]byte, udpQueryMax)}
		out[i].Buffers = [][]byte{make([]byte, 0, udpReplyMax)}
	}
	replies := make([]ipv4.Message, 0, udpBatch)
	for {
		n, err := bc.ReadBatch(in, 0)
		if err != nil {
			if isClosed(err) {
				return
			}
			s.log.Warn("dns: udp read", "err", err)
			continue
		}
		replies = replies[:0]
		for i := range n {
			m := &in[i]
			src, ok := m.Addr.(*net.UDPAddr)
			if !ok || m.Flags&msgTrunc != 0 {
				continue
			}
			o := &out[len(replies)]
			resp := s.respond(m.Buffers[0][:m.N], src.AddrPort(), false, o.Buffers[0][:0])
			if resp == nil {
				continue
			}
			o.Buffers[0] = resp
			o.Addr = m.Addr
			replies = append(replies, *o)
		}
		for len(replies) > 0 {
			k, err := bc.WriteBatch(replies, 0)
			if err != nil {
				if isClosed(err) {
					return
				}
				s.Stats.SendErrors.Add(1)
				k = max(k, 1) // skip the datagram that failed
			}
			replies = replies[k:]
		}
	}
}
