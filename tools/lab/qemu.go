package lab

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// The QEMU tier boots real kernels (and later whole images) under
// software emulation and reads the serial console, as u-root's vmtest
// and gokrazy's integration tests do. Nothing here needs KVM.
//
// Networking: every NIC of a VM is a TAP device that lives in the test's
// far-side namespace, not in the namespace QEMU runs in. The harness
// opens /dev/net/tun on a thread switched into that namespace
// (TUNSETIFF creates the device in the opener's namespace), then hands
// the open descriptor to QEMU (-netdev tap,fd=N). A descriptor keeps its
// device wherever the process holding it runs, so one VM can have its
// IX port in a namespace with BIRD and a DNS client and its OOB port in
// another with dnsmasq and the provisioning server, with no bridge or
// veth in between: the TAP itself is the far side's interface and holds
// its addresses (or joins a bridge there, NIC.Master). Running QEMU under
// `ip netns exec` would only work when every NIC's far side is one
// namespace. The TAP goes away when QEMU exits, or with its namespace.

// QEMU programs, by the Debian package that provides them.
var (
	ToolQEMUx86     = Tool{"qemu-system-x86_64", "qemu-system-x86"}
	ToolQEMUi386    = Tool{"qemu-system-i386", "qemu-system-x86"}
	ToolQEMUAArch64 = Tool{"qemu-system-aarch64", "qemu-system-arm"}
	ToolQEMUArm     = Tool{"qemu-system-arm", "qemu-system-arm"}
)

// Firmware kinds for QEMU.Firmware.
const (
	FirmwareSeaBIOS = "seabios" // legacy BIOS: QEMU's default on pc and q35
	FirmwareOVMF    = "ovmf"    // UEFI, as pflash with writable variables
)

// Firmware files, from Debian's ovmf and seabios packages. OVMF's code is
// used read-only in place; each VM gets its own copy of the variable
// store, so boot entries a guest writes do not leak between tests.
var (
	OVMFCode    = FirmwareFile{"/usr/share/OVMF/OVMF_CODE_4M.fd", "ovmf"}
	OVMFVars    = FirmwareFile{"/usr/share/OVMF/OVMF_VARS_4M.fd", "ovmf"}
	SeaBIOSFile = FirmwareFile{"/usr/share/seabios/bios-256k.bin", "seabios"}
)

// FirmwareFile is a file QEMU loads, with the package that provides it.
type FirmwareFile struct {
	Path    string
	Package string
}

// Check reports a missing file with the apt-get line that installs it.
func (f FirmwareFile) Check() error {
	if _, err := os.Stat(f.Path); err != nil {
		return fmt.Errorf("lab: %s: %w: apt-get install %s", f.Path, ErrMissingTool, f.Package)
	}
	return nil
}

// Disk buses for QEMU.DiskBus.
const (
	DiskVirtio = "virtio" // virtio-blk: the vps board
	DiskIDE    = "ide"    // the machine's own IDE/SATA: PIIX on pc (fitpc2i), ICH9 AHCI on q35
	DiskAHCI   = "ahci"   // an AHCI controller with the disk on it, on any x86 machine (brix)
	DiskNVMe   = "nvme"   // an NVMe SSD
	DiskSD     = "sd"     // the SD card slot of the raspi machines
)

// NICs with Model usbNet go on a USB bus; all others are PCI devices.
const usbNet = "usb-net"

// QEMU describes one VM for StartQEMU. The zero values pick defaults that
// suit the machine, so a test names only what it cares about.
type QEMU struct {
	Arch     string // "x86_64", "i386", "aarch64" or "arm": runs qemu-system-ARCH
	Machine  string // -M: "pc", "q35", "raspi3b", "raspi0", "raspi1ap", "raspi2b"
	CPU      string // -cpu model, e.g. "n270" (the FitPC2i's Atom); "" is the machine's default
	Firmware string // FirmwareSeaBIOS, FirmwareOVMF, or "": SeaBIOS on x86, none on raspi
	Memory   string // -m, e.g. "512M"; "" is 512M on x86, the board's own RAM on raspi
	CPUs     int    // -smp; 0 is the machine's default (raspi machines take no other)

	Kernel string // -kernel: direct kernel boot, skipping the bootloader
	Initrd string // -initrd
	DTB    string // -dtb, for the raspi machines
	Append string // -append: the kernel command line

	Disk     string // raw disk image; on DiskSD padded to a power of two in a copy (see VM.Disk)
	DiskBus  string // DiskVirtio, DiskIDE, DiskAHCI, DiskNVMe, DiskSD; "" is sd on raspi, virtio elsewhere
	Snapshot bool   // -snapshot: the guest's writes go to a temporary overlay, not Disk
	// DiskWriteBPS throttles the guest's writes to Disk to so many bytes a
	// second (0: no limit), so a test can cut the power in the middle of
	// a write it sees start.
	DiskWriteBPS int64
	NoReboot     bool // -no-reboot: a guest reboot ends QEMU, so VM.Wait sees it

	NICs []NIC

	Timeout time.Duration // QEMU is killed after this; 0 is DefaultQEMUTimeout
	Extra   []string      // further arguments, appended last
}

// NIC is one network port of the VM and the namespace on its far side.
type NIC struct {
	Model  string   // -device: "virtio-net-pci", "e1000", "e1000e", "rtl8139", or "usb-net"
	Netns  *Netns   // where the TAP lives; nil leaves the port unplugged unless User
	User   bool     // QEMU's user network instead: the guest gets a DHCP lease, and 10.0.2.2 is QEMU's own namespace
	Tap    string   // the TAP's name in Netns; "" is "tapN" (N: index in QEMU.NICs)
	Addrs  []string // CIDR addresses for the TAP: the far side's own addresses
	Master string   // a bridge in Netns the TAP joins instead of taking Addrs
	MAC    string   // "" is NICMAC(N), so MAC order is NIC order
}

// DefaultQEMUTimeout bounds a VM whose test sets no Timeout. Software
// emulation is slow, and a loaded CI machine slower still.
const DefaultQEMUTimeout = 5 * time.Minute

// NICMAC is the MAC address a NIC at index i gets by default. The
// addresses rise with i so a guest can tell its ports apart by sorting
// (lab/initfixture does) whatever order its drivers probe in.
func NICMAC(i int) string { return fmt.Sprintf("52:54:00:4c:00:%02x", i+1) }

// RaspiQuirkAppend is added to the kernel command line on the BCM2835
// machines (raspi0, raspi1ap). QEMU 7.2 does not emulate the SoC's
// ASB registers, and the kernel's bcm2835-power driver faults on them
// while probing, killing the boot before /init. A real Pi has them and
// needs that driver (it powers USB), so this stays a harness-only fix.
const RaspiQuirkAppend = "initcall_blacklist=bcm2835_power_driver_init"

// Errors a VM's methods return.
var (
	// ErrVMExited reports that QEMU ended before what was waited for.
	ErrVMExited = errors.New("qemu exited")
	// ErrVMRunning reports that QEMU was still running when Wait gave up.
	ErrVMRunning = errors.New("qemu still running")
	// ErrNoConsoleLine reports that no console line matched in time.
	ErrNoConsoleLine = errors.New("no matching console line")
	// ErrBadQEMU reports a QEMU description that cannot be run.
	ErrBadQEMU = errors.New("bad QEMU description")
)

// tool is the qemu-system program for q.Arch.
func (q *QEMU) tool() (Tool, error) {
	switch q.Arch {
	case "x86_64":
		return ToolQEMUx86, nil
	case "i386":
		return ToolQEMUi386, nil
	case "aarch64":
		return ToolQEMUAArch64, nil
	case "arm":
		return ToolQEMUArm, nil
	}
	return Tool{}, fmt.Errorf("lab: qemu: Arch %q: %w: want x86_64, i386, aarch64 or arm", q.Arch, ErrBadQEMU)
}

func (q *QEMU) raspi() bool { return strings.HasPrefix(q.Machine, "raspi") }

// bcm2835 reports the machines with the Pi 1/Zero SoC.
func (q *QEMU) bcm2835() bool { return q.Machine == "raspi0" || q.Machine == "raspi1ap" }

func (q *QEMU) x86() bool { return q.Arch == "x86_64" || q.Arch == "i386" }

func (q *QEMU) firmware() string {
	if q.Firmware == "" && q.x86() {
		return FirmwareSeaBIOS
	}
	return q.Firmware
}

func (q *QEMU) diskBus() string {
	if q.DiskBus != "" {
		return q.DiskBus
	}
	if q.raspi() {
		return DiskSD
	}
	return DiskVirtio
}

// check rejects descriptions QEMU would refuse or misread, naming the
// field, before anything is started.
func (q *QEMU) check() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("lab: qemu: "+format+": %w", append(args, ErrBadQEMU)...)
	}
	if _, err := q.tool(); err != nil {
		return err
	}
	if q.Machine == "" {
		return bad("Machine is empty: want pc, q35, raspi3b, raspi0, ...")
	}
	if q.raspi() != (q.Arch == "arm" || q.Arch == "aarch64") {
		return bad("Machine %q does not fit Arch %q", q.Machine, q.Arch)
	}
	switch q.firmware() {
	case "":
	case FirmwareSeaBIOS:
		if !q.x86() {
			return bad("Firmware %q: only on x86", q.Firmware)
		}
	case FirmwareOVMF:
		if q.Arch != "x86_64" {
			return bad("Firmware %q: Debian's ovmf package is x86_64 only, not %s", q.Firmware, q.Arch)
		}
	default:
		return bad("Firmware %q: want %q, %q or empty", q.Firmware, FirmwareSeaBIOS, FirmwareOVMF)
	}
	if q.Kernel == "" && q.Disk == "" {
		return bad("neither Kernel nor Disk: nothing to boot")
	}
	if q.Kernel == "" && (q.Initrd != "" || q.DTB != "" || q.Append != "") {
		return bad("Initrd, DTB and Append need Kernel")
	}
	if q.raspi() && q.Kernel == "" {
		return bad("Machine %q boots only with Kernel: QEMU cannot run the Pi's VideoCore firmware", q.Machine)
	}
	if q.CPUs < 0 {
		return bad("CPUs %d is negative", q.CPUs)
	}
	switch bus := q.diskBus(); bus {
	case DiskVirtio, DiskIDE, DiskAHCI, DiskNVMe:
		if q.raspi() && q.Disk != "" {
			return bad("DiskBus %q: the raspi machines have only %q", bus, DiskSD)
		}
	case DiskSD:
		if !q.raspi() && q.Disk != "" {
			return bad("DiskBus %q: only the raspi machines have an SD slot", bus)
		}
	default:
		return bad("DiskBus %q: want virtio, ide, ahci, nvme or sd", bus)
	}
	if len(q.NICs) > 250 {
		return bad("%d NICs: at most 250", len(q.NICs))
	}
	for i, n := range q.NICs {
		if n.Model == "" {
			return bad("NICs[%d].Model is empty", i)
		}
		if q.raspi() && n.Model != usbNet {
			return bad("NICs[%d].Model %q: the raspi machines have no PCI bus; use %q", i, n.Model, usbNet)
		}
		if n.User && n.Netns != nil {
			return bad("NICs[%d]: User and Netns: a port is on one network", i)
		}
		if n.Netns == nil && (n.Tap != "" || len(n.Addrs) > 0 || n.Master != "") {
			return bad("NICs[%d]: Tap, Addrs and Master need Netns", i)
		}
		if n.Master != "" && len(n.Addrs) > 0 {
			return bad("NICs[%d]: give Addrs to the bridge %q, not to a TAP in it", i, n.Master)
		}
		if len(n.tapName(i)) > 15 {
			return bad("NICs[%d].Tap %q: longer than 15 bytes", i, n.Tap)
		}
	}
	return nil
}

func (n *NIC) tapName(i int) string {
	if n.Tap != "" {
		return n.Tap
	}
	return "tap" + strconv.Itoa(i)
}

func (n *NIC) mac(i int) string {
	if n.MAC != "" {
		return n.MAC
	}
	return NICMAC(i)
}

// args is QEMU's command line. vars is the VM's OVMF variable store,
// disk the image to attach (Disk, or its padded copy), and the NICs with
// a Netns get the TAP descriptors 3, 4, ... in order.
func (q *QEMU) args(vars, disk string) []string {
	a := []string{
		"-nodefaults", "-nographic", "-monitor", "none",
		"-chardev", "stdio,id=console,mux=on,signal=off",
		"-serial", "chardev:console",
	}
	if q.raspi() {
		// The Pi has a PL011 (ttyAMA0) and a mini UART (ttyS1, the
		// console on a Pi 3, whose PL011 drives Bluetooth): both feed
		// the one stream. x86 gets COM1 (ttyS0) only, because OVMF
		// writes to every COM port it finds, which doubles its lines.
		a = append(a, "-serial", "chardev:console")
	}
	a = append(a, "-M", q.Machine)
	if q.CPU != "" {
		a = append(a, "-cpu", q.CPU)
	}
	switch {
	case q.Memory != "":
		a = append(a, "-m", q.Memory)
	case !q.raspi():
		a = append(a, "-m", "512M")
	}
	if q.CPUs > 0 {
		a = append(a, "-smp", strconv.Itoa(q.CPUs))
	}
	if q.firmware() == FirmwareOVMF {
		a = append(a,
			"-drive", "if=pflash,format=raw,unit=0,readonly=on,file="+OVMFCode.Path,
			"-drive", "if=pflash,format=raw,unit=1,file="+vars)
	}
	if q.Kernel != "" {
		a = append(a, "-kernel", q.Kernel)
		if q.Initrd != "" {
			a = append(a, "-initrd", q.Initrd)
		}
		if q.DTB != "" {
			a = append(a, "-dtb", q.DTB)
		}
		if app := q.appendLine(); app != "" {
			a = append(a, "-append", app)
		}
	}
	if disk != "" {
		a = append(a, diskArgs(q.diskBus(), disk, q.DiskWriteBPS)...)
	}
	if q.Snapshot {
		a = append(a, "-snapshot")
	}
	if q.NoReboot {
		a = append(a, "-no-reboot")
	}
	a = append(a, q.nicArgs()...)
	return append(a, q.Extra...)
}

// appendLine is -append: Append, with RaspiQuirkAppend on the BCM2835
// machines. A Kernel booted with no Append is a bootloader (U-Boot),
// which makes its own command line; the quirk is the image's to carry.
func (q *QEMU) appendLine() string {
	if q.bcm2835() && q.Append != "" && !strings.Contains(q.Append, RaspiQuirkAppend) {
		return strings.TrimSpace(q.Append + " " + RaspiQuirkAppend)
	}
	return q.Append
}

func diskArgs(bus, path string, writeBPS int64) []string {
	// A comma in a path would end QEMU's option value; doubling escapes it.
	file := "file=" + strings.ReplaceAll(path, ",", ",,") + ",format=raw"
	if writeBPS > 0 {
		file += ",throttling.bps-write=" + strconv.FormatInt(writeBPS, 10)
	}
	switch bus {
	case DiskAHCI:
		return []string{"-device", "ahci,id=ahci", "-drive", file + ",if=none,id=disk",
			"-device", "ide-hd,drive=disk,bus=ahci.0"}
	case DiskNVMe:
		return []string{"-drive", file + ",if=none,id=disk", "-device", "nvme,drive=disk,serial=goleudy"}
	default: // virtio, ide, sd: QEMU's own if= names
		return []string{"-drive", file + ",if=" + bus}
	}
}

func (q *QEMU) nicArgs() []string {
	var a []string
	fd := 3
	usb := false
	for i, n := range q.NICs {
		id := "nic" + strconv.Itoa(i)
		if n.Netns != nil {
			a = append(a, "-netdev", fmt.Sprintf("tap,id=%s,fd=%d", id, fd))
			fd++
		} else if n.User {
			a = append(a, "-netdev", "user,id="+id)
		} else {
			// A hub port of its own: the guest sees a NIC with no link
			// partner, and no traffic leaves QEMU.
			a = append(a, "-netdev", fmt.Sprintf("hubport,id=%s,hubid=%d", id, i))
		}
		a = append(a, "-device", fmt.Sprintf("%s,netdev=%s,mac=%s", n.Model, id, n.mac(i)))
		usb = usb || n.Model == usbNet
	}
	if usb && !q.raspi() {
		// The raspi machines have their own USB controller; x86 needs one.
		a = append([]string{"-device", "qemu-xhci,id=xhci"}, a...)
	}
	return a
}
