package listeners

import (
	"fmt"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// Freebind lets a listener bind an address the host does not hold yet: the
// tunnel address before the tunnel is up, or an anycast address before it
// is put on the loopback. The socket serves as soon as the address exists.
// services/dns/dnsserver sets it on its sockets too.
func Freebind(network, address string, c syscall.RawConn) error {
	var serr error
	err := c.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.SOL_IP, unix.IP_FREEBIND, 1)
		if serr == nil && strings.HasSuffix(network, "6") {
			serr = unix.SetsockoptInt(int(fd), unix.SOL_IPV6, unix.IPV6_FREEBIND, 1)
		}
	})
	if err != nil {
		return fmt.Errorf("freebind: %w", err)
	}
	if serr != nil {
		return fmt.Errorf("freebind: %w", serr)
	}
	return nil
}
