package main

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// config is what the kernel command line asks of the fixture.
type config struct {
	addrs    []netip.Prefix // i-th address for the i-th NIC by MAC order
	disks    int            // block devices to wait for
	poweroff bool
}

// Command-line keys the fixture reads; the kernel passes the rest to
// others and so does the fixture.
const (
	keyAddr     = "initfixture.addr"
	keyDisks    = "initfixture.disks"
	keyPoweroff = "initfixture.poweroff"
)

// maxDisks bounds initfixture.disks; QEMU machines have a handful.
const maxDisks = 64

// parseCmdline reads the fixture's keys from a kernel command line
// (/proc/cmdline). Unknown keys belong to the kernel and are ignored; a
// bad value of one of ours is an error naming the key.
func parseCmdline(line string) (config, error) {
	var c config
	for _, field := range strings.Fields(line) {
		key, value, _ := strings.Cut(field, "=")
		switch key {
		case keyAddr:
			if value == "" {
				return c, fmt.Errorf("%s: empty: want CIDR[,CIDR...]", keyAddr)
			}
			for _, s := range strings.Split(value, ",") {
				p, err := netip.ParsePrefix(s)
				if err != nil {
					return c, fmt.Errorf("%s: %q: want an address with prefix length, such as 10.99.0.2/24", keyAddr, s)
				}
				c.addrs = append(c.addrs, p)
			}
		case keyDisks:
			n, err := strconv.Atoi(value)
			if err != nil || n < 0 || n > maxDisks {
				return c, fmt.Errorf("%s: %q: want a number of disks, 0..%d", keyDisks, value, maxDisks)
			}
			c.disks = n
		case keyPoweroff:
			switch value {
			case "1", "":
				c.poweroff = true
			case "0":
				c.poweroff = false
			default:
				return c, fmt.Errorf("%s: %q: want 0 or 1", keyPoweroff, value)
			}
		}
	}
	return c, nil
}
