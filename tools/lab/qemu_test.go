package lab

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestQEMUArgs checks the command lines StartQEMU builds, machine by
// machine, without running QEMU.
func TestQEMUArgs(t *testing.T) {
	ns := &Netns{Name: "far"}
	for _, tc := range []struct {
		name string
		q    QEMU
		want []string // each must appear, as a run of adjacent arguments
		not  []string // no substring may appear
	}{
		{
			name: "vps seabios",
			q: QEMU{Arch: "x86_64", Machine: "pc", Kernel: "k", Initrd: "i", Append: "console=ttyS0",
				Disk: "d.img", NICs: []NIC{{Model: "virtio-net-pci", Netns: ns}, {Model: "e1000"}}},
			want: []string{"-M pc", "-m 512M", "-kernel k", "-initrd i", "-append console=ttyS0",
				"-drive file=d.img,format=raw,if=virtio",
				"-netdev tap,id=nic0,fd=3", "-device virtio-net-pci,netdev=nic0,mac=52:54:00:4c:00:01",
				"-netdev hubport,id=nic1,hubid=1", "-device e1000,netdev=nic1,mac=52:54:00:4c:00:02",
				"-serial chardev:console -M", "-nodefaults"},
			not: []string{"if=pflash", " -snapshot ", " -no-reboot ", " -smp "},
		},
		{
			name: "brix ovmf",
			q: QEMU{Arch: "x86_64", Machine: "q35", Firmware: FirmwareOVMF, Disk: "d,1.img", DiskBus: DiskAHCI,
				Snapshot: true, NoReboot: true, CPUs: 2, Memory: "1G"},
			want: []string{"-drive if=pflash,format=raw,unit=0,readonly=on,file=" + OVMFCode.Path,
				"-drive if=pflash,format=raw,unit=1,file=VARS", "-device ahci,id=ahci",
				"-drive file=d,,1.img,format=raw,if=none,id=disk", "-device ide-hd,drive=disk,bus=ahci.0",
				"-snapshot", "-no-reboot", "-smp 2", "-m 1G"},
			not: []string{" -kernel "},
		},
		{
			name: "fitpc2i",
			q: QEMU{Arch: "i386", Machine: "pc", CPU: "n270", Disk: "d.img", DiskBus: DiskIDE, DiskWriteBPS: 1 << 20,
				NICs: []NIC{{Model: "rtl8139", Netns: ns}, {Model: "rtl8139", Netns: ns, MAC: "02:00:00:00:00:09"}}},
			want: []string{"-cpu n270", "-drive file=d.img,format=raw,throttling.bps-write=1048576,if=ide",
				"-netdev tap,id=nic0,fd=3", "-netdev tap,id=nic1,fd=4", "-device rtl8139,netdev=nic1,mac=02:00:00:00:00:09"},
		},
		{
			name: "rpi64",
			q:    QEMU{Arch: "aarch64", Machine: "raspi3b", Kernel: "k", DTB: "b.dtb", Disk: "sd.img", Append: "console=ttyS1"},
			want: []string{"-serial chardev:console -serial chardev:console -M raspi3b", "-dtb b.dtb", "-drive file=sd.img,format=raw,if=sd", "-append console=ttyS1"},
			not:  []string{" -m ", "initcall_blacklist"},
		},
		{
			name: "rpi zero quirk",
			q:    QEMU{Arch: "arm", Machine: "raspi0", Kernel: "k", Append: "console=ttyAMA0", NICs: []NIC{{Model: usbNet}}},
			want: []string{"-append console=ttyAMA0 " + RaspiQuirkAppend, "-device usb-net,netdev=nic0,mac=52:54:00:4c:00:01"},
			not:  []string{"qemu-xhci"},
		},
		{
			name: "usb nic on x86",
			q:    QEMU{Arch: "x86_64", Machine: "q35", Kernel: "k", NICs: []NIC{{Model: usbNet}}},
			want: []string{"-device qemu-xhci,id=xhci"},
		},
		{
			name: "user network between taps",
			q: QEMU{Arch: "x86_64", Machine: "pc", Kernel: "k",
				NICs: []NIC{{Model: "e1000", Netns: ns}, {Model: "e1000", User: true}, {Model: "e1000", Netns: ns}}},
			want: []string{"-netdev tap,id=nic0,fd=3", "-netdev user,id=nic1", "-device e1000,netdev=nic1,mac=52:54:00:4c:00:02",
				"-netdev tap,id=nic2,fd=4"},
			not: []string{"hubport"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.q.check(); err != nil {
				t.Fatal(err)
			}
			args := tc.q.args("VARS", tc.q.Disk)
			line := " " + strings.Join(args, " ") + " "
			for _, w := range tc.want {
				if !strings.Contains(line, " "+w+" ") {
					t.Errorf("missing %q in\n%s", w, line)
				}
			}
			for _, n := range tc.not {
				if strings.Contains(line, n) {
					t.Errorf("unwanted %q in\n%s", n, line)
				}
			}
		})
	}
}

// TestQEMUCheck checks that descriptions QEMU would refuse or misread
// are rejected up front, naming the field.
func TestQEMUCheck(t *testing.T) {
	ns := &Netns{Name: "far"}
	ok := QEMU{Arch: "x86_64", Machine: "pc", Kernel: "k"}
	for _, tc := range []struct {
		edit func(q *QEMU)
		want string
	}{
		{func(q *QEMU) { q.Arch = "riscv64" }, `Arch "riscv64"`},
		{func(q *QEMU) { q.Machine = "" }, "Machine is empty"},
		{func(q *QEMU) { q.Machine = "raspi3b" }, `Machine "raspi3b" does not fit Arch "x86_64"`},
		{func(q *QEMU) { q.Firmware = "uboot" }, `Firmware "uboot"`},
		{func(q *QEMU) { q.Arch = "i386"; q.Firmware = FirmwareOVMF }, "x86_64 only"},
		{func(q *QEMU) { q.Arch, q.Machine, q.Firmware = "aarch64", "raspi3b", FirmwareSeaBIOS }, "only on x86"},
		{func(q *QEMU) { q.Kernel = "" }, "nothing to boot"},
		{func(q *QEMU) { q.Kernel, q.Disk, q.Append = "", "d", "x" }, "need Kernel"},
		{func(q *QEMU) { q.Arch, q.Machine, q.Kernel, q.Disk = "arm", "raspi0", "", "d" }, "VideoCore"},
		{func(q *QEMU) { q.CPUs = -1 }, "negative"},
		{func(q *QEMU) { q.Disk, q.DiskBus = "d", "scsi" }, `DiskBus "scsi"`},
		{func(q *QEMU) { q.Disk, q.DiskBus = "d", DiskSD }, "SD slot"},
		{func(q *QEMU) { q.Arch, q.Machine, q.Disk, q.DiskBus = "aarch64", "raspi3b", "d", DiskVirtio }, `only "sd"`},
		{func(q *QEMU) { q.NICs = []NIC{{}} }, "NICs[0].Model is empty"},
		{func(q *QEMU) { q.Arch, q.Machine, q.NICs = "aarch64", "raspi3b", []NIC{{Model: "e1000"}} }, "no PCI bus"},
		{func(q *QEMU) { q.NICs = []NIC{{Model: "e1000", Addrs: []string{"10.0.0.1/24"}}} }, "need Netns"},
		{func(q *QEMU) { q.NICs = []NIC{{Model: "e1000", Netns: ns, Master: "br0", Addrs: []string{"x"}}} }, "bridge"},
		{func(q *QEMU) { q.NICs = []NIC{{Model: "e1000", Netns: ns, Tap: "a-very-long-tap-name"}} }, "15 bytes"},
		{func(q *QEMU) { q.NICs = []NIC{{Model: "e1000", Netns: ns, User: true}} }, "User and Netns"},
	} {
		q := ok
		tc.edit(&q)
		err := q.check()
		if err == nil || !errors.Is(err, ErrBadQEMU) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: error %v, want ErrBadQEMU naming %q", q, err, tc.want)
		}
	}
	if err := ok.check(); err != nil {
		t.Errorf("minimal description: %v", err)
	}
}

func TestSDCardPadding(t *testing.T) {
	dir := t.TempDir()
	exact := filepath.Join(dir, "exact.img")
	odd := filepath.Join(dir, "odd.img")
	if err := os.WriteFile(exact, make([]byte, 4096), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(odd, []byte("boot sector and then some"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got, err := sdCard(exact, dir); err != nil || got != exact {
		t.Errorf("power-of-two card: %q, %v; want it used in place", got, err)
	}
	got, err := sdCard(odd, dir)
	if err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(got)
	if err != nil || st.Size() != 32 || got == odd {
		t.Fatalf("padded copy %q: %v, %v; want 32 bytes beside the original", got, st, err)
	}
	if data, _ := os.ReadFile(got); !strings.HasPrefix(string(data), "boot sector and then some") {
		t.Errorf("padded copy lost the content: %q", data)
	}
}

func TestNaturalCompare(t *testing.T) {
	names := []string{
		"linux-image-6.1.0-100-amd64_6.1.300-1_amd64.deb",
		"linux-image-6.1.0-9-amd64_6.1.27-1_amd64.deb",
		"linux-image-6.1.0-56-amd64_6.1.192-2_amd64.deb",
	}
	slices.SortFunc(names, naturalCompare)
	if !strings.Contains(names[0], "-9-") || !strings.Contains(names[2], "-100-") {
		t.Errorf("sorted %v", names)
	}
}

// bootTimeout bounds a boot to the ready line under software emulation
// on a busy two-core machine; a Debian kernel takes seconds when idle.
const bootTimeout = 4 * time.Minute

// readyLine is what lab/initfixture prints when it is up.
const readyLine = "initfixture: ready "

// fixtureDone matches the fixture's last word: ready, or the error that
// stopped it, so a broken boot fails at once instead of at the timeout.
var fixtureDone = regexp.MustCompile(`initfixture: (ready|error)`)

// waitReady waits for the fixture to finish and fails unless it is ready.
func waitReady(t *testing.T, vm *VM) string {
	t.Helper()
	line, err := vm.ExpectRegexp(fixtureDone, bootTimeout)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(line, readyLine) {
		t.Fatalf("fixture failed: %s", line)
	}
	return line
}

// bootCase is one machine the harness must boot: a Debian kernel from
// the package cache with lab/initfixture as /init, NICs wired to
// namespaces of their own, and a test disk.
type bootCase struct {
	label         string
	q             QEMU     // Arch, Machine, CPU, Firmware, DiskBus, Append (console=)
	flavour, deb  string   // kernel flavour and Debian architecture
	goarch, goarm string   // the fixture's
	dtb           string   // the board's device tree, on the Pi
	model         string   // what the kernel must report the machine as, if anything
	nics          []string // NIC models, each wired to a namespace of its own
	disk          string   // the name the guest gives the test disk
	diskSize      int64
	modules       []string // for the NICs and the disk; dependencies are added
}

// diskMagic starts the test disk, so the guest's first bytes show it is
// the image the test attached.
const diskMagic = "GOLEUDY-LAB-DISK"

// far is one namespace wired to a VM's NIC, and the addresses on each end.
type far struct {
	ns          *Netns
	tap         string
	addr, guest string // far side CIDR, guest address
}

// bootFixture boots c, waits for the ready line and proves every NIC
// carries ICMP and UDP to its own namespace only, and that the guest
// reads the test disk, on the bus c asks for.
func bootFixture(t *testing.T, c bootCase) *VM {
	Require(t, toolPing)
	k := extractKernel(t, kernelDeb(t, c.flavour, c.deb))
	q := c.q
	q.Kernel = k.vmlinuz
	if c.dtb != "" {
		q.DTB = k.dtb(t, c.dtb)
	}
	q.Initrd = fixtureInitrd(t, buildFixture(t, c.goarch, c.goarm), k.modules(t, c.modules...))
	q.NoReboot = true // a kernel panic ends QEMU, and the wait, at once
	q.Disk = filepath.Join(t.TempDir(), "disk.img")
	if err := os.WriteFile(q.Disk, []byte(diskMagic), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(q.Disk, c.diskSize); err != nil {
		t.Fatal(err)
	}
	var sides []far
	var guests []string
	for i, model := range c.nics {
		s := far{NewNetns(t), fmt.Sprintf("port%d", i), fmt.Sprintf("10.99.%d.1/24", i), fmt.Sprintf("10.99.%d.2", i)}
		sides = append(sides, s)
		guests = append(guests, s.guest+"/24")
		q.NICs = append(q.NICs, NIC{Model: model, Netns: s.ns, Tap: s.tap, Addrs: []string{s.addr}})
	}
	q.Append += " panic=-1 initfixture.disks=1"
	if len(guests) > 0 {
		q.Append += " initfixture.addr=" + strings.Join(guests, ",")
	}

	vm := StartQEMU(t, q)
	line := waitReady(t, vm)
	vm.LogTiming(t, c.label+" ready", readyLine)
	if want := fmt.Sprintf("%s%s %d", readyLine, k.release, len(c.nics)); !strings.HasSuffix(line, want) {
		t.Fatalf("ready line %q, want it to end %q", line, want)
	}
	size := c.diskSize
	if q.diskBus() == DiskSD {
		for size&(size-1) != 0 {
			size += size & -size // QEMU's SD cards come in powers of two
		}
	}
	wantLine := func(what, substr string) {
		if !slices.ContainsFunc(vm.Lines(), func(l string) bool { return strings.Contains(l, substr) }) {
			t.Errorf("no console line shows %s: %q", what, substr)
		}
	}
	wantLine("the test disk", fmt.Sprintf("initfixture: disk %s %d %q", c.disk, size, diskMagic))
	if c.model != "" {
		wantLine("the machine", "Machine model: "+c.model)
	}
	for i, s := range sides {
		// The guest gives addresses in MAC order; NIC i has NICMAC(i).
		wantLine("NIC "+strconv.Itoa(i), NICMAC(i)+" "+s.guest+"/24")
		pingFrom(t, s.ns, s.guest)
		udpEcho(t, s.ns, s.guest)
		if i > 0 {
			// Each namespace reaches its own port only.
			if err := s.ns.Do(func() error {
				_, err := net.DialTimeout("tcp", net.JoinHostPort(sides[0].guest, "7"), time.Second)
				return err
			}); err == nil || !strings.Contains(err.Error(), "unreachable") {
				t.Errorf("netns %s reaches %s on the other port: %v", s.ns.Name, sides[0].guest, err)
			}
		}
	}
	return vm
}

// toolPing is iputils' ping, run inside the far-side namespaces.
var toolPing = Tool{"ping", "iputils-ping"}

func pingFrom(t *testing.T, ns *Netns, addr string) {
	t.Helper()
	// ping gives up on a neighbour that did not answer ARP, however long
	// its deadline, so a guest still settling gets further tries.
	var out []byte
	var err error
	for try := 0; try < 5; try++ {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		out, err = ns.Command(ctx, "ping", "-n", "-c", "1", "-w", "10", addr).CombinedOutput()
		cancel()
		if err == nil {
			return
		}
		time.Sleep(time.Second)
	}
	t.Errorf("ping %s from netns %s: %v\n%s", addr, ns.Name, err, out)
}

// udpEcho sends a datagram to the fixture's echo port from inside ns and
// wants it back, retrying while the guest is still settling.
func udpEcho(t *testing.T, ns *Netns, addr string) {
	t.Helper()
	msg := "echo via " + ns.Name
	err := ns.Do(func() error {
		c, err := net.Dial("udp", net.JoinHostPort(addr, "7"))
		if err != nil {
			return err
		}
		defer c.Close()
		buf := make([]byte, 512)
		var lastErr error
		for range 10 {
			if _, err := c.Write([]byte(msg)); err != nil {
				return err
			}
			c.SetReadDeadline(time.Now().Add(2 * time.Second))
			n, err := c.Read(buf)
			if err == nil {
				if got := string(buf[:n]); got != msg {
					return fmt.Errorf("echo %q, want %q", got, msg)
				}
				return nil
			}
			lastErr = err
		}
		return lastErr
	})
	if err != nil {
		t.Errorf("udp echo %s:7 from netns %s: %v", addr, ns.Name, err)
	}
}

const mib = 1 << 20

// TestQEMUBootAMD64SeaBIOS: the vps path under legacy BIOS on pc:
// virtio-net and e1000 NICs, a virtio disk.
func TestQEMUBootAMD64SeaBIOS(t *testing.T) {
	bootFixture(t, bootCase{
		label: "amd64 seabios pc",
		q: QEMU{Arch: "x86_64", Machine: "pc", Firmware: FirmwareSeaBIOS, DiskBus: DiskVirtio,
			Append: "console=ttyS0"},
		flavour: "amd64", deb: "amd64", goarch: "amd64",
		nics: []string{"virtio-net-pci", "e1000"}, disk: "vda", diskSize: 8 * mib,
		modules: []string{"virtio_pci", "virtio_net", "e1000", "virtio_blk"},
	})
}

// TestQEMUBootAMD64OVMF: the brix path under UEFI (OVMF's direct kernel
// boot through the EFI stub) on q35: e1000e and virtio-net NICs, a disk
// on an AHCI controller.
func TestQEMUBootAMD64OVMF(t *testing.T) {
	bootFixture(t, bootCase{
		label: "amd64 ovmf q35",
		q: QEMU{Arch: "x86_64", Machine: "q35", Firmware: FirmwareOVMF, DiskBus: DiskAHCI,
			Append: "console=ttyS0"},
		flavour: "amd64", deb: "amd64", goarch: "amd64",
		nics: []string{"e1000e", "virtio-net-pci"}, disk: "sda", diskSize: 8 * mib,
		modules: []string{"e1000e", "virtio_pci", "virtio_net", "ahci", "sd_mod"},
	})
}

// TestQEMUBootI386: the fitpc2i path: Debian's 686 kernel on an Atom
// N270 (the FitPC2i's Z530 is its sibling) under SeaBIOS, the disk on
// the PIIX IDE. QEMU has no r8169, so the two ports are rtl8139 (a C+
// chip: Linux drives it with 8139cp, not 8139too) and e1000.
func TestQEMUBootI386(t *testing.T) {
	bootFixture(t, bootCase{
		label: "i386 seabios pc n270",
		q: QEMU{Arch: "i386", Machine: "pc", CPU: "n270", DiskBus: DiskIDE,
			Append: "console=ttyS0"},
		flavour: "686", deb: "i386", goarch: "386",
		nics: []string{"rtl8139", "e1000"}, disk: "sda", diskSize: 8 * mib,
		modules: []string{"8139cp", "e1000", "ata_piix", "sd_mod"},
	})
}

// TestQEMUBootRaspi3B: the rpi64 path, with the Pi 3 B device tree. The
// NIC is QEMU's usb-net on the SoC's dwc2 USB (CDC Ethernet to Linux):
// the Pi's own Ethernet is a USB chip too, so the node's traffic takes
// this path on a real Pi.
//
// The upstream device tree puts the console on the mini UART
// (stdout-path serial1, ttyS1), as on a real Pi 3 whose PL011 drives
// Bluetooth; QEMU feeds both UARTs to the console, and ttyS1 is what the
// kernel prints /init's output on. Debian's arm64 kernel has dwc2 as a
// module, and without phy_generic (the device tree's usb-nop-xceiv PHY)
// its probe waits out the ten seconds of deferred probing: the rpi64
// board needs both. The SD card is on the sdhost controller
// (module bcm2835), where the device tree's pin setup moves it; its odd
// size makes StartQEMU pad a copy.
func TestQEMUBootRaspi3B(t *testing.T) {
	bootFixture(t, bootCase{
		label:   "arm64 raspi3b",
		q:       QEMU{Arch: "aarch64", Machine: "raspi3b", Append: "console=ttyS1,115200"},
		flavour: "arm64", deb: "arm64", goarch: "arm64",
		dtb: "bcm2837-rpi-3-b.dtb", model: "Raspberry Pi 3 Model B",
		nics: []string{"usb-net"}, disk: "mmcblk0", diskSize: 3 * mib,
		modules: []string{"phy_generic", "dwc2", "usbnet", "cdc_ether", "bcm2835"},
	})
}

// TestQEMUBootRaspi0: the rpi path: Debian's armel rpi kernel (ARMv6) on
// QEMU's Pi Zero with the Pi Zero device tree, console on the PL011
// (ttyAMA0). It needs RaspiQuirkAppend, which StartQEMU adds. dwc2 and
// the SD host are built into this kernel.
func TestQEMUBootRaspi0(t *testing.T) {
	bootFixture(t, bootCase{
		label:   "armel raspi0",
		q:       QEMU{Arch: "arm", Machine: "raspi0", Append: "console=ttyAMA0,115200"},
		flavour: "rpi", deb: "armel", goarch: "arm", goarm: "6",
		dtb: "bcm2835-rpi-zero.dtb", model: "Raspberry Pi Zero",
		nics: []string{"usb-net"}, disk: "mmcblk0", diskSize: 4 * mib,
		modules: []string{"usbnet", "cdc_ether"},
	})
}

// TestQEMUPowerOff checks Wait: a guest that powers off ends QEMU
// cleanly, and Expect reports the exit rather than timing out.
func TestQEMUPowerOff(t *testing.T) {
	k := extractKernel(t, kernelDeb(t, "amd64", "amd64"))
	vm := StartQEMU(t, QEMU{Arch: "x86_64", Machine: "pc", Kernel: k.vmlinuz,
		Initrd: fixtureInitrd(t, buildFixture(t, "amd64", ""), nil),
		Append: "console=ttyS0 panic=-1 initfixture.poweroff=1", NoReboot: true})
	vm.WaitLine(t, readyLine, bootTimeout)
	if err := vm.Wait(bootTimeout); err != nil {
		t.Fatalf("Wait after power-off: %v", err)
	}
	if _, err := vm.Expect("never printed", time.Minute); !errors.Is(err, ErrVMExited) {
		t.Errorf("Expect after exit: %v, want ErrVMExited", err)
	}
	if d, ok := vm.Elapsed("initfixture: powering off"); !ok || d <= 0 {
		t.Errorf("Elapsed to power-off line: %v, %v", d, ok)
	}
}

// TestQEMUBadArgs checks that QEMU refusing its arguments fails a wait
// at once with QEMU's own message, rather than after the timeout.
func TestQEMUBadArgs(t *testing.T) {
	vm := StartQEMU(t, QEMU{Arch: "x86_64", Machine: "pc", Kernel: "/nonexistent/vmlinuz"})
	start := time.Now()
	_, err := vm.Expect(readyLine, time.Minute)
	if !errors.Is(err, ErrVMExited) || !strings.Contains(err.Error(), "/nonexistent/vmlinuz") {
		t.Fatalf("Expect: %v, want ErrVMExited quoting QEMU", err)
	}
	if time.Since(start) > 30*time.Second {
		t.Errorf("Expect took %v to see QEMU exit", time.Since(start))
	}
	if err := vm.Wait(time.Second); !errors.Is(err, ErrVMExited) {
		t.Errorf("Wait: %v, want ErrVMExited", err)
	}
}
