package boards_test

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/goleudy/goleudy/boards"
	"github.com/goleudy/goleudy/services/netconf"
)

// The rules below hold for every row. They are what a new board or a bumped
// pin must satisfy before anything is built from it; the content of the
// packages themselves is checked in package_test.go.

// forEach runs check on every board as a subtest named after it.
func forEach(t *testing.T, check func(t *testing.T, b boards.Board)) {
	t.Helper()
	all := boards.All()
	if len(all) == 0 {
		t.Fatal("the table is empty")
	}
	for _, b := range all {
		t.Run(b.Name, func(t *testing.T) { check(t, b) })
	}
}

func TestTheBoardsOfIssue7(t *testing.T) {
	want := []string{"brix", "fitpc2i", "rpi", "rpi64", "vps"}
	if got := boards.Names(); !slices.Equal(got, want) {
		t.Errorf("boards %v, want %v", got, want)
	}
	if _, err := boards.Lookup(boards.Default); err != nil {
		t.Errorf("default board: %v", err)
	}
	if _, err := boards.Lookup("amiga"); err == nil || !strings.Contains(err.Error(), "brix") {
		t.Errorf("unknown board: %v, want an error listing the known ones", err)
	}
}

func TestNamesUnique(t *testing.T) {
	seen := map[string]bool{}
	for _, b := range boards.All() {
		if !regexp.MustCompile(`^[a-z][a-z0-9]*$`).MatchString(b.Name) {
			t.Errorf("board name %q: want lower-case letters and digits (it names files and a flag value)", b.Name)
		}
		if seen[b.Name] {
			t.Errorf("board %q twice", b.Name)
		}
		seen[b.Name] = true
	}
}

func TestGoTarget(t *testing.T) {
	forEach(t, func(t *testing.T, b boards.Board) {
		switch {
		case b.GOARCH == "arm" && b.GOARM != "6" && b.GOARM != "7":
			t.Errorf("GOARCH=arm needs GOARM 6 or 7, has %q", b.GOARM)
		case b.GOARCH != "arm" && b.GOARM != "":
			t.Errorf("GOARM=%s is only for GOARCH=arm, not %s", b.GOARM, b.GOARCH)
		case b.DebianArch() == "":
			t.Errorf("GOARCH=%s GOARM=%s has no Debian architecture", b.GOARCH, b.GOARM)
		}
		if b.Description == "" {
			t.Error("no description")
		}
	})
}

func TestPinsWellFormed(t *testing.T) {
	forEach(t, func(t *testing.T, b boards.Board) {
		names := map[string]bool{}
		for _, p := range b.AllPackages() {
			if err := p.Check(); err != nil {
				t.Error(err)
			}
			if names[p.Name] {
				t.Errorf("package %s twice", p.Name)
			}
			names[p.Name] = true
		}
		if b.Kernel.Arch != b.DebianArch() {
			t.Errorf("kernel %s is for %s, the board is %s", b.Kernel, b.Kernel.Arch, b.DebianArch())
		}
		for _, p := range b.Packages {
			// Bootloader packages are taken in the host's architecture.
			if p.Arch != b.DebianArch() && p.Arch != "all" && p.Arch != boards.HostArch {
				t.Errorf("package %s is for %s; want %s, all or the host's %s", p, p.Arch, b.DebianArch(), boards.HostArch)
			}
		}
	})
	for _, p := range boards.Tools {
		if err := p.Check(); err != nil {
			t.Errorf("tools: %v", err)
		}
		if p.Arch != boards.HostArch && p.Arch != "all" {
			t.Errorf("tool package %s runs on the build host, so must be %s or all", p, boards.HostArch)
		}
	}
}

// Two rows that pin the same file must pin it the same way, or the cache
// would hold one file for two different hashes.
func TestPinsAgree(t *testing.T) {
	byFile := map[string]boards.Package{}
	for _, p := range boards.Everything() {
		if prev, ok := byFile[p.Base()]; ok && prev != p {
			t.Errorf("%s is pinned as %+v and as %+v", p.Base(), prev, p)
		}
		byFile[p.Base()] = p
	}
	var all []boards.Package
	for _, b := range boards.All() {
		all = append(all, b.AllPackages()...)
	}
	for _, p := range append(all, boards.Tools...) {
		if byFile[p.Base()] != p {
			t.Errorf("%s pinned differently in two places", p.Base())
		}
	}
}

func TestPackageCheckCatches(t *testing.T) {
	good := boards.Package{Name: "libdevmapper1.02.1", Version: "2:1.02.185-2", Arch: "amd64",
		Filename: "pool/main/l/lvm2/libdevmapper1.02.1_1.02.185-2_amd64.deb",
		SHA256:   strings.Repeat("ab", 32), Size: 1}
	if err := good.Check(); err != nil {
		t.Fatalf("good pin: %v", err)
	}
	cases := []struct {
		name string
		edit func(*boards.Package)
		want string
	}{
		{"short sha", func(p *boards.Package) { p.SHA256 = "abcd" }, "64 lower-case hex"},
		{"upper sha", func(p *boards.Package) { p.SHA256 = strings.Repeat("AB", 32) }, "64 lower-case hex"},
		{"no size", func(p *boards.Package) { p.Size = 0 }, "size"},
		{"wrong version in path", func(p *boards.Package) { p.Version = "2:1.02.185-3" }, "should end in"},
		{"epoch in path", func(p *boards.Package) {
			p.Filename = "pool/main/l/lvm2/libdevmapper1.02.1_2:1.02.185-2_amd64.deb"
		}, "should end in"},
		{"wrong arch", func(p *boards.Package) { p.Arch = "i386" }, "should end in"},
		{"not pool", func(p *boards.Package) { p.Filename = "dists/main/l/lvm2/" + p.Base() }, "not pool/"},
		{"bad component", func(p *boards.Package) { p.Filename = "pool/extra/l/lvm2/" + p.Base() }, "unknown component"},
		{"lib prefix", func(p *boards.Package) { p.Filename = "pool/main/l/libfoo/" + p.Base() }, `under "libf"`},
		{"no name", func(p *boards.Package) { p.Name = "" }, "no name"},
	}
	for _, c := range cases {
		p := good
		c.edit(&p)
		if err := p.Check(); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an error containing %q", c.name, err, c.want)
		}
	}
}

func TestKernelRelease(t *testing.T) {
	flavours := map[string][]string{
		"amd64": {"amd64", "cloud-amd64", "rt-amd64"},
		"i386":  {"686", "686-pae", "rt-686-pae"},
		"armel": {"rpi", "marvell"},
		"armhf": {"armmp", "armmp-lpae", "rt-armmp"},
		"arm64": {"arm64", "cloud-arm64", "rt-arm64"},
	}
	release := regexp.MustCompile(`^(\d+)\.(\d+)\.\d+-\d+-([a-z0-9-]+)$`)
	forEach(t, func(t *testing.T, b boards.Board) {
		if b.Kernel.Name != "linux-image-"+b.KernelRelease {
			t.Errorf("kernel package %s does not match release %q (want linux-image-%s)", b.Kernel.Name, b.KernelRelease, b.KernelRelease)
		}
		m := release.FindStringSubmatch(b.KernelRelease)
		if m == nil {
			t.Fatalf("release %q is not like 6.1.0-56-amd64", b.KernelRelease)
		}
		if !slices.Contains(flavours[b.DebianArch()], m[3]) {
			t.Errorf("release %s: flavour %s is not a %s kernel (%v)", b.KernelRelease, m[3], b.DebianArch(), flavours[b.DebianArch()])
		}
		if !strings.HasPrefix(b.Kernel.Version, m[1]+"."+m[2]+".") {
			t.Errorf("kernel version %s is not the %s.%s series of release %s", b.Kernel.Version, m[1], m[2], b.KernelRelease)
		}
		if b.VMLinuz() != "boot/vmlinuz-"+b.KernelRelease || b.ModulesDir() != "lib/modules/"+b.KernelRelease {
			t.Errorf("paths %s %s", b.VMLinuz(), b.ModulesDir())
		}
	})
}

func TestConsoleAndCmdline(t *testing.T) {
	console := regexp.MustCompile(`^(tty\d+|tty(S|AMA|USB)\d+(,\d+(n8)?)?)$`)
	forEach(t, func(t *testing.T, b boards.Board) {
		if !console.MatchString(b.Console) {
			t.Errorf("console %q: want ttyN or a serial port like ttyS0,115200", b.Console)
		}
		panicSecs := 0
		for _, arg := range b.Cmdline {
			if arg == "" || strings.ContainsAny(arg, " \t\n\"'") {
				t.Errorf("cmdline argument %q must be one word", arg)
			}
			if c, ok := strings.CutPrefix(arg, "console="); ok && strings.Split(c, ",")[0] == strings.Split(b.Console, ",")[0] {
				t.Errorf("console %s is in Cmdline too; Console is added last", c)
			}
			if v, ok := strings.CutPrefix(arg, "panic="); ok {
				panicSecs, _ = strconv.Atoi(v)
			}
		}
		// A panicking kernel must reboot so the boot counter can act.
		if panicSecs <= 0 {
			t.Errorf("cmdline %q: want panic=N with N > 0, so a bad slot falls back instead of hanging", b.Cmdline)
		}
		if got := b.KernelCmdline(); !strings.HasSuffix(got, " console="+b.Console) {
			t.Errorf("KernelCmdline %q does not end with the primary console", got)
		}
		for _, arg := range b.QEMU.Cmdline {
			if arg == "" || strings.ContainsAny(arg, " \t\n\"'") || strings.HasPrefix(arg, "console=") {
				t.Errorf("QEMU cmdline argument %q must be one word, and not a console (QEMU.Console is)", arg)
			}
		}
	})
}

func TestPorts(t *testing.T) {
	forEach(t, func(t *testing.T, b boards.Board) {
		for _, ports := range []boards.Ports{b.Ports, b.EmulatedPorts()} {
			if ports.IX == "" || ports.OOB == "" {
				t.Fatalf("ports %+v: both roles need a port", ports)
			}
			if ports.IX == ports.OOB {
				t.Errorf("IX and OOB are the same port %q", ports.IX)
			}
			// The node's own parser must take them.
			if _, err := netconf.New(netconf.Options{IXMatch: ports.IX, OOBMatch: ports.OOB}); err != nil {
				t.Errorf("ports %+v: %v", ports, err)
			}
		}
		for _, p := range []string{b.Ports.IX, b.Ports.OOB} {
			if d, ok := strings.CutPrefix(p, "driver:"); ok && !slices.Contains(b.Modules, d) {
				t.Errorf("port match %s names a driver the board does not load", p)
			}
		}
	})
}

func TestBootAndTable(t *testing.T) {
	type combo struct {
		table    boards.Table
		arches   []string
		packages []string // bootloader packages the board must pin
		firmware []string // QEMU firmware the tests must boot with
	}
	valid := map[boards.Boot]combo{
		boards.BootUEFI:     {boards.TableGPT, []string{"amd64"}, []string{"grub-efi-amd64-bin"}, []string{"ovmf"}},
		boards.BootBIOS:     {boards.TableMBR, []string{"386", "amd64"}, []string{"grub-pc-bin"}, []string{"seabios"}},
		boards.BootUEFIBIOS: {boards.TableGPT, []string{"amd64"}, []string{"grub-efi-amd64-bin", "grub-pc-bin"}, []string{"ovmf", "seabios"}},
		boards.BootRPiUBoot: {boards.TableMBR, []string{"arm", "arm64"}, []string{"raspi-firmware", "u-boot-rpi"}, nil},
	}
	forEach(t, func(t *testing.T, b boards.Board) {
		c, ok := valid[b.Boot]
		if !ok {
			t.Fatalf("boot %q is not one of uefi, bios, uefi+bios, rpi-uboot", b.Boot)
		}
		if b.Table != c.table {
			t.Errorf("boot %s needs a %s partition table, has %q", b.Boot, c.table, b.Table)
		}
		if !slices.Contains(c.arches, b.GOARCH) {
			t.Errorf("boot %s is for GOARCH %v, not %s", b.Boot, c.arches, b.GOARCH)
		}
		for _, name := range c.packages {
			if _, ok := b.Package(name); !ok {
				t.Errorf("boot %s needs package %s pinned", b.Boot, name)
			}
		}
		if !slices.Equal(b.QEMU.Firmware, c.firmware) {
			t.Errorf("boot %s is tested with firmware %v, has %v", b.Boot, c.firmware, b.QEMU.Firmware)
		}
		pi := b.Boot == boards.BootRPiUBoot
		if pi != (len(b.BootFirmware) > 0) {
			t.Errorf("boot %s with %d VideoCore firmware files: only Raspberry Pi boards have them, and they must", b.Boot, len(b.BootFirmware))
		}
		if pi != (b.Bootloader != boards.File{}) || pi != (b.QEMU.Bootloader != "") {
			t.Errorf("boot %s with Bootloader %+v and QEMU.Bootloader %q: only Raspberry Pi boards have them, and they must",
				b.Boot, b.Bootloader, b.QEMU.Bootloader)
		}
	})
}

func TestDTBsOnlyOnPis(t *testing.T) {
	forEach(t, func(t *testing.T, b boards.Board) {
		pi := b.Boot == boards.BootRPiUBoot
		if pi != (len(b.DTBs) > 0) {
			t.Fatalf("%d DTBs with boot %s: Raspberry Pi boards need them, others have none", len(b.DTBs), b.Boot)
		}
		dir := "usr/lib/linux-image-" + b.KernelRelease + "/"
		seen := map[string]bool{}
		for _, d := range b.DTBs {
			if !strings.HasPrefix(d, dir) || !strings.HasSuffix(d, ".dtb") {
				t.Errorf("DTB %s: want %s...dtb, in the kernel package", d, dir)
			}
			base := d[strings.LastIndex(d, "/")+1:]
			if seen[base] {
				t.Errorf("two DTBs named %s (they share the boot partition's root)", base)
			}
			seen[base] = true
		}
		if pi && !slices.Contains(b.DTBs, b.QEMU.DTB) {
			t.Errorf("QEMU DTB %q is not one of the board's DTBs", b.QEMU.DTB)
		}
	})
}

func TestFilesNamePackages(t *testing.T) {
	forEach(t, func(t *testing.T, b boards.Board) {
		seen := map[string]bool{}
		for _, f := range append(slices.Clone(b.Firmware), b.BootFirmware...) {
			if _, ok := b.Package(f.Package); !ok {
				t.Errorf("%s is taken from %s, which the board does not pin", f.Path, f.Package)
			}
			if f.Path == "" || strings.HasPrefix(f.Path, "/") || strings.HasPrefix(f.Path, "./") || strings.Contains(f.Path, "..") {
				t.Errorf("path %q: want a clean path inside the package", f.Path)
			}
			if seen[f.Path] {
				t.Errorf("%s twice", f.Path)
			}
			seen[f.Path] = true
		}
		for _, f := range b.Firmware {
			if !strings.HasPrefix(f.Path, "lib/firmware/") {
				t.Errorf("firmware %s is not under lib/firmware/, where the kernel looks", f.Path)
			}
		}
	})
}

func TestModules(t *testing.T) {
	name := regexp.MustCompile(`^[a-zA-Z0-9_]+$`)
	forEach(t, func(t *testing.T, b boards.Board) {
		seen := map[string]bool{}
		for _, m := range b.Modules {
			if !name.MatchString(m) {
				t.Errorf("module %q: want the kernel's name, with '_' not '-'", m)
			}
			if seen[m] {
				t.Errorf("module %s twice", m)
			}
			seen[m] = true
		}
		for _, m := range b.QEMU.NoModules {
			if !seen[m] {
				t.Errorf("QEMU.NoModules: %s is not among the board's modules", m)
			}
		}
		for _, m := range b.QEMU.Modules {
			if seen[m] || !name.MatchString(m) {
				t.Errorf("QEMU.Modules: %q is the board's already, or not a kernel module name", m)
			}
		}
		// Every board mounts FAT boot and slot partitions and an ext4
		// data partition.
		for _, m := range []string{"vfat", "nls_cp437", "nls_ascii", "ext4", "crc32c_generic"} {
			if !seen[m] {
				t.Errorf("module %s missing: every board mounts FAT and ext4", m)
			}
		}
	})
}

// The emulated machine's devices must have their drivers in the image.
func TestQEMUHints(t *testing.T) {
	system := map[string]string{"amd64": "qemu-system-x86_64", "386": "qemu-system-i386",
		"arm64": "qemu-system-aarch64", "arm": "qemu-system-arm"}
	drivers := map[string]string{"e1000e": "e1000e", "e1000": "e1000", "virtio-net-pci": "virtio_net",
		"ahci": "ahci", "ide": "ata_piix", "virtio": "virtio_blk", "i6300esb": "i6300esb"}
	forEach(t, func(t *testing.T, b boards.Board) {
		q := b.QEMU
		if q.System != system[b.GOARCH] {
			t.Errorf("QEMU %s for GOARCH %s, want %s", q.System, b.GOARCH, system[b.GOARCH])
		}
		if q.Machine == "" || q.MemoryMiB <= 0 {
			t.Errorf("QEMU machine %q with %d MiB", q.Machine, q.MemoryMiB)
		}
		for _, dev := range []string{q.NIC, q.Disk, q.Watchdog} {
			if dev == "" {
				continue
			}
			d, ok := drivers[dev]
			if !ok {
				t.Errorf("QEMU device %q: no known driver (add it to this test's table)", dev)
				continue
			}
			if !slices.Contains(b.Modules, d) {
				t.Errorf("QEMU device %s needs module %s, which the board does not load", dev, d)
			}
		}
		direct := len(q.Firmware) == 0
		if direct != (q.Disk == "") {
			t.Errorf("QEMU: firmware %v with disk %q: a firmware boot needs the disk, a direct kernel boot has none", q.Firmware, q.Disk)
		}
		if q.Serial < 0 || q.Serial > 3 {
			t.Errorf("QEMU serial index %d", q.Serial)
		}
	})
}

func ExampleBoard_KernelCmdline() {
	b, _ := boards.Lookup("vps")
	fmt.Println(b.KernelCmdline())
	// Output: console=tty0 panic=10 console=ttyS0,115200
}

func ExampleBoard_EmulatedCmdline() {
	b, _ := boards.Lookup("rpi")
	fmt.Println(b.EmulatedCmdline())
	// Output: console=tty1 panic=10 initcall_blacklist=bcm2835_power_driver_init initcall_blacklist=bcm2835_wdt_driver_init console=ttyAMA0,115200
}
