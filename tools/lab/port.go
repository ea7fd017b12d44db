package lab

import (
	"fmt"
	"math/rand/v2"
	"net"
	"strconv"
	"testing"
)

// Ports are drawn from below the kernel's ephemeral range (32768 and up on
// Linux), so a client socket opened by some other test cannot be handed the
// port between our check and the server's bind. Binding to port 0 would
// draw from exactly that range.
const (
	portLow  = 20000
	portHigh = 32000
)

// pickPort is freePort, replaced in tests to force a clash.
var pickPort = freePort

// freePort picks a port that is free for UDP and TCP on 127.0.0.1, and on
// ::1 when v6 is set. Another process may still take it before the server
// binds; Start notices and retries with another port.
func freePort(v6 bool) (int, error) {
	hosts := []string{"127.0.0.1"}
	if v6 {
		hosts = append(hosts, "::1")
	}
	var last error
	for range 100 {
		port := portLow + rand.IntN(portHigh-portLow)
		if last = portFree(hosts, port); last == nil {
			return port, nil
		}
	}
	return 0, fmt.Errorf("lab: no free port: %w", last)
}

func portFree(hosts []string, port int) error {
	var closers []func() error
	defer func() {
		for _, c := range closers {
			c()
		}
	}()
	for _, h := range hosts {
		addr := net.JoinHostPort(h, strconv.Itoa(port))
		u, err := net.ListenPacket("udp", addr)
		if err != nil {
			return err
		}
		closers = append(closers, u.Close)
		t, err := net.Listen("tcp", addr)
		if err != nil {
			return err
		}
		closers = append(closers, t.Close)
	}
	return nil
}

// FreeAddr returns a 127.0.0.1 address whose port is free for UDP and TCP
// and outside the ephemeral range, for a server under test that must be
// given a fixed address (a node config cannot say port 0).
func FreeAddr(tb testing.TB) string {
	tb.Helper()
	port, err := freePort(false)
	if err != nil {
		tb.Fatal(err)
	}
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
}
