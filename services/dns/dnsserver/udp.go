package dnsserver

import (
	"net"
)

// serveUDP reads queries from c and answers each in turn, until c is
// closed. Several run per socket; each owns its buffers.
func (s *Server) serveUDP(c *net.UDPConn) {
	in := make([]byte, 65535)
	out := make([]byte, 0, 65535)
	for {
		n, src, err := c.ReadFromUDPAddrPort(in)
		if err != nil {
			if isClosed(err) {
				return
			}
			s.log.Warn("dns: udp read", "err", err)
			continue
		}
		resp := s.respond(in[:n], src, false, out[:0])
		if resp == nil {
			continue
		}
		if _, err := c.WriteToUDPAddrPort(resp, src); err != nil && !isClosed(err) {
			s.Stats.SendErrors.Add(1)
		}
	}
}
