package rpiboot_test

import (
	"bytes"
	"errors"
	"path"
	"slices"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/goleudy/goleudy/image/grub/grubtest"
	"github.com/goleudy/goleudy/image/rpiboot"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// The Pi boards of the board table, as the image builder hands them to
// this package, with the Debian kernel package each one's DTBs come from.
var boards = []struct {
	board  rpiboot.Board
	kernel string // cache glob of the kernel package
	dtbDir string // DTB directory inside it, after usr/lib/linux-image-*/
}{
	{rpiboot.Board{
		Name:     "rpi",
		Families: []rpiboot.Family{rpiboot.Legacy},
		DTBs: []string{"bcm2835-rpi-a.dtb", "bcm2835-rpi-a-plus.dtb", "bcm2835-rpi-b.dtb", "bcm2835-rpi-b-rev2.dtb",
			"bcm2835-rpi-b-plus.dtb", "bcm2835-rpi-zero.dtb", "bcm2835-rpi-zero-w.dtb"},
		Pins:     []rpiboot.DeviceTree{{Filter: "pi0", File: "bcm2835-rpi-zero.dtb"}, {Filter: "pi0w", File: "bcm2835-rpi-zero-w.dtb"}},
		Consoles: []string{"ttyAMA0,115200"},
	}, "linux-image-*-rpi_*_armel.deb", ""},
	{rpiboot.Board{
		Name:     "rpi64",
		Arm64:    true,
		Families: []rpiboot.Family{rpiboot.Legacy, rpiboot.Pi4},
		DTBs: []string{"bcm2837-rpi-3-b.dtb", "bcm2837-rpi-3-b-plus.dtb", "bcm2837-rpi-3-a-plus.dtb",
			"bcm2837-rpi-zero-2-w.dtb", "bcm2711-rpi-4-b.dtb", "bcm2711-rpi-400.dtb"},
		Pins:     []rpiboot.DeviceTree{{Filter: "pi4", File: "bcm2711-rpi-4-b.dtb"}, {Filter: "pi400", File: "bcm2711-rpi-400.dtb"}},
		Consoles: []string{"ttyAMA0,115200"},
		Cmdline:  []string{"panic=10"},
	}, "linux-image-*-arm64_*_arm64.deb", "broadcom"},
}

// TestSlotFiles checks every Pi board's config.txt, tryboot.txt and
// cmdline.txt for both slots as the firmware reads them.
func TestSlotFiles(t *testing.T) {
	for _, bc := range boards {
		b := bc.board
		names := rpiboot.SlotNames(b)
		for _, s := range []rpiboot.Slot{rpiboot.A, rpiboot.B} {
			t.Run(b.Name+"/"+string(s), func(t *testing.T) {
				files, err := rpiboot.SlotFiles(b, s)
				if err != nil {
					t.Fatal(err)
				}
				got := map[string][]byte{}
				for _, f := range files {
					got[f.Path] = f.Data
					if !slices.Contains(names, f.Path) {
						t.Errorf("%s is not in SlotNames %v", f.Path, names)
					}
				}
				if !bytes.Equal(got[rpiboot.Config], got[rpiboot.TryBoot]) {
					t.Error("tryboot.txt differs from config.txt")
				}
				secs, err := rpiboot.ParseConfig(got[rpiboot.Config])
				if err != nil {
					t.Fatalf("config.txt: %v\n%s", err, got[rpiboot.Config])
				}
				all := secs[1] // the [all] section the file opens with
				if all.Filter != "all" {
					t.Fatalf("config.txt starts with [%s]", all.Filter)
				}
				for k, want := range map[string]string{
					"kernel": rpiboot.Kernel, "initramfs": rpiboot.Initrd + " followkernel", "cmdline": rpiboot.Cmdline,
					"enable_uart": "1", "os_check": "0", "upstream_kernel": "1",
				} {
					if v, _ := all.Get(k); v != want {
						t.Errorf("[all] %s=%q, want %q", k, v, want)
					}
				}
				if v, ok := all.Get("arm_64bit"); ok != b.Arm64 || (ok && v != "1") {
					t.Errorf("arm_64bit=%q (%v) on a board with Arm64=%v", v, ok, b.Arm64)
				}
				// Every file the config names is in the slot.
				pinned := map[string]string{}
				for _, sec := range secs {
					for _, st := range sec.Settings {
						var file string
						switch st.Key {
						case "kernel", "cmdline", "device_tree":
							file = st.Value
						case "initramfs":
							file, _, _ = strings.Cut(st.Value, " ")
						default:
							continue
						}
						if !slices.Contains(names, file) {
							t.Errorf("line %d: %s=%s is not in the slot %v", st.Line, st.Key, file, names)
						}
						if st.Key == "device_tree" {
							pinned[sec.Filter] = file
						}
					}
				}
				for _, p := range b.Pins {
					if pinned[p.Filter] != p.File {
						t.Errorf("[%s] device_tree=%q, want %q", p.Filter, pinned[p.Filter], p.File)
					}
				}
				if last := secs[len(secs)-1]; len(b.Pins) > 0 && last.Filter != "all" {
					t.Errorf("config.txt ends inside [%s]; later additions would apply to one model only", last.Filter)
				}

				cmd := string(got[rpiboot.Cmdline])
				if strings.Count(cmd, "\n") != 1 || !strings.HasSuffix(cmd, "\n") {
					t.Errorf("cmdline.txt is not one line: %q", cmd)
				}
				args := strings.Fields(cmd)
				for _, c := range b.Consoles {
					if !slices.Contains(args, "console="+c) {
						t.Errorf("cmdline.txt %q lacks console=%s", cmd, c)
					}
				}
				if n := slices.IndexFunc(args, func(a string) bool { return strings.HasPrefix(a, "goleudy.slot=") }); n < 0 || args[n] != "goleudy.slot="+string(s) || strings.Count(cmd, "goleudy.slot=") != 1 {
					t.Errorf("cmdline.txt %q: want goleudy.slot=%s once", cmd, s)
				}
			})
		}
	}
}

// TestFirmwareAndDTBsInPackages checks the firmware files against
// Debian's raspi-firmware and the DTBs against each board's kernel
// package, both from the package cache.
func TestFirmwareAndDTBsInPackages(t *testing.T) {
	fw := grubtest.Contents(t, grubtest.CachedDeb(t, "raspi-firmware", "all"))
	for _, bc := range boards {
		b := bc.board
		files := rpiboot.Firmware(b)
		if len(files) == 0 {
			t.Fatalf("%s: no firmware files", b.Name)
		}
		for _, f := range files {
			if !fw[f.Source] {
				t.Errorf("%s: %s is not in raspi-firmware", b.Name, f.Source)
			}
			if f.Boot != (f.Path == "bootcode.bin") {
				t.Errorf("%s: %s on the boot partition: %v", b.Name, f.Path, f.Boot)
			}
		}
		kernel := grubtest.Contents(t, grubtest.CachedGlob(t, bc.kernel))
		for _, dtb := range b.DTBs {
			found := false
			for p := range kernel {
				if strings.HasPrefix(p, "usr/lib/linux-image-") && path.Base(p) == dtb && path.Base(path.Dir(p)) == or(bc.dtbDir, path.Base(path.Dir(p))) {
					found = true
					break
				}
			}
			if !found {
				t.Errorf("%s: DTB %s is not in %s", b.Name, dtb, bc.kernel)
			}
		}
	}
	legacy := rpiboot.Firmware(rpiboot.Board{Families: []rpiboot.Family{rpiboot.Legacy}})
	pi4 := rpiboot.Firmware(rpiboot.Board{Families: []rpiboot.Family{rpiboot.Pi4}})
	if len(legacy) != 3 || len(pi4) != 2 || slices.ContainsFunc(pi4, func(f rpiboot.FirmwareFile) bool { return f.Boot }) {
		t.Errorf("legacy %v, pi4 %v", legacy, pi4)
	}
}

func or(a, b string) string {
	if a == "" {
		return b
	}
	return a
}

func TestValidate(t *testing.T) {
	good := boards[1].board
	for _, tc := range []struct {
		name string
		edit func(*rpiboot.Board)
		want string
	}{
		{"no family", func(b *rpiboot.Board) { b.Families = nil }, "no firmware family"},
		{"bad family", func(b *rpiboot.Board) { b.Families = []rpiboot.Family{"pi5"} }, `family "pi5"`},
		{"dtb path", func(b *rpiboot.Board) { b.DTBs = []string{"broadcom/x.dtb"} }, "want a .dtb basename"},
		{"pin not shipped", func(b *rpiboot.Board) { b.Pins = []rpiboot.DeviceTree{{Filter: "pi4", File: "other.dtb"}} }, "is not in DTBs"},
		{"no console", func(b *rpiboot.Board) { b.Consoles = nil }, "no console"},
		{"space in arg", func(b *rpiboot.Board) { b.Cmdline = []string{"a b"} }, "without spaces"},
		{"slot in extras", func(b *rpiboot.Board) { b.Cmdline = []string{"goleudy.slot=B"} }, "set by rpiboot"},
	} {
		b := good
		tc.edit(&b)
		if _, err := rpiboot.SlotFiles(b, rpiboot.A); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error with %q", tc.name, err, tc.want)
		}
	}
}

func TestAutoboot(t *testing.T) {
	a := rpiboot.AutobootFor(rpiboot.A)
	if want := "[all]\ntryboot_a_b=1\nboot_partition=2\n[tryboot]\nboot_partition=3\n"; string(a) != want {
		t.Fatalf("AutobootFor(A) = %q, want %q", a, want)
	}
	for _, s := range []rpiboot.Slot{rpiboot.A, rpiboot.B} {
		data := rpiboot.AutobootFor(s)
		if len(data) > rpiboot.MaxAutoboot {
			t.Fatalf("autoboot.txt is %d bytes", len(data))
		}
		if got, err := rpiboot.ParseAutoboot(data); err != nil || got != s {
			t.Fatalf("ParseAutoboot(AutobootFor(%s)) = %s, %v", s, got, err)
		}
	}
	for _, tc := range []struct{ name, in, want string }{
		{"no tryboot section", "[all]\ntryboot_a_b=1\nboot_partition=2\n", "want an [all] and a [tryboot]"},
		{"no a/b", "boot_partition=2\n[tryboot]\nboot_partition=3\n", "tryboot_a_b=\"\""},
		{"same slot", "tryboot_a_b=1\nboot_partition=2\n[tryboot]\nboot_partition=2\n", "both boot slot A"},
		{"partition 1", "tryboot_a_b=1\nboot_partition=1\n[tryboot]\nboot_partition=3\n", "slots are partitions 2 (A) and 3 (B)"},
		{"other filter", "tryboot_a_b=1\nboot_partition=2\n[pi4]\nboot_partition=3\n", "[pi4]"},
		{"other key", "tryboot_a_b=1\nboot_partition=2\nkernel=x\n[tryboot]\nboot_partition=3\n", "unexpected kernel"},
		{"too big", string(a) + "#" + strings.Repeat("x", 600) + "\n", "at most 512"},
		{"binary", "tryboot_a_b=1\x00", "only ASCII"},
		{"bad line", "tryboot_a_b\n", "want key=value"},
		{"bad filter", "[tryboot\n", "a filter is [name]"},
	} {
		if _, err := rpiboot.ParseAutoboot([]byte(tc.in)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error with %q", tc.name, err, tc.want)
		}
	}
}

// TestTrybootCycle walks the node through a trial that fails and one that
// commits, with Next standing in for the firmware.
func TestTrybootCycle(t *testing.T) {
	autoboot := rpiboot.AutobootFor(rpiboot.A)
	boot := func(tryboot bool) rpiboot.Tryboot {
		t.Helper()
		committed, err := rpiboot.ParseAutoboot(autoboot)
		if err != nil {
			t.Fatal(err)
		}
		booted := rpiboot.Tryboot{Committed: committed}.Next(tryboot)
		tb, err := rpiboot.ReadTryboot(autoboot, booted)
		if err != nil {
			t.Fatal(err)
		}
		return tb
	}
	st := boot(false)
	if st.OnTrial() || st.Booted != rpiboot.A {
		t.Fatalf("first boot: %+v", st)
	}
	arg, err := st.Trial()
	if err != nil || arg != "0 tryboot" {
		t.Fatalf("Trial() = %q, %v", arg, err)
	}
	st = boot(true)
	if !st.OnTrial() || st.Booted != rpiboot.B {
		t.Fatalf("trial boot: %+v", st)
	}
	if _, err := st.Trial(); err == nil {
		t.Fatal("Trial() on a trial boot succeeded")
	}
	// The trial never commits: the watchdog resets the board, the flag is
	// gone, and A boots.
	if st = boot(false); st.Booted != rpiboot.A || st.OnTrial() {
		t.Fatalf("after a failed trial: %+v", st)
	}
	// Try again and commit.
	st = boot(true)
	autoboot = st.Commit()
	if st = boot(false); st.Booted != rpiboot.B || st.OnTrial() {
		t.Fatalf("after commit: %+v", st)
	}
	if !bytes.Equal(st.Commit(), autoboot) {
		t.Fatal("Commit on a committed boot changed autoboot.txt")
	}
	if _, err := rpiboot.ReadTryboot(autoboot, "C"); err == nil {
		t.Fatal("ReadTryboot accepted slot C")
	}
}

func FuzzParseConfig(f *testing.F) {
	cfg, _ := rpiboot.ConfigTxt(boards[1].board, rpiboot.B)
	f.Add(cfg)
	f.Add(rpiboot.AutobootFor(rpiboot.B))
	f.Add([]byte("[pi4\nx"))
	f.Fuzz(func(t *testing.T, in []byte) {
		secs, err := rpiboot.ParseConfig(in)
		if err != nil {
			if !errors.Is(err, rpiboot.ErrSyntax) {
				t.Fatalf("error without ErrSyntax: %v", err)
			}
			return
		}
		if len(secs) == 0 || secs[0].Filter != "all" {
			t.Fatalf("sections %v", secs)
		}
		if s, err := rpiboot.ParseAutoboot(in); err == nil {
			if again, err := rpiboot.ParseAutoboot(rpiboot.AutobootFor(s)); err != nil || again != s {
				t.Fatalf("committed %s does not round-trip: %s, %v", s, again, err)
			}
		}
	})
}
