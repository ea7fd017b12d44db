package builder

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
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
	"github.com/goleudy/goleudy/image/ubootenv"
	"github.com/goleudy/goleudy/provision/api"
	"github.com/goleudy/goleudy/provision/envelope"
	"github.com/goleudy/goleudy/tools/lab"
)

// The boot tests: a real image for each board, built as `make image`
// builds it (goleudy-node cross-compiled for the board), booted under the
// QEMU machine nearest the board, reaches the node's ready line, serves
// DNS on its anycast address and announces its prefix over BGP.
//
// Each test reruns itself in a namespace of its own (the "office"),
// where `goleudy serve` and NSD, the customer's primary, listen on the
// loopback that QEMU's user network reaches as 10.0.2.2. The board's
// OOB port is on that user network: a DHCP lease, enrollment, the
// WireGuard tunnel to serve and, through the tunnel, the config and the
// zone from serve's hub. Its IX port is a TAP in a second namespace, the
// IX site, where BIRD is the upstream router peering with the node and
// kdig the DNS client asking the anycast address through BIRD's route.

// envBoardServe names the goleudy binary in the test's namespace run.
const envBoardServe = "GOLEUDY_BOARD_SERVE"

// readyLine is what the node prints once enrolled, tunnelled and
// configured.
const readyLine = `"msg":"node ready"`

// The IX site's addresses, the anycast service and the customer zone.
const (
	ixRouter    = "198.51.100.1"
	ixNode      = "198.51.100.2"
	anycastAddr = "192.0.2.53"
	bootZone    = "boot.example."
	bootSerial  = 2026112101
)

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

// bootLab is one board's image and the world around it.
type bootLab struct {
	b    boards.Board
	r    Report
	site *lab.Netns // the IX site
	bird *lab.BIRD  // the IX router, AS 64500

	// The fleet: `goleudy serve`'s data directory and operator API, the
	// release key serve and the node trust, and the module to build
	// releases from. The image is release v1, build 1; r.Bundle is its
	// bundle.
	data, root string
	cl         *api.Client
	releaseKey ed25519.PrivateKey
}

// bootBoard builds a real image for the board name and hands it to boot,
// from inside a namespace of the test's own with `goleudy serve`, NSD and
// the IX site running. tools are the QEMU programs boot needs, checked up
// front so a missing one fails before anything is built.
func bootBoard(t *testing.T, name string, tools []lab.Tool, boot func(t *testing.T, l *bootLab)) {
	b, err := boards.Lookup(name)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := lab.InNetns(); ok && os.Getenv(envBoardServe) != "" {
		boot(t, startBootLab(t, b, os.Getenv(envBoardServe)))
		return
	}
	lab.Require(t, append(tools, lab.Tool{Name: "bird", Package: "bird2"}, lab.Tool{Name: "kdig", Package: "knot-dnsutils"})...)
	boardFetcher(t, b)
	serve := lab.Build(t, "./tools/goleudy", "goleudy")
	ns := lab.NewNetns(t)
	lab.ExecTest(t, ns, "^"+t.Name()+"$", 20*time.Minute, envBoardServe+"="+serve)
}

// startBootLab starts NSD with the customer zone, `goleudy serve` with
// that zone and a node for b, and BIRD in a new IX site namespace; then
// it builds the node's image with its seed, for emulation.
func startBootLab(t *testing.T, b boards.Board, serve string) *bootLab {
	ctx := context.Background()
	l := &bootLab{b: b, site: lab.NewNetns(t)}
	a := netip.MustParseAddr
	l.bird = lab.StartBIRD(t, l.site, lab.BIRDConfig{RouterID: a(ixRouter), Kernel: true,
		Peers: []lab.BIRDPeer{{Name: "node", Local: a(ixRouter), LocalASN: 64500, Neighbor: a(ixNode), PeerASN: 64512}}})
	nsd := lab.StartNSD(t, lab.Options{XFR: true, Zones: []lab.Zone{{Name: bootZone, Text: fmt.Sprintf(`$ORIGIN %s
$TTL 300
@ IN SOA ns1 hostmaster %d 3600 600 1209600 300
@ IN NS ns1
ns1 IN A 192.0.2.10
www IN A 192.0.2.80
`, bootZone, bootSerial)}}})

	data, dir := t.TempDir(), t.TempDir()
	keys := filepath.Join(t.TempDir(), "release")
	if _, err := envelope.NewKeyPair(keys); err != nil {
		t.Fatal(err)
	}
	key, err := envelope.LoadPrivateKey(keys + ".key")
	if err != nil {
		t.Fatal(err)
	}
	l.data, l.releaseKey = data, key
	srv := lab.StartProc(t, "serve", exec.Command(serve, "serve", "--data", data, "--release-trust", keys+".pub",
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
	l.cl = cl
	if err := cl.AddZone(ctx, api.Zone{Name: bootZone, Primaries: []string{nsd.Addr}}); err != nil {
		t.Fatal(err)
	}
	doc := fmt.Sprintf(`{"node": {"id": "%[1]s1", "board": %[1]q, "location": {"display": "Wales, Aberystwyth", "city": "Aberystwyth", "countryiso": "gb"}},
	  "interfaces": {"ix": {"addresses": ["%[2]s/30"], "gateway4": "%[3]s"}},
	  "anycast": {"asn": 64512, "prefixes": ["192.0.2.0/24"], "addresses": ["%[4]s"]},
	  "bgp": {"peers": [{"name": "ix", "asn": 64500, "neighbor": "%[3]s"}]},
	  "dns": {"listen": ["%[4]s:53"]}, "info": {"listen": ["%[4]s:80"]}}`, b.Name, ixNode, ixRouter, anycastAddr)
	nn, err := cl.AddNode(ctx, api.NodeInfo{Config: json.RawMessage(doc)})
	if err != nil {
		t.Fatal(err)
	}
	seed, err := json.Marshal(nn.Seed)
	if err != nil {
		t.Fatal(err)
	}
	root := moduleRoot(t)
	l.root = root
	l.r, err = Build(ctx, Options{Board: b, Seed: seed, Version: "v1", Build: 1, Epoch: time.Unix(1763683200, 0),
		Out: filepath.Join(dir, b.Name+".img"), Fetcher: boardFetcher(t, b), ModuleRoot: root,
		Bundle: filepath.Join(dir, "v1.bundle"), ReleaseKeys: []ed25519.PrivateKey{key},
		Emulated: true, WorkDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	r := l.r
	t.Logf("FIGURE %s image: %d MiB, initramfs %d KiB (%d files, %d modules), kernel %d KiB, goleudy-node %d KiB, built in %v",
		b.Name, r.ImageSize>>20, r.InitramfsSize>>10, r.InitramfsFiles, r.Modules, r.KernelSize>>10, r.NodeSize>>10,
		r.Took.Round(time.Millisecond))
	return l
}

// nics are the board's two ports, IX first as the board table wants:
// the IX on a TAP in the IX site, the OOB on QEMU's user network, both
// of the board's emulated NIC model. The MACs are globally administered
// so that usbnet names its devices ethN, as a real USB NIC is named,
// rather than usbN.
func (l *bootLab) nics(model string) []lab.NIC {
	return []lab.NIC{
		{Model: model, Netns: l.site, Addrs: []string{ixRouter + "/30"}, MAC: "00:16:3e:4c:00:01"},
		{Model: model, User: true, MAC: "00:16:3e:4c:00:02"},
	}
}

// served waits until BIRD has the node's anycast prefix from the
// session with it, and kdig in the IX site gets the customer zone's SOA
// from the anycast address, routed there by BIRD. It logs how long each
// took after the ready line.
func (l *bootLab) served(t *testing.T, vm *lab.VM) {
	t.Helper()
	ctx := context.Background()
	ready := time.Now()
	deadline := ready.Add(90 * time.Second)
	var route, answer string
	var routed, answered time.Duration
	for (routed == 0 || answered == 0) && time.Now().Before(deadline) {
		if routed == 0 {
			out, _ := l.bird.Birdc(ctx, "show", "route", "for", anycastAddr)
			if route = out; strings.Contains(out, "192.0.2.0/24") && strings.Contains(out, "node") {
				routed = time.Since(ready)
			}
		}
		if routed != 0 && answered == 0 {
			out, _ := l.site.Command(ctx, "kdig", "@"+anycastAddr, "+time=2", "+retry=0", bootZone, "SOA", "+short").CombinedOutput()
			if answer = string(out); strings.Contains(answer, fmt.Sprint(bootSerial)) {
				answered = time.Since(ready)
			}
		}
		time.Sleep(250 * time.Millisecond)
	}
	if routed == 0 || answered == 0 {
		t.Errorf("after the ready line: BIRD's route for %s:\n%s\nkdig %s SOA @%s: %s", anycastAddr, route, bootZone, anycastAddr, answer)
		t.Fatalf("BIRD log:\n%s\nnode metrics:\n%s", lab.Tail(l.bird.LogText(), 20), l.metrics(vm))
	}
	t.Logf("FIGURE %s: ready line → BGP route at BIRD %v, → SOA %d answered on %s %v",
		l.b.Name, routed.Round(time.Millisecond), bootSerial, anycastAddr, answered.Round(time.Millisecond))
}

// tunnelAddr finds the node's tunnel address in its "tunnel up" line.
var tunnelAddr = regexp.MustCompile(`"msg":"tunnel up".*"address":"([0-9.]+)`)

// metrics fetches the node's Prometheus page over the tunnel, for a
// failure's report.
func (l *bootLab) metrics(vm *lab.VM) string {
	var addr string
	for _, line := range vm.Lines() {
		if m := tunnelAddr.FindStringSubmatch(line); m != nil {
			addr = m[1]
		}
	}
	if addr == "" {
		return "(no tunnel address on the console)"
	}
	out, err := exec.Command("curl", "-sS", "--max-time", "5", "http://"+net.JoinHostPort(addr, "9100")+"/metrics").CombinedOutput()
	if err != nil {
		return fmt.Sprintf("(curl: %v: %s)", err, out)
	}
	var keep []string
	for _, line := range strings.Split(string(out), "\n") {
		if !strings.HasPrefix(line, "#") && strings.Contains(line, "goleudy_") {
			keep = append(keep, line)
		}
	}
	return strings.Join(keep, "\n")
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

// TestBootBrixToReady boots the BRIX image under OVMF on q35, the disk
// on AHCI: GRUB-EFI picks slot A, the first boot formats the data
// partition, enrolls, serves and commits A. Then the fallback: slot B on
// trial with a broken initramfs comes back on A by itself.
func TestBootBrixToReady(t *testing.T) {
	bootBoard(t, "brix", []lab.Tool{lab.ToolQEMUx86}, func(t *testing.T, l *bootLab) {
		vm := func(noReboot bool) *lab.VM {
			return l.x86(t, "x86_64", lab.FirmwareOVMF, lab.DiskAHCI, noReboot)
		}
		if t.Run("ready", func(t *testing.T) { l.firstBoot(t, vm(true), lab.FirmwareOVMF) }) {
			t.Run("fallback", func(t *testing.T) { l.grubFallback(t, vm) })
		}
	})
}

// TestBootVPSToReady boots one vps image three times: first under
// SeaBIOS (GRUB's boot.img in the protective MBR, core.img in the BIOS
// boot partition), a first boot that formats the data partition,
// enrolls, serves and commits slot A; then under OVMF
// (\EFI\BOOT\BOOTX64.EFI on the ESP), a second boot that finds the
// committed slot and its enrolment on the data partition; then the GRUB
// fallback under SeaBIOS. Disk and NICs are virtio.
func TestBootVPSToReady(t *testing.T) {
	bootBoard(t, "vps", []lab.Tool{lab.ToolQEMUx86}, func(t *testing.T, l *bootLab) {
		if !t.Run(lab.FirmwareSeaBIOS, func(t *testing.T) {
			l.firstBoot(t, l.x86(t, "x86_64", lab.FirmwareSeaBIOS, lab.DiskVirtio, true), lab.FirmwareSeaBIOS)
		}) {
			return
		}
		if !t.Run(lab.FirmwareOVMF, func(t *testing.T) {
			vm := l.x86(t, "x86_64", lab.FirmwareOVMF, lab.DiskVirtio, true)
			vm.WaitLine(t, "goleudy-grub: booting slot A", 90*time.Second)
			waitReady(t, vm, l.b.Name, lab.FirmwareOVMF, 3*time.Minute)
			vm.WaitLine(t, `"msg":"slot good"`, 30*time.Second)
			// A second boot: the node runs from the config it stored,
			// so its tunnel may come up after the ready line; what it
			// must not do is format data again.
			consoleHas(t, vm, `"msg":"data partition mounted"`, `"first_boot":false`)
			l.served(t, vm)
			if err := vm.Stop(); err != nil {
				t.Error(err)
			}
		}) {
			return
		}
		t.Run("fallback", func(t *testing.T) {
			l.grubFallback(t, func(noReboot bool) *lab.VM {
				return l.x86(t, "x86_64", lab.FirmwareSeaBIOS, lab.DiskVirtio, noReboot)
			})
		})
	})
}

// TestBootFitPC2iToReady boots the fitpc2i image (MBR, GRUB i386-pc) on
// QEMU's pc machine with the FitPC2i's Atom N270 CPU and SeaBIOS, the disk
// on the PIIX IDE controller and e1000 NICs: a 32-bit 686 kernel and a
// GOARCH=386 goleudy-node. Then the GRUB fallback.
func TestBootFitPC2iToReady(t *testing.T) {
	bootBoard(t, "fitpc2i", []lab.Tool{lab.ToolQEMUi386}, func(t *testing.T, l *bootLab) {
		vm := func(noReboot bool) *lab.VM {
			return l.x86(t, "i386", lab.FirmwareSeaBIOS, lab.DiskIDE, noReboot)
		}
		if t.Run("ready", func(t *testing.T) { l.firstBoot(t, vm(true), lab.FirmwareSeaBIOS) }) {
			t.Run("fallback", func(t *testing.T) { l.grubFallback(t, vm) })
		}
	})
}

// x86 starts the image on the board's x86 QEMU machine. With noReboot a
// guest reboot ends QEMU; without, the board reboots as real ones do.
func (l *bootLab) x86(t *testing.T, arch, firmware, bus string, noReboot bool) *lab.VM {
	return lab.StartQEMU(t, lab.QEMU{Arch: arch, Machine: l.b.QEMU.Machine, CPU: l.b.QEMU.CPU, Firmware: firmware,
		Memory: fmt.Sprintf("%dM", l.b.QEMU.MemoryMiB), Disk: l.r.Image, DiskBus: bus,
		NoReboot: noReboot, Timeout: 5 * time.Minute, NICs: l.nics(l.b.QEMU.NIC)})
}

// firstBoot follows a fresh image's first boot on a GRUB board to the
// ready line, the commit of slot A, the BGP route and the DNS answer.
func (l *bootLab) firstBoot(t *testing.T, vm *lab.VM, firmware string) {
	vm.WaitLine(t, "goleudy-grub: booting slot A", 90*time.Second)
	waitReady(t, vm, l.b.Name, firmware, 3*time.Minute)
	vm.WaitLine(t, `"msg":"slot good"`, 30*time.Second)
	consoleHas(t, vm, "Linux version "+l.b.KernelRelease, `"msg":"first boot: formatting the data partition ext4"`,
		`"slot":"A"`, `"msg":"enrolled"`, `"msg":"tunnel up"`, `"msg":"slot committed"`)
	l.served(t, vm)
	if err := vm.Stop(); err != nil {
		t.Error(err)
	}
}

// grubFallback puts slot B on trial, as an update would, but breaks its
// initramfs, so its kernel panics and never commits; the board reboots
// (panic=10) and GRUB, finding B's one try spent, boots A by itself,
// whose node records the rollback and serves again.
func (l *bootLab) grubFallback(t *testing.T, start func(noReboot bool) *lab.VM) {
	f, vol := openVolumes(t, l.r.Image)
	boot := vol(1)
	block, err := boot.ReadFile(strings.TrimPrefix(grub.EnvPath, "/"))
	if err != nil {
		t.Fatal(err)
	}
	st, err := grub.DecodeState(block)
	if err != nil {
		t.Fatal(err)
	}
	if st.OnTrial(grub.A) {
		t.Fatalf("slot A not committed by the first boot: %s", st)
	}
	st.Trial(grub.B)
	block, _ = st.Encode()
	if err := boot.Rewrite(strings.TrimPrefix(grub.EnvPath, "/"), block); err != nil {
		t.Fatal(err)
	}
	l.breakSlot(t, f, vol(l.slotPartition(t, grub.B)))

	vm := start(false)
	vm.WaitLine(t, "goleudy-grub: booting slot B", 90*time.Second)
	vm.WaitLine(t, "Kernel panic", 90*time.Second)
	vm.WaitLine(t, "goleudy-grub: booting slot A", 90*time.Second)
	back := vm.LogTiming(t, l.b.Name+" fallback to A", "goleudy-grub: booting slot A")
	vm.WaitLine(t, readyLine, 3*time.Minute)
	ready := vm.LogTiming(t, l.b.Name+" fallback ready", readyLine)
	t.Logf("FIGURE %s fallback: QEMU start → slot A booting again after B's failed trial %v; ready %v",
		l.b.Name, back.Round(time.Millisecond), ready.Round(time.Millisecond))
	l.backOnA(t, vm)
}

// backOnA checks that the node, back on slot A after B's failed trial,
// commits A recording the rollback (B no longer bootable) and serves;
// then it stops the VM.
func (l *bootLab) backOnA(t *testing.T, vm *lab.VM) {
	t.Helper()
	committed := vm.WaitLine(t, `"msg":"slot committed"`, 30*time.Second)
	if !strings.Contains(committed, `"slot":"A"`) || !strings.Contains(committed, `"rolled_back":true`) ||
		!strings.Contains(committed, `B_OK=0`) {
		t.Errorf("the node on A did not record the rollback (slot A, B not bootable): %s", committed)
	}
	l.served(t, vm)
	if err := vm.Stop(); err != nil {
		t.Error(err)
	}
}

// slotPartition is the partition number of slot s in the board's image.
func (l *bootLab) slotPartition(t *testing.T, s grub.Slot) int {
	d, err := disk.Read(l.r.Image)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range d.Partitions {
		if p.Label == slotLabel(s) {
			return p.Number
		}
	}
	t.Fatalf("%s image: no partition for slot %s", l.b.Name, s)
	return 0
}

// TestBootRPi64ToReady boots the rpi64 image on QEMU's raspi3b. QEMU
// cannot run the VideoCore firmware, so the test does its part: it takes
// the kernel, initramfs and the Pi 3 B's DTB from slot A of the built
// image and boots them directly with slot A's cmdline.txt, the whole
// image being the SD card, where the node finds its boot and data
// partitions. The console is the mini UART (ttyS1), QEMU's second
// serial port; the NICs are usb-net on the SoC's DWC2 USB.
func TestBootRPi64ToReady(t *testing.T) {
	bootBoard(t, "rpi64", []lab.Tool{lab.ToolQEMUAArch64}, func(t *testing.T, l *bootLab) { l.bootPi(t, "aarch64") })
}

// TestBootRPiToReady is TestBootRPi64ToReady for the ARMv6 rpi board on
// QEMU's raspi0, console on the PL011 (ttyAMA0).
func TestBootRPiToReady(t *testing.T) {
	bootBoard(t, "rpi", []lab.Tool{lab.ToolQEMUArm}, func(t *testing.T, l *bootLab) { l.bootPi(t, "arm") })
}

// bootPi checks the Pi boot files in the image, then boots it on the
// board's QEMU machine as the VideoCore firmware would: U-Boot from the
// board's u-boot-rpi package, with the board's device tree on the 64-bit
// Pi (the firmware hands U-Boot one; the 32-bit U-Boot has its own). The
// image is the SD card; U-Boot's distro boot finds boot.scr on partition
// 1, picks slot A, saves uboot.env and boots slot A's kernel. Then the
// fallback, as on the GRUB boards.
func (l *bootLab) bootPi(t *testing.T, arch string) {
	b := l.b
	boot, _ := piBootFiles(t, b, l.r.Image)
	dir := t.TempDir()
	p, ok := b.Package(b.Bootloader.Package)
	if !ok {
		t.Fatalf("the board's bootloader package %s is not pinned", b.Bootloader.Package)
	}
	tree, err := boardFetcher(t, b).Unpacked(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	ub, err := tree.ReadFile(b.QEMU.Bootloader)
	if err != nil {
		t.Fatal(err)
	}
	uboot := filepath.Join(dir, path.Base(b.QEMU.Bootloader))
	if err := os.WriteFile(uboot, ub, 0o644); err != nil {
		t.Fatal(err)
	}
	var dtb string
	if b.GOARCH == "arm64" {
		name := path.Base(b.QEMU.DTB)
		if boot[name] == nil {
			t.Fatalf("partition 1 lacks %s, the DTB of QEMU's %s", name, b.QEMU.Machine)
		}
		dtb = filepath.Join(dir, name)
		if err := os.WriteFile(dtb, boot[name], 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// QEMU's SD card takes only power-of-two sizes, and pads any other in
	// a fresh copy at each start, which would lose what U-Boot and the
	// node wrote. Growing the image once (an MBR disk does not mind)
	// keeps one card across power cycles, as on a real Pi.
	if err := os.Truncate(l.r.Image, pow2(l.r.ImageSize)); err != nil {
		t.Fatal(err)
	}
	start := func(t *testing.T) *lab.VM {
		return lab.StartQEMU(t, lab.QEMU{Arch: arch, Machine: b.QEMU.Machine, Kernel: uboot, DTB: dtb,
			Disk: l.r.Image, DiskBus: lab.DiskSD, Timeout: 5 * time.Minute, NICs: l.nics("usb-net")})
	}
	// A copy of the fresh card, for a second first boot (see below).
	fresh := l.r.Image + ".fresh"
	if out, err := exec.Command("cp", "--sparse=always", l.r.Image, fresh).CombinedOutput(); err != nil {
		t.Fatalf("copying the fresh card: %v: %s", err, out)
	}
	if !t.Run("ready", func(t *testing.T) {
		vm := start(t)
		vm.WaitLine(t, rpiboot.BootLine+"A", 2*time.Minute)
		if stalled(vm, readyLine, 4*time.Minute, 90*time.Second) {
			// QEMU's emulated Pi now and then stops dead in the node's
			// first seconds (no console line, no network; seen once in
			// some ten boots of raspi0, never on real hardware or the
			// x86 machines). Boot the fresh card once more; a second
			// stall fails the test.
			t.Logf("the emulated Pi's console was silent for %v before the ready line; booting the fresh card again", vm.Quiet().Round(time.Second))
			if err := vm.Stop(); err != nil {
				t.Log(err)
			}
			if out, err := exec.Command("cp", "--sparse=always", fresh, l.r.Image).CombinedOutput(); err != nil {
				t.Fatalf("restoring the fresh card: %v: %s", err, out)
			}
			vm = start(t)
			vm.WaitLine(t, rpiboot.BootLine+"A", 2*time.Minute)
		}
		waitReady(t, vm, b.Name, "U-Boot", 4*time.Minute)
		if c := vm.WaitLine(t, `"msg":"slot committed"`, 30*time.Second); !strings.Contains(c, `"slot":"A"`) || strings.Contains(c, `"rolled_back":true`) {
			t.Errorf("commit: %s; want slot A, no rollback", c)
		}
		consoleHas(t, vm, "Linux version "+b.KernelRelease, `"msg":"first boot: formatting the data partition ext4"`,
			`"msg":"enrolled"`, `"msg":"tunnel up"`)
		l.served(t, vm)
		if err := vm.Stop(); err != nil {
			t.Error(err)
		}
	}) {
		return
	}
	t.Run("fallback", func(t *testing.T) { l.piFallback(t, start) })
}

// openVolumes opens the image read-write for the test, and its FAT
// partitions by number.
func openVolumes(t *testing.T, img string) (*os.File, func(n int) *fat.Volume) {
	f, err := os.OpenFile(img, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f, func(n int) *fat.Volume {
		off, size, err := disk.PartitionOffset(img, n)
		if err != nil {
			t.Fatal(err)
		}
		v, err := fat.Open(f, off, size)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

// moduleRoot is this module's root, to build goleudy-node from.
func moduleRoot(t *testing.T) string {
	wd, _ := os.Getwd()
	root, err := ModuleRoot(wd)
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// breakSlot zeroes the slot's initramfs in the image open as f, so its
// kernel panics without a root, and syncs the image.
func (l *bootLab) breakSlot(t *testing.T, f *os.File, slot *fat.Volume) {
	initrd, err := slot.ReadFile(Initrd)
	if err != nil {
		t.Fatal(err)
	}
	if err := slot.Rewrite(Initrd, make([]byte, len(initrd))); err != nil {
		t.Fatal(err)
	}
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
}

// stalled waits up to within for a console line with substr, and says
// whether it gave up early because the console had been silent for
// stall. It reads the console without consuming it, so WaitLine still
// finds the line.
func stalled(vm *lab.VM, substr string, within, stall time.Duration) bool {
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		if vm.Quiet() > stall {
			return true
		}
		if lines := vm.Lines(); len(lines) > 0 && slices.ContainsFunc(lines, func(l string) bool { return strings.Contains(l, substr) }) {
			return false
		}
		time.Sleep(time.Second)
	}
	return false
}

// pow2 is the smallest power of two not below n.
func pow2(n int64) int64 {
	p := int64(1)
	for p < n {
		p <<= 1
	}
	return p
}

// piFallback is grubFallback on a Pi: slot B on trial in uboot.env, its
// initramfs broken. Its kernel panics; on a real Pi the watchdog the boot
// script armed resets the board, but QEMU's raspi machines do not count
// it down, so the test power-cycles the VM where the watchdog would fire.
// U-Boot then finds B's try spent and boots A, whose node records the
// rollback.
func (l *bootLab) piFallback(t *testing.T, start func(t *testing.T) *lab.VM) {
	f, vol := openVolumes(t, l.r.Image)
	boot := vol(1)
	block, err := boot.ReadFile(rpiboot.EnvFile)
	if err != nil {
		t.Fatalf("U-Boot saved no %s on partition 1: %v", rpiboot.EnvFile, err)
	}
	env, err := ubootenv.Parse(block)
	if err != nil {
		t.Fatal(err)
	}
	st, err := grub.StateFromEnv(&env)
	if err != nil {
		t.Fatal(err)
	}
	if st.OnTrial(grub.A) || !st.IsOK(grub.A) {
		t.Fatalf("slot A not committed by the first boot: %s", st)
	}
	st.Trial(grub.B)
	if err := st.Apply(&env); err != nil {
		t.Fatal(err)
	}
	block, _ = env.Encode()
	if err := boot.Rewrite(rpiboot.EnvFile, block); err != nil {
		t.Fatal(err)
	}
	l.breakSlot(t, f, vol(l.slotPartition(t, grub.B)))

	vm := start(t)
	vm.WaitLine(t, rpiboot.BootLine+"B", 2*time.Minute)
	vm.WaitLine(t, "Kernel panic", 2*time.Minute)
	panicked := vm.LogTiming(t, l.b.Name+" trial of B panicked", "Kernel panic")
	if err := vm.Stop(); err != nil {
		t.Log(err)
	}
	vm = start(t)
	vm.WaitLine(t, rpiboot.BootLine+"A", 2*time.Minute)
	vm.WaitLine(t, readyLine, 4*time.Minute)
	ready := vm.LogTiming(t, l.b.Name+" fallback ready", readyLine)
	t.Logf("FIGURE %s fallback: QEMU start → B's kernel panics %v; power cycle → ready on A %v",
		l.b.Name, panicked.Round(time.Millisecond), ready.Round(time.Millisecond))
	l.backOnA(t, vm)
}

// piBootFiles checks what the VideoCore firmware and U-Boot would read
// from the image: on partition 1 the firmware, a config.txt that starts
// u-boot.bin (there too), a valid boot.scr and the DTBs' basenames; in
// slot A the kernel, initramfs, every DTB at U-Boot's fdtfile path, and
// a bootargs.txt with the board's console and goleudy.slot=A. It returns
// both partitions' files.
func piBootFiles(t *testing.T, b boards.Board, img string) (boot, slot map[string][]byte) {
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
		var walk func(dir string)
		walk = func(dir string) {
			ents, err := v.ReadDir(dir)
			if err != nil {
				t.Fatalf("partition %d: %v", n, err)
			}
			for _, e := range ents {
				p := path.Join(dir, e.Name())
				if e.IsDir() {
					walk(p)
					continue
				}
				if out[p], err = v.ReadFile(p); err != nil {
					t.Fatalf("partition %d: %v", n, err)
				}
			}
		}
		walk(".")
		return out
	}
	boot, slot = files(1), files(2)

	for _, name := range []string{rpiboot.UBoot, rpiboot.Script, rpiboot.Config} {
		if len(boot[name]) == 0 {
			t.Errorf("partition 1 lacks %s", name)
		}
	}
	for _, fw := range b.BootFirmware {
		if len(boot[path.Base(fw.Path)]) == 0 {
			t.Errorf("partition 1 lacks the firmware file %s", path.Base(fw.Path))
		}
	}
	secs, err := rpiboot.ParseConfig(boot[rpiboot.Config])
	if err != nil {
		t.Fatalf("partition 1 %s: %v", rpiboot.Config, err)
	}
	if k, _ := secs[len(secs)-1].Get("kernel"); k != rpiboot.UBoot {
		t.Errorf("config.txt: kernel=%q, want %s", k, rpiboot.UBoot)
	}
	if arm64 := slices.ContainsFunc(secs, func(s rpiboot.Section) bool { v, _ := s.Get("arm_64bit"); return v == "1" }); arm64 != (b.GOARCH == "arm64") {
		t.Errorf("config.txt: arm_64bit=1 is %v for GOARCH %s", arm64, b.GOARCH)
	}
	if _, err := rpiboot.ParseScriptImage(boot[rpiboot.Script]); err != nil {
		t.Errorf("partition 1: %v", err)
	}
	for _, name := range []string{Kernel, Initrd, rpiboot.Bootargs} {
		if len(slot[name]) == 0 {
			t.Errorf("slot A lacks %s", name)
		}
	}
	prefix := "usr/lib/linux-image-" + b.KernelRelease + "/"
	for _, d := range b.DTBs {
		if len(slot[strings.TrimPrefix(d, prefix)]) == 0 {
			t.Errorf("slot A lacks the DTB %s", strings.TrimPrefix(d, prefix))
		}
		if len(boot[path.Base(d)]) == 0 {
			t.Errorf("partition 1 lacks the DTB %s for the firmware", path.Base(d))
		}
	}
	args := strings.Fields(strings.TrimPrefix(string(slot[rpiboot.Bootargs]), "bootargs="))
	for _, want := range []string{"goleudy.slot=A", "panic=10"} {
		if !slices.Contains(args, want) {
			t.Errorf("slot A %s: %q lacks %s", rpiboot.Bootargs, args, want)
		}
	}
	return boot, slot
}

// TestBootDebugShell builds a vps image with --debug and boots it under
// SeaBIOS with no network: PID 1 starts u-root's gosh on the serial
// console, and a command typed there runs (the shell, not the terminal's
// echo, turns $((6*7)) into 42) and finds the busybox's commands.
func TestBootDebugShell(t *testing.T) {
	lab.Require(t, lab.ToolQEMUx86)
	b, err := boards.Lookup("vps")
	if err != nil {
		t.Fatal(err)
	}
	root := moduleRoot(t)
	seed := []byte(`{"node_id":"bench","enroll_url":"http://192.0.2.1:8080/v1/enroll","server_key":"x","token":"t","trust":[]}`)
	r, err := Build(context.Background(), Options{Board: b, Seed: seed, Version: "debug", Epoch: time.Unix(1763683200, 0),
		Out: filepath.Join(t.TempDir(), "vps-debug.img"), Fetcher: boardFetcher(t, b), ModuleRoot: root,
		Emulated: true, Debug: true, WorkDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if r.DebugToolsSize == 0 {
		t.Fatal("Report.DebugToolsSize is 0 for a debug image")
	}
	t.Logf("FIGURE vps debug image: initramfs %d KiB (%d files), busybox %d KiB", r.InitramfsSize>>10, r.InitramfsFiles, r.DebugToolsSize>>10)
	vm := lab.StartQEMU(t, lab.QEMU{Arch: "x86_64", Machine: b.QEMU.Machine, CPU: b.QEMU.CPU, Firmware: lab.FirmwareSeaBIOS,
		Memory: fmt.Sprintf("%dM", b.QEMU.MemoryMiB), Disk: r.Image, DiskBus: lab.DiskVirtio, Snapshot: true, Timeout: 4 * time.Minute})
	vm.WaitLine(t, `"msg":"debug image: a shell runs on the console`, 2*time.Minute)
	shell := vm.LogTiming(t, "vps debug shell", `"msg":"debug image: a shell runs on the console`)
	t.Logf("FIGURE vps debug image: QEMU start → shell %v", shell.Round(time.Millisecond))
	// The shell takes a moment to start; type until it answers.
	deadline := time.Now().Add(time.Minute)
	for {
		if err := vm.Type("echo goleudy-$((6*7))-debug\r"); err != nil {
			t.Fatal(err)
		}
		if _, err := vm.Expect("goleudy-42-debug", 5*time.Second); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the console shell never ran the typed command")
		}
	}
	if err := vm.Type("ls /bin\r"); err != nil {
		t.Fatal(err)
	}
	vm.WaitLine(t, "gosh", 20*time.Second)
}
