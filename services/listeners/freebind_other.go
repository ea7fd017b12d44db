//go:build !linux

package listeners

import "syscall"

// Freebind does nothing where IP_FREEBIND does not exist: there a listener
// needs its address to exist before it binds.
func Freebind(network, address string, c syscall.RawConn) error { return nil }
