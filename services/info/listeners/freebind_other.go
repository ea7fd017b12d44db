//go:build !linux

package listeners

import "syscall"

// freebind does nothing where IP_FREEBIND does not exist: there a listener
// needs its address to exist before it binds.
func freebind(network, address string, c syscall.RawConn) error { return nil }
