package lab

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// openTap creates the TAP device name inside n and returns its open
// descriptor. The kernel puts a new TAP in the namespace of whoever
// opened /dev/net/tun, so both happen on a thread switched into n; the
// descriptor then works from any process in any namespace.
func openTap(n *Netns, name string) (*os.File, error) {
	var f *os.File
	err := n.Do(func() error {
		fd, err := unix.Open("/dev/net/tun", unix.O_RDWR|unix.O_CLOEXEC, 0)
		if err != nil {
			return fmt.Errorf("open /dev/net/tun: %w", err)
		}
		ifr, err := unix.NewIfreq(name)
		if err == nil {
			ifr.SetUint16(unix.IFF_TAP | unix.IFF_NO_PI)
			err = unix.IoctlIfreq(fd, unix.TUNSETIFF, ifr)
		}
		if err != nil {
			unix.Close(fd)
			return fmt.Errorf("TUNSETIFF: %w", err)
		}
		f = os.NewFile(uintptr(fd), "/dev/net/tun:"+name)
		return nil
	})
	return f, err
}
