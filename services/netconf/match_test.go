package netconf

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// sysDev is one interface in a fake sysfs tree, laid out as the kernel
// does: the interface under its device in /sys/devices, a class/net link
// to it, a device link up from it, and subsystem links on every device.
type sysDev struct {
	name, mac string
	arphrd    int
	// devpath is the device under /sys/devices ("" for a virtual
	// interface); subsys gives the subsystem of it and of each device
	// above it that has one, by path.
	devpath string
	subsys  map[string]string
	driver  string
}

func fakeSysfs(t testing.TB, devs []sysDev) string {
	root := t.TempDir()
	must := func(err error) {
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join(root, "class", "net"), 0o755))
	for _, d := range devs {
		dev := filepath.Join("virtual", "net", d.name)
		if d.devpath != "" {
			dev = filepath.Join(d.devpath, "net", d.name)
		}
		netdir := filepath.Join(root, "devices", dev)
		must(os.MkdirAll(netdir, 0o755))
		must(os.WriteFile(filepath.Join(netdir, "address"), []byte(d.mac+"\n"), 0o644))
		must(os.WriteFile(filepath.Join(netdir, "type"), []byte(strconv.Itoa(d.arphrd)+"\n"), 0o644))
		must(os.Symlink(filepath.Join("..", "..", "devices", dev), filepath.Join(root, "class", "net", d.name)))
		if d.devpath == "" {
			continue
		}
		must(os.Symlink(filepath.Join("..", ".."), filepath.Join(netdir, "device")))
		for p, sub := range d.subsys {
			link := filepath.Join(root, "devices", p, "subsystem")
			if _, err := os.Lstat(link); err == nil {
				continue
			}
			must(os.Symlink(filepath.Join(root, "bus", sub), link))
		}
		if d.driver != "" {
			must(os.Symlink(filepath.Join(root, "bus", "pci", "drivers", d.driver), filepath.Join(root, "devices", d.devpath, "driver")))
		}
	}
	return root
}

// board is a node with most kinds of port: two Realteks on PCI, a virtio
// NIC, a USB NIC, a Pi's platform NIC, a VLAN sharing a MAC, a bridge and lo.
var board = []sysDev{
	{name: "enp1s0", mac: "52:54:00:00:01:01", arphrd: 1, driver: "r8169",
		devpath: "pci0000:00/0000:00:1c.0/0000:01:00.0",
		subsys:  map[string]string{"pci0000:00/0000:00:1c.0": "pci", "pci0000:00/0000:00:1c.0/0000:01:00.0": "pci"}},
	{name: "enp2s0", mac: "52:54:00:00:02:02", arphrd: 1, driver: "r8169",
		devpath: "pci0000:00/0000:00:1c.1/0000:02:00.0",
		subsys:  map[string]string{"pci0000:00/0000:00:1c.1": "pci", "pci0000:00/0000:00:1c.1/0000:02:00.0": "pci"}},
	{name: "ens3", mac: "52:54:00:00:03:03", arphrd: 1, driver: "virtio_net",
		devpath: "pci0000:00/0000:00:03.0/virtio0",
		subsys:  map[string]string{"pci0000:00/0000:00:03.0": "pci", "pci0000:00/0000:00:03.0/virtio0": "virtio"}},
	{name: "enx00e04c680001", mac: "00:e0:4c:68:00:01", arphrd: 1, driver: "r8152",
		devpath: "pci0000:00/0000:00:14.0/usb2/2-1/2-1:1.0",
		subsys: map[string]string{"pci0000:00/0000:00:14.0": "pci", "pci0000:00/0000:00:14.0/usb2": "usb",
			"pci0000:00/0000:00:14.0/usb2/2-1": "usb", "pci0000:00/0000:00:14.0/usb2/2-1/2-1:1.0": "usb"}},
	{name: "eth0", mac: "dc:a6:32:00:00:01", arphrd: 1, driver: "bcmgenet",
		devpath: "platform/scb/fd580000.ethernet",
		subsys:  map[string]string{"platform/scb": "platform", "platform/scb/fd580000.ethernet": "platform"}},
	{name: "enp1s0.100", mac: "52:54:00:00:01:01", arphrd: 1},
	{name: "br0", mac: "52:54:00:00:09:09", arphrd: 1},
	{name: "wg0", arphrd: 65534},
	{name: "lo", mac: "00:00:00:00:00:00", arphrd: 772},
}

func TestPortMatching(t *testing.T) {
	ports, err := scanPorts(fakeSysfs(t, board))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		match, want string
		err         error
		names       string // for an ambiguous match, the ports it names
	}{
		{match: "enp1s0", want: "enp1s0"},
		{match: "enp1s0.100", want: "enp1s0.100"},
		{match: "52:54:00:00:01:01", want: "enp1s0"}, // the VLAN shares it; the physical port wins
		{match: "52-54-00-00-02-02", want: "enp2s0"},
		{match: "DC:A6:32:00:00:01", want: "eth0"},
		{match: "driver:virtio_net", want: "ens3"},
		{match: "driver:r8152", want: "enx00e04c680001"},
		{match: "driver:r8169", err: ErrAmbiguousMatch, names: "enp1s0, enp2s0"},
		{match: "pci-0000:01:00.0", want: "enp1s0"},
		{match: "pci-0000:00:1c.1", want: "enp2s0"},     // a bridge above the port
		{match: "pci-0000:00:03.0", want: "ens3"},       // the PCI device of a virtio NIC
		{match: "virtio-virtio0", want: "ens3"},         // ... or the virtio device itself
		{match: "usb-2-1:1.0", want: "enx00e04c680001"}, // the USB interface
		{match: "usb-2-1", want: "enx00e04c680001"},     // the USB device
		{match: "pci-0000:00:14.0", want: "enx00e04c680001"},
		{match: "platform-fd580000.ethernet", want: "eth0"},
		{match: "eth9", err: ErrNoPort},
		{match: "driver:e1000e", err: ErrNoPort},
		{match: "pci-0000:09:00.0", err: ErrNoPort},
		{match: "52:54:00:00:09:08", err: ErrNoPort},
		{match: "usb-0000:01:00.0", err: ErrNoPort}, // a PCI device is not on USB
	} {
		m, err := parseMatch(c.match)
		if err != nil {
			t.Errorf("parseMatch(%q): %v", c.match, err)
			continue
		}
		p, err := m.find(ports)
		switch {
		case c.err != nil:
			if !errors.Is(err, c.err) || !strings.Contains(err.Error(), strconv.Quote(c.match)) || !strings.Contains(err.Error(), c.names) {
				t.Errorf("match %q: %v, want %v naming the match and %q", c.match, err, c.err, c.names)
			}
		case err != nil:
			t.Errorf("match %q: %v", c.match, err)
		case p.name != c.want:
			t.Errorf("match %q = %s, want %s", c.match, p.name, c.want)
		}
	}
	want := []string{"enp2s0", "ens3", "enx00e04c680001", "eth0"}
	if got := oobCandidates(ports, "enp1s0"); !slices.Equal(got, want) {
		t.Errorf("OOB candidates %v, want %v (physical Ethernet but IX)", got, want)
	}
}

func TestParseMatchRejects(t *testing.T) {
	for _, s := range []string{"", "driver:", "driver:a/b", "driver:a b", "pci-", "pci-a/b", "eth 0", "a/b",
		"enp1s0enp1s0enp1s0", "en:p1", ".", "..", "eth0\n", "ét0"} {
		if m, err := parseMatch(s); !errors.Is(err, ErrBadMatch) {
			t.Errorf("parseMatch(%q) = %+v, %v; want ErrBadMatch", s, m, err)
		} else if s != "" && !strings.Contains(err.Error(), strconv.Quote(s)) {
			t.Errorf("parseMatch(%q): %v does not name the match", s, err)
		}
	}
}

func TestScanPortsMissingSysfs(t *testing.T) {
	if _, err := scanPorts(filepath.Join(t.TempDir(), "nothing")); err == nil || !strings.Contains(err.Error(), "list ports") {
		t.Errorf("scanPorts of no sysfs = %v", err)
	}
}

func FuzzParseMatch(f *testing.F) {
	for _, s := range []string{"enp1s0", "52:54:00:12:34:56", "driver:r8169", "pci-0000:01:00.0", "usb-2-1:1.0",
		"platform-fd580000.ethernet", "veth-a", "", "a:b", "0000.1111.2222", "driver:", "usb-"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		m, err := parseMatch(s)
		if err != nil {
			if !errors.Is(err, ErrBadMatch) {
				t.Fatalf("parseMatch(%q): %v is not ErrBadMatch", s, err)
			}
			return
		}
		if m.String() != s {
			t.Fatalf("parseMatch(%q).String() = %q", s, m.String())
		}
		switch m.kind {
		case byName:
			if !validLinkName(m.value) {
				t.Fatalf("parseMatch(%q): name %q is not valid", s, m.value)
			}
		case byMAC:
			if again, err := parseMatch(m.value); err != nil || again.kind != byMAC || again.value != m.value {
				t.Fatalf("MAC %q does not parse back: %+v, %v", m.value, again, err)
			}
		case byDriver:
			if m.value == "" || strings.Contains(m.value, "/") {
				t.Fatalf("parseMatch(%q): driver %q", s, m.value)
			}
		case byBus:
			if !slices.Contains(busNames, m.bus) || m.id == "" || strings.Contains(m.id, "/") {
				t.Fatalf("parseMatch(%q): bus %q id %q", s, m.bus, m.id)
			}
		}
	})
}
