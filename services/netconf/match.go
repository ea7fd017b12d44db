package netconf

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// matchKind is what a match compares.
type matchKind uint8

const (
	byName matchKind = iota
	byMAC
	byDriver
	byBus
)

// match is a parsed port match; see the package documentation for the
// syntax.
type match struct {
	text    string
	kind    matchKind
	value   string // name, lower-case MAC, or driver
	bus, id string // for byBus
}

func (m match) String() string { return m.text }

// busNames are the sysfs subsystems a bus path may start with. A name that
// starts with anything else and a dash (veth-a, br-lan) is an interface
// name.
var busNames = []string{"pci", "usb", "platform", "virtio", "sdio", "vmbus", "xen", "amba", "acpi", "mdio_bus"}

// parseMatch parses a role's match.
func parseMatch(s string) (match, error) {
	m := match{text: s}
	switch {
	case s == "":
		return m, fmt.Errorf("%w: empty", ErrBadMatch)
	case strings.HasPrefix(s, "driver:"):
		m.kind, m.value = byDriver, strings.TrimPrefix(s, "driver:")
		if !sysfsWord(m.value, 64) {
			return m, fmt.Errorf("%w: %q: driver name must be 1-64 printable characters without '/'", ErrBadMatch, s)
		}
		return m, nil
	}
	if hw, err := net.ParseMAC(s); err == nil && len(hw) == 6 {
		m.kind, m.value = byMAC, hw.String()
		return m, nil
	}
	if bus, id, ok := strings.Cut(s, "-"); ok && slices.Contains(busNames, bus) {
		if !sysfsWord(id, 255) {
			return m, fmt.Errorf("%w: %q: bus path %s-ID needs an ID of printable characters without '/'", ErrBadMatch, s, bus)
		}
		m.kind, m.bus, m.id = byBus, bus, id
		return m, nil
	}
	if !validLinkName(s) {
		return m, fmt.Errorf("%w: %q is not an interface name, a MAC address, driver:NAME or a bus path like pci-0000:01:00.0", ErrBadMatch, s)
	}
	m.kind, m.value = byName, s
	return m, nil
}

// validLinkName is the kernel's dev_valid_name, kept to printable ASCII.
func validLinkName(s string) bool {
	if len(s) == 0 || len(s) > 15 || s == "." || s == ".." {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c > '~' || c == '/' || c == ':' {
			return false
		}
	}
	return true
}

func sysfsWord(s string, max int) bool {
	if len(s) == 0 || len(s) > max || s == "." || s == ".." {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= ' ' || c > '~' || c == '/' {
			return false
		}
	}
	return true
}

// port is one network interface as sysfs describes it.
type port struct {
	name     string
	mac      string // lower-case, colon-separated
	arphrd   int    // ARPHRD_* from /sys/class/net/PORT/type: 1 is Ethernet
	physical bool   // has a device in sysfs (or is a veth; see kernel.ports)
	driver   string
	devices  []busID // the port's device and every device above it
}

// busID names one device in /sys/devices by its subsystem and directory.
type busID struct{ bus, id string }

const arphrdEther = 1

// scanPorts lists the interfaces under root/class/net.
func scanPorts(root string) ([]port, error) {
	dir := filepath.Join(root, "class", "net")
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("netconf: list ports: %w", err)
	}
	devRoot := filepath.Join(root, "devices")
	if r, err := filepath.EvalSymlinks(devRoot); err == nil {
		devRoot = r
	}
	var ports []port
	for _, e := range entries {
		p := port{name: e.Name()}
		base := filepath.Join(dir, p.name)
		p.mac = strings.ToLower(readTrim(filepath.Join(base, "address")))
		p.arphrd, _ = strconv.Atoi(readTrim(filepath.Join(base, "type")))
		dev := filepath.Join(base, "device")
		if real, err := filepath.EvalSymlinks(dev); err == nil {
			p.physical = true
			if drv, err := os.Readlink(filepath.Join(dev, "driver")); err == nil {
				p.driver = filepath.Base(drv)
			}
			for d := real; strings.HasPrefix(d, devRoot+string(filepath.Separator)); d = filepath.Dir(d) {
				if sub, err := os.Readlink(filepath.Join(d, "subsystem")); err == nil {
					p.devices = append(p.devices, busID{filepath.Base(sub), filepath.Base(d)})
				}
			}
		}
		ports = append(ports, p)
	}
	return ports, nil
}

func readTrim(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// find returns the one port m matches.
func (m match) find(ports []port) (port, error) {
	var hits []port
	for _, p := range ports {
		if m.matches(p) {
			hits = append(hits, p)
		}
	}
	if m.kind == byMAC && len(hits) > 1 {
		// VLANs and bonds share their parent's MAC: the port is the
		// physical one.
		hits = slices.DeleteFunc(hits, func(p port) bool { return !p.physical })
	}
	switch len(hits) {
	case 1:
		return hits[0], nil
	case 0:
		return port{}, fmt.Errorf("netconf: match %q: %w", m.text, ErrNoPort)
	default:
		names := make([]string, len(hits))
		for i, p := range hits {
			names[i] = p.name
		}
		return port{}, fmt.Errorf("netconf: match %q: %w: %s", m.text, ErrAmbiguousMatch, strings.Join(names, ", "))
	}
}

func (m match) matches(p port) bool {
	switch m.kind {
	case byName:
		return p.name == m.value
	case byMAC:
		return p.arphrd == arphrdEther && p.mac == m.value
	case byDriver:
		return p.physical && p.driver == m.value
	case byBus:
		return slices.Contains(p.devices, busID{m.bus, m.id})
	}
	return false
}

// oobCandidates are the ports that may be OOB when no match names it:
// physical Ethernet ports other than the IX port, by name.
func oobCandidates(ports []port, ix string) []string {
	var out []string
	for _, p := range ports {
		if p.physical && p.arphrd == arphrdEther && p.name != ix && p.name != "lo" {
			out = append(out, p.name)
		}
	}
	slices.Sort(out)
	return out
}
