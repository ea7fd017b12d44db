package boards

import (
	"fmt"
	"slices"
	"strings"
)

// Boot is how the machine's firmware reaches the kernel, and so which A/B
// mechanism the image uses.
type Boot string

const (
	// BootUEFI is GRUB as \EFI\BOOT\BOOTX64.EFI on the ESP, with the
	// boot counter in grubenv.
	BootUEFI Boot = "uefi"
	// BootBIOS is GRUB i386-pc: boot.img in the MBR, core.img after it,
	// the boot counter in grubenv.
	BootBIOS Boot = "bios"
	// BootUEFIBIOS is both on one GPT disk, for VPSes whose firmware is
	// not known in advance; core.img sits in a BIOS boot partition.
	BootUEFIBIOS Boot = "uefi+bios"
	// BootRPiUBoot is the Raspberry Pi VideoCore firmware starting
	// U-Boot, whose boot script picks the slot with the boot counter in
	// uboot.env (see image/rpiboot for why not the firmware's tryboot).
	BootRPiUBoot Boot = "rpi-uboot"
)

// Table is the partition table kind.
type Table string

const (
	TableGPT Table = "gpt"
	TableMBR Table = "mbr"
)

// Ports say which physical port takes each role, as a services/netconf
// port match: an interface name, a MAC address, driver:NAME or a bus path
// such as pci-0000:01:00.0. The node's config may override either.
type Ports struct {
	IX  string // faces the IXP or ISP router: DNS, BGP
	OOB string // the host's management LAN, usually DHCP
}

// File is a file the image takes from one of a board's packages.
type File struct {
	Package string // Name of the package (Board.Kernel or one of Board.Packages)
	Path    string // path inside it, without a leading "./"
}

// QEMU is how tests emulate the board. Software emulation cannot run the
// real board, so this names the nearest machine QEMU has and what it puts
// in it; the modules for those emulated devices are in the board's Modules
// beside the real ones.
type QEMU struct {
	System    string   // program, e.g. qemu-system-x86_64
	Machine   string   // -M value: q35, pc, raspi3b, raspi0
	CPU       string   // -cpu value; "" is QEMU's default
	MemoryMiB int      // -m value
	Firmware  []string // "ovmf", "seabios"; none means the test boots the kernel directly
	Disk      string   // how the image attaches: "virtio", "ahci", "ide", or "" (direct kernel boot)
	NIC       string   // -device model of both NICs; IX is the first one added, OOB the second
	Watchdog  string   // -device model of an emulated watchdog; "" for none
	DTB       string   // for direct kernel boots: the DTB's path in the kernel package
	Console   string   // console= under emulation; "" is the board's Console
	Cmdline   []string // kernel parameters added under emulation, for what QEMU lacks
	Modules   []string // modules added under emulation, for devices QEMU has and the board lacks
	NoModules []string // board modules left out under emulation, for devices QEMU emulates wrongly
	Serial    int      // index of the QEMU -serial the console is on (0: the first)
	Ports     Ports    // port matches for the emulated NICs; zero is the board's Ports
	// Bootloader is the file of the board's Bootloader package that QEMU
	// starts where the VideoCore firmware would start Bootloader.Path:
	// the same U-Boot, as an ELF where QEMU would load the raw binary at
	// the wrong address (32-bit raspi machines).
	Bootloader string
}

// Board is one row of the table.
type Board struct {
	Name        string
	Description string

	GOARCH string // for goleudy-node
	GOARM  string // for GOARCH=arm: "6" or "7"

	Kernel        Package   // the linux-image-RELEASE package
	KernelRelease string    // uname -r, the lib/modules directory name
	Packages      []Package // other packages the image takes files from

	// Modules are the root modules the node loads at boot; the image
	// carries them and everything they depend on (modules.dep). A module
	// that this kernel builds in is allowed, so a kernel bump that builds
	// one in does not break the row.
	Modules []string
	// Firmware goes into the initramfs at the same path, for drivers
	// that load it.
	Firmware []File
	// BootFirmware goes onto the boot partition's root: the Raspberry Pi
	// VideoCore firmware.
	BootFirmware []File
	// Bootloader is the binary the VideoCore firmware starts as its
	// "kernel": U-Boot's u-boot.bin for the board's models.
	Bootloader File
	// DTBs are paths in the kernel package; only Raspberry Pi boards have
	// them, since x86 firmware describes its own hardware.
	DTBs []string

	// Console is the primary console: the last console= on the kernel
	// command line, which is /dev/console, e.g. "ttyS0,115200" or "tty1".
	Console string
	// Cmdline comes before console=Console: other consoles and the
	// board's other kernel parameters.
	Cmdline []string

	Boot  Boot
	Table Table
	Ports Ports
	QEMU  QEMU
}

// DebianArch is the Debian architecture of the board's userland and
// kernel: amd64, i386, armel (ARMv6), armhf (ARMv7) or arm64.
func (b Board) DebianArch() string { return DebianArch(b.GOARCH, b.GOARM) }

// DebianArch maps a Go target to the Debian architecture whose packages
// run on it, or "" if none does.
func DebianArch(goarch, goarm string) string {
	switch {
	case goarch == "amd64" && goarm == "":
		return "amd64"
	case goarch == "386" && goarm == "":
		return "i386"
	case goarch == "arm64" && goarm == "":
		return "arm64"
	case goarch == "arm" && (goarm == "5" || goarm == "6"):
		return "armel"
	case goarch == "arm" && goarm == "7":
		return "armhf"
	}
	return ""
}

// VMLinuz is the kernel image's path in the kernel package.
func (b Board) VMLinuz() string { return "boot/vmlinuz-" + b.KernelRelease }

// ModulesDir is the modules tree's path in the kernel package.
func (b Board) ModulesDir() string { return "lib/modules/" + b.KernelRelease }

// KernelCmdline is the command line the bootloader gives the kernel.
func (b Board) KernelCmdline() string {
	return strings.Join(append(slices.Clone(b.Cmdline), "console="+b.Console), " ")
}

// EmulatedCmdline is the command line for a direct kernel boot under
// QEMU: the board's, with the emulation's additions and console.
func (b Board) EmulatedCmdline() string {
	console := b.QEMU.Console
	if console == "" {
		console = b.Console
	}
	args := append(slices.Clone(b.Cmdline), b.QEMU.Cmdline...)
	return strings.Join(append(args, "console="+console), " ")
}

// AllPackages is the kernel package followed by the others.
func (b Board) AllPackages() []Package { return append([]Package{b.Kernel}, b.Packages...) }

// Package finds one of the board's packages, the kernel included, by name.
func (b Board) Package(name string) (Package, bool) {
	for _, p := range b.AllPackages() {
		if p.Name == name {
			return p, true
		}
	}
	return Package{}, false
}

// EmulatedModules is the module list of an image built for QEMU:
// Modules without QEMU.NoModules, plus QEMU.Modules.
func (b Board) EmulatedModules() []string {
	out := slices.DeleteFunc(slices.Clone(b.Modules), func(m string) bool { return slices.Contains(b.QEMU.NoModules, m) })
	for _, m := range b.QEMU.Modules {
		if !slices.Contains(out, m) {
			out = append(out, m)
		}
	}
	return out
}

// EmulatedPorts are the port matches under QEMU.
func (b Board) EmulatedPorts() Ports {
	if b.QEMU.Ports == (Ports{}) {
		return b.Ports
	}
	return b.QEMU.Ports
}

// All returns every board, in the table's order. The slice is a copy;
// the rows share their slices with the table, so do not modify them.
func All() []Board { return slices.Clone(table) }

// Names lists the board names in the table's order.
func Names() []string {
	names := make([]string, len(table))
	for i, b := range table {
		names[i] = b.Name
	}
	return names
}

// Lookup finds a board by name.
func Lookup(name string) (Board, error) {
	for _, b := range table {
		if b.Name == name {
			return b, nil
		}
	}
	return Board{}, fmt.Errorf("boards: unknown board %q (known: %s)", name, strings.Join(Names(), ", "))
}

// Default is the board `make image` builds.
const Default = "brix"

// Everything is every package any board or the build needs, each once,
// in a stable order: what `goleudy image fetch` fills the cache with.
func Everything() []Package {
	seen := map[string]bool{}
	var all []Package
	add := func(ps ...Package) {
		for _, p := range ps {
			if !seen[p.Filename] {
				seen[p.Filename] = true
				all = append(all, p)
			}
		}
	}
	for _, b := range table {
		add(b.AllPackages()...)
	}
	add(Tools...)
	return all
}
