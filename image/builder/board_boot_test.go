package builder

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/goleudy/goleudy/boards"
	"github.com/goleudy/goleudy/image/debs"
	"github.com/goleudy/goleudy/image/disk"
	"github.com/goleudy/goleudy/image/fat"
	"github.com/goleudy/goleudy/image/grub"
	"github.com/goleudy/goleudy/image/rpiboot"
	"github.com/goleudy/goleudy/provision/api"
	"github.com/goleudy/goleudy/tools/lab"
)

// The other boards' boot tests: a real image for each board, built as
// `make image` builds it (goleudy-node cross-compiled for the board),
// booted under the QEMU machine nearest the board, reaches the node's
// ready line. As in TestBootBrixToReady, each test reruns itself in a
// namespace of its own, where `goleudy serve` listens on the loopback
// that QEMU's user network reaches as 10.0.2.2; both NICs are on user
// networks of their own, IX first and OOB second.

// envBoardServe names the goleudy binary in the test's namespace run.
const envBoardServe = "GOLEUDY_BOARD_SERVE"

// readyLine is what the node prints once enrolled, tunnelled and
// configured.
const readyLine = `"msg":"node ready"`

// emulatedModules are the changes a board's module list needs under
// QEMU that its row in the board table lacks. The raspi machines have no
// NIC of their own, and QEMU's only USB NIC, usb-net, is a CDC Ethernet
// device. Under QEMU 7.2 the raspi machines reset at once when the node
// arms the BCM2835 watchdog (seen: the guest reboots right after the
// node's modules are loaded, where it starts the watchdog; the timer is
// not emulated as a countdown), so the emulated Pi runs without
// bcm2835_wdt and the node goes on as on a board with no watchdog.
var emulatedModules = map[string]struct{ add, drop []string }{
	"rpi":   {add: []string{"cdc_ether"}, drop: []string{"bcm2835_wdt"}},
	"rpi64": {add: []string{"cdc_ether"}, drop: []string{"bcm2835_wdt"}},
}

// piWatchdogQuirk keeps the built-in bcm2835_wdt (the rpi kernel's) from
// registering, for the same reason as emulatedModules' drop.
const piWatchdogQuirk = "initcall_blacklist=bcm2835_wdt_driver_init"

// emulatedBoard is b with emulatedModules applied.
func emulatedBoard(b boards.Board) boards.Board {
	m := emulatedModules[b.Name]
	b.Modules = slices.DeleteFunc(slices.Clone(b.Modules), func(mod string) bool { return slices.Contains(m.drop, mod) })
	for _, mod := range m.add {
		if !slices.Contains(b.Modules, mod) {
			b.Modules = append(b.Modules, mod)
		}
	}
	return b
}

// boardFetcher fails the test unless every package b's image takes is in
// the cache: tests never download.
func boardFetcher(t *testing.T, b boards.Board) *debs.Fetcher {
	t.Helper()
	cache, err := debs.DefaultCache()
	if err != nil {
		t.Fatal(err)
	}
	f := &debs.Fetcher{Cache: cache}
	if missing := f.Missing(append(b.AllPackages(), boards.Tools...)); len(missing) > 0 {
		t.Fatalf("packages not in the cache %s: %v; run `go run ./tools/goleudy image fetch`", cache, missing)
	}
	return f
}

// bootBoard builds a real image for the board name and hands it to boot,
// from inside a namespace of the test's own with `goleudy serve` running
// in it. tools are the QEMU programs boot needs, checked up front so a
// missing one fails before anything is built.
func bootBoard(t *testing.T, name string, tools []lab.Tool, boot func(t *testing.T, b boards.Board, r Report)) {
	b, err := boards.Lookup(name)
	if err != nil {
		t.Fatal(err)
	}
	b = emulatedBoard(b)
	if _, ok := lab.InNetns(); ok && os.Getenv(envBoardServe) != "" {
		r := buildServed(t, b, os.Getenv(envBoardServe))
		boot(t, b, r)
		return
	}
	lab.Require(t, tools...)
	boardFetcher(t, b)
	serve := lab.Build(t, "./tools/goleudy", "goleudy")
	ns := lab.NewNetns(t)
	lab.ExecTest(t, ns, "^"+t.Name()+"$", 9*time.Minute, envBoardServe+"="+serve)
}

// buildServed starts `goleudy serve`, adds a node for b, and builds its
// image with that node's seed, for emulation.
func buildServed(t *testing.T, b boards.Board, serve string) Report {
	ctx := context.Background()
	data, dir := t.TempDir(), t.TempDir()
	srv := lab.StartProc(t, "serve", exec.Command(serve, "serve", "--data", data,
		"--api-listen", "127.0.0.1:8000", "--enroll-listen", "127.0.0.1:8080",
		"--enroll-url", "http://10.0.2.2:8080/v1/enroll", "--tunnel-endpoint", "10.0.2.2:51820",
		"--tunnel-prefix", "10.53.0.0/24"))
	srv.WaitLog(t, `"msg":"server running"`, 20*time.Second)
	t.Cleanup(func() { srv.Stop(t) })
	tok, err := os.ReadFile(filepath.Join(data, "operator.token"))
	if err != nil {
		t.Fatal(err)
	}
	cl := &api.Client{Base: "http://127.0.0.1:8000", Token: strings.TrimSpace(string(tok)), Actor: "boot-test"}
	doc := fmt.Sprintf(`{"node": {"id": "%s1", "board": %q, "location": {"display": "Wales, Aberystwyth", "city": "Aberystwyth", "countryiso": "gb"}},
	  "interfaces": {"ix": {"addresses": ["198.51.100.2/30"], "gateway4": "198.51.100.1"}},
	  "anycast": {"asn": 64512, "prefixes": ["192.0.2.0/24"], "addresses": ["192.0.2.53"]},
	  "dns": {"listen": ["192.0.2.53:53"]}, "info": {"listen": ["192.0.2.53:80"]}}`, b.Name, b.Name)
	nn, err := cl.AddNode(ctx, api.NodeInfo{Config: json.RawMessage(doc)})
	if err != nil {
		t.Fatal(err)
	}
	seed, err := json.Marshal(nn.Seed)
	if err != nil {
		t.Fatal(err)
	}
	wd, _ := os.Getwd()
	root, err := ModuleRoot(wd)
	if err != nil {
		t.Fatal(err)
	}
	r, err := Build(ctx, Options{Board: b, Seed: seed, Version: "test", Epoch: time.Unix(1763683200, 0),
		Out: filepath.Join(dir, b.Name+".img"), Fetcher: boardFetcher(t, b), ModuleRoot: root,
		Emulated: true, WorkDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("FIGURE %s image: %d MiB, initramfs %d KiB (%d files, %d modules), kernel %d KiB, goleudy-node %d KiB, built in %v",
		b.Name, r.ImageSize>>20, r.InitramfsSize>>10, r.InitramfsFiles, r.Modules, r.KernelSize>>10, r.NodeSize>>10,
		r.Took.Round(time.Millisecond))
	return r
}

// userNICs are the board's two ports on QEMU user networks of their own,
// IX first: PCI devices of model, or USB ones for "usb-net". The MACs are
// globally administered so that usbnet names its devices ethN, as a real
// USB NIC is named, rather than usbN.
func userNICs(model string) []string {
	var a []string
	for i, id := range []string{"ix", "oob"} {
		a = append(a, "-netdev", "user,id="+id,
			"-device", fmt.Sprintf("%s,netdev=%s,mac=00:16:3e:4c:00:%02x", model, id, i+1))
	}
	return a
}

// waitReady waits for the ready line and logs the boot's figure.
func waitReady(t *testing.T, vm *lab.VM, board, firmware string, within time.Duration) {
	t.Helper()
	vm.WaitLine(t, `"msg":"goleudy-node starting as init"`, within)
	vm.WaitLine(t, readyLine, within)
	d := vm.LogTiming(t, board+" "+firmware+" ready", readyLine)
	initAt, _ := vm.Elapsed(`"msg":"goleudy-node starting as init"`)
	t.Logf("FIGURE %s %s: QEMU start → /init %v, ready %v", board, firmware,
		initAt.Round(time.Millisecond), d.Round(time.Millisecond))
}

// consoleHas fails the test for each want missing from the console.
func consoleHas(t *testing.T, vm *lab.VM, wants ...string) {
	t.Helper()
	all := strings.Join(vm.Lines(), "\n")
	for _, want := range wants {
		if !strings.Contains(all, want) {
			t.Errorf("console lacks %s", want)
		}
	}
}

// TestBootVPSToReady boots one vps image twice: first under SeaBIOS
// (GRUB's boot.img in the protective MBR, core.img in the BIOS boot
// partition), a first boot that formats the data partition, enrolls and
// commits slot A; then under OVMF (\EFI\BOOT\BOOTX64.EFI on the ESP), a
// second boot that finds the committed slot and its enrolment on the data
// partition. Disk and NICs are virtio.
func TestBootVPSToReady(t *testing.T) {
	bootBoard(t, "vps", []lab.Tool{lab.ToolQEMUx86}, func(t *testing.T, b boards.Board, r Report) {
		for _, fw := range []string{lab.FirmwareSeaBIOS, lab.FirmwareOVMF} {
			ok := t.Run(fw, func(t *testing.T) {
				vm := lab.StartQEMU(t, lab.QEMU{Arch: "x86_64", Machine: b.QEMU.Machine, Firmware: fw,
					Memory: fmt.Sprintf("%dM", b.QEMU.MemoryMiB), Disk: r.Image, DiskBus: lab.DiskVirtio,
					NoReboot: true, Timeout: 4 * time.Minute, Extra: userNICs(b.QEMU.NIC)})
				vm.WaitLine(t, "goleudy-grub: booting slot A", 90*time.Second)
				waitReady(t, vm, b.Name, fw, 3*time.Minute)
				vm.WaitLine(t, `"msg":"slot good"`, 30*time.Second)
				if fw == lab.FirmwareSeaBIOS {
					consoleHas(t, vm, "Linux version "+b.KernelRelease, `"msg":"first boot: formatting the data partition ext4"`, `"msg":"enrolled"`,
						`"msg":"tunnel up"`, `"msg":"slot committed"`)
				} else {
					// A second boot: the node runs from the config it
					// stored, so its tunnel may come up after the ready
					// line; what it must not do is format data again.
					consoleHas(t, vm, `"msg":"data partition mounted"`, `"first_boot":false`)
				}
				if err := vm.Stop(); err != nil {
					t.Error(err)
				}
			})
			if !ok {
				return
			}
		}
	})
}

// TestBootFitPC2iToReady boots the fitpc2i image (MBR, GRUB i386-pc) on
// QEMU's pc machine with the FitPC2i's Atom N270 CPU and SeaBIOS, the disk
// on the PIIX IDE controller and e1000 NICs: a 32-bit 686 kernel and a
// GOARCH=386 goleudy-node.
func TestBootFitPC2iToReady(t *testing.T) {
	bootBoard(t, "fitpc2i", []lab.Tool{lab.ToolQEMUi386}, func(t *testing.T, b boards.Board, r Report) {
		vm := lab.StartQEMU(t, lab.QEMU{Arch: "i386", Machine: b.QEMU.Machine, CPU: b.QEMU.CPU, Firmware: lab.FirmwareSeaBIOS,
			Memory: fmt.Sprintf("%dM", b.QEMU.MemoryMiB), Disk: r.Image, DiskBus: lab.DiskIDE,
			NoReboot: true, Timeout: 4 * time.Minute, Extra: userNICs(b.QEMU.NIC)})
		vm.WaitLine(t, "goleudy-grub: booting slot A", 90*time.Second)
		waitReady(t, vm, b.Name, lab.FirmwareSeaBIOS, 3*time.Minute)
		vm.WaitLine(t, `"msg":"slot good"`, 30*time.Second)
		consoleHas(t, vm, "Linux version "+b.KernelRelease, `"msg":"first boot: formatting the data partition ext4"`,
			`"msg":"enrolled"`, `"msg":"tunnel up"`, `"msg":"slot committed"`)
	})
}

// TestBootRPi64ToReady boots the rpi64 image on QEMU's raspi3b. QEMU
// cannot run the VideoCore firmware, so the test does its part: it takes
// the kernel, initramfs and the Pi 3 B's DTB from slot A of the built
// image and boots them directly with slot A's cmdline.txt, the whole
// image being the SD card, where the node finds its boot and data
// partitions. The console is the mini UART (ttyS1), QEMU's second
// serial port; the NICs are usb-net on the SoC's DWC2 USB.
func TestBootRPi64ToReady(t *testing.T) {
	bootBoard(t, "rpi64", []lab.Tool{lab.ToolQEMUAArch64}, func(t *testing.T, b boards.Board, r Report) {
		bootPi(t, b, r, "aarch64")
	})
}

// TestBootRPiToReady is TestBootRPi64ToReady for the ARMv6 rpi board on
// QEMU's raspi0, console on the PL011 (ttyAMA0).
func TestBootRPiToReady(t *testing.T) {
	bootBoard(t, "rpi", []lab.Tool{lab.ToolQEMUArm}, func(t *testing.T, b boards.Board, r Report) {
		bootPi(t, b, r, "arm")
	})
}

// bootPi checks the Pi boot files in the image, then boots slot A's
// kernel on the board's QEMU machine with the image as the SD card.
func bootPi(t *testing.T, b boards.Board, r Report, arch string) {
	slot := piBootFiles(t, b, r.Image)
	dir := t.TempDir()
	write := func(name string) string {
		file := filepath.Join(dir, name)
		if err := os.WriteFile(file, slot[name], 0o644); err != nil {
			t.Fatal(err)
		}
		return file
	}
	dtb := path.Base(b.QEMU.DTB)
	if slot[dtb] == nil {
		t.Fatalf("slot A lacks %s, the DTB of QEMU's %s", dtb, b.QEMU.Machine)
	}
	cmdline := strings.Fields(string(slot[rpiboot.Cmdline]))
	if c := b.QEMU.Console; c != "" {
		cmdline = append(cmdline, "console="+c)
	}
	cmdline = append(cmdline, b.QEMU.Cmdline...)
	cmdline = append(cmdline, piWatchdogQuirk)
	vm := lab.StartQEMU(t, lab.QEMU{Arch: arch, Machine: b.QEMU.Machine,
		Kernel: write(Kernel), Initrd: write(Initrd), DTB: write(dtb), Append: strings.Join(cmdline, " "),
		Disk: r.Image, DiskBus: lab.DiskSD, NoReboot: true, Timeout: 5 * time.Minute, Extra: userNICs("usb-net")})
	waitReady(t, vm, b.Name, "direct kernel boot", 4*time.Minute)
	// The image's autoboot.txt commits slot A already, so the node finds
	// nothing to commit.
	if good := vm.WaitLine(t, `"msg":"slot good"`, 30*time.Second); !strings.Contains(good, `"slot":"A"`) ||
		!strings.Contains(good, `"state":"committed=A"`) {
		t.Errorf("slot line: %s; want slot A, committed", good)
	}
	consoleHas(t, vm, "Linux version "+b.KernelRelease, `"msg":"first boot: formatting the data partition ext4"`,
		`"msg":"enrolled"`, `"msg":"tunnel up"`)
}

// piBootFiles checks what the VideoCore firmware would read from the
// image: autoboot.txt on partition 1 committing slot A with B as the
// trial, the firmware's own files where it looks for them, and in slot
// A a config.txt (and identical tryboot.txt) whose kernel, initramfs,
// cmdline and device_tree name files that slot A has, a cmdline.txt with
// the board's console and goleudy.slot=A, and every DTB of the board. It
// returns slot A's files.
func piBootFiles(t *testing.T, b boards.Board, img string) map[string][]byte {
	t.Helper()
	f, err := os.Open(img)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	files := func(n int) map[string][]byte {
		off, size, err := disk.PartitionOffset(img, n)
		if err != nil {
			t.Fatal(err)
		}
		v, err := fat.Open(f, off, size)
		if err != nil {
			t.Fatalf("partition %d: %v", n, err)
		}
		out := map[string][]byte{}
		ents, err := v.ReadDir(".")
		if err != nil {
			t.Fatalf("partition %d: %v", n, err)
		}
		for _, e := range ents {
			if e.IsDir() {
				continue
			}
			if out[e.Name()], err = v.ReadFile(e.Name()); err != nil {
				t.Fatalf("partition %d: %v", n, err)
			}
		}
		return out
	}
	boot, slot := files(1), files(2)

	committed, err := rpiboot.ParseAutoboot(boot["autoboot.txt"])
	if err != nil {
		t.Fatalf("partition 1: %v", err)
	}
	if committed != rpiboot.Slot(grub.A) {
		t.Errorf("autoboot.txt commits slot %s, want A", committed)
	}
	for _, fw := range rpiboot.Firmware(piBoard(b)) {
		where, part := "slot A", slot
		if fw.Boot {
			where, part = "partition 1", boot
		}
		if len(part[fw.Path]) == 0 {
			t.Errorf("%s lacks the firmware file %s", where, fw.Path)
		}
	}
	for _, d := range b.DTBs {
		if len(slot[path.Base(d)]) == 0 {
			t.Errorf("slot A lacks the DTB %s", path.Base(d))
		}
	}

	cfg := slot[rpiboot.Config]
	if !bytes.Equal(slot[rpiboot.TryBoot], cfg) {
		t.Errorf("slot A: %s differs from %s", rpiboot.TryBoot, rpiboot.Config)
	}
	secs, err := rpiboot.ParseConfig(cfg)
	if err != nil {
		t.Fatalf("slot A %s: %v", rpiboot.Config, err)
	}
	named := map[string]bool{}
	for _, sec := range secs {
		for _, st := range sec.Settings {
			switch st.Key {
			case "kernel", "cmdline", "device_tree":
				named[st.Key] = true
			case "initramfs":
				named[st.Key] = true
				st.Value, _, _ = strings.Cut(st.Value, " ")
			default:
				continue
			}
			if len(slot[st.Value]) == 0 {
				t.Errorf("slot A %s line %d: %s=%s names a file slot A lacks", rpiboot.Config, st.Line, st.Key, st.Value)
			}
		}
	}
	for _, k := range []string{"kernel", "initramfs", "cmdline"} {
		if !named[k] {
			t.Errorf("slot A %s names no %s", rpiboot.Config, k)
		}
	}
	if arm64 := slices.ContainsFunc(secs, func(s rpiboot.Section) bool { v, _ := s.Get("arm_64bit"); return v == "1" }); arm64 != (b.GOARCH == "arm64") {
		t.Errorf("slot A %s: arm_64bit=1 is %v for GOARCH %s", rpiboot.Config, arm64, b.GOARCH)
	}
	args := strings.Fields(string(slot[rpiboot.Cmdline]))
	for _, want := range []string{"console=" + b.Console, "goleudy.slot=A"} {
		if !slices.Contains(args, want) {
			t.Errorf("slot A %s: %q lacks %s", rpiboot.Cmdline, args, want)
		}
	}
	if !strings.HasSuffix(string(slot[rpiboot.Cmdline]), "\n") || strings.Count(string(slot[rpiboot.Cmdline]), "\n") != 1 {
		t.Errorf("slot A %s is not one line: %q", rpiboot.Cmdline, slot[rpiboot.Cmdline])
	}
	return slot
}
