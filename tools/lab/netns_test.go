package lab

import (
	"context"
	"net"
	"strings"
	"testing"
)

// TestNetns checks that namespaces are isolated, joined by Veth, and that
// Do and Command run inside them.
func TestNetns(t *testing.T) {
	a := NewNetns(t)
	b := NewNetns(t)
	if a.Name == b.Name {
		t.Fatal("names must be unique")
	}
	Veth(t, a, b, []string{"198.51.100.1/30", "2001:db8:ffff::1/64"}, []string{"198.51.100.2/30", "2001:db8:ffff::2/64"})

	// The address exists only in a: binding to it works there and not here.
	err := a.Do(func() error {
		l, err := net.Listen("tcp", "[2001:db8:ffff::1]:0")
		if err != nil {
			return err
		}
		return l.Close()
	})
	if err != nil {
		t.Errorf("listen inside a: %v", err)
	}
	if l, err := net.Listen("tcp", "198.51.100.1:0"); err == nil {
		l.Close()
		t.Error("a's address is bindable outside a")
	}
	// A socket made inside a keeps working from any goroutine; b reaches it
	// over the veth.
	var l net.Listener
	if err := a.Do(func() (err error) { l, err = net.Listen("tcp", "198.51.100.1:0"); return err }); err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	accepted := make(chan error, 1)
	go func() {
		c, err := l.Accept()
		if err == nil {
			c.Close()
		}
		accepted <- err
	}()
	if err := b.Do(func() error {
		c, err := net.Dial("tcp", l.Addr().String())
		if err != nil {
			return err
		}
		return c.Close()
	}); err != nil {
		t.Errorf("dial from b to a: %v", err)
	}
	if err := <-accepted; err != nil {
		t.Errorf("accept in a: %v", err)
	}
	out, err := a.Command(context.Background(), "ip", "-br", "addr").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "veth-a") {
		t.Errorf("ip addr in a: %v\n%s", err, out)
	}
}
