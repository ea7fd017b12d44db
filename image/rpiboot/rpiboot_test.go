package rpiboot_test

import (
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/goleudy/goleudy/image/grub"
	"github.com/goleudy/goleudy/image/grub/grubtest"
	"github.com/goleudy/goleudy/image/rpiboot"
	"github.com/goleudy/goleudy/image/ubootenv"
	"github.com/goleudy/goleudy/tools/lab"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// The Pi boards of the board table, as the image builder hands them to
// this package, with the Debian kernel package each one's DTBs come from.
var boards = []struct {
	board  rpiboot.Board
	kernel string // cache glob of the kernel package
}{
	{rpiboot.Board{
		Name:     "rpi",
		Families: []rpiboot.Family{rpiboot.Legacy},
		DTBs: []string{"bcm2835-rpi-a.dtb", "bcm2835-rpi-a-plus.dtb", "bcm2835-rpi-b.dtb", "bcm2835-rpi-b-rev2.dtb",
			"bcm2835-rpi-b-plus.dtb", "bcm2835-rpi-zero.dtb", "bcm2835-rpi-zero-w.dtb"},
		Consoles: []string{"tty1", "ttyAMA0,115200"},
		Cmdline:  []string{"panic=10"},
	}, "linux-image-*-rpi_*_armel.deb"},
	{rpiboot.Board{
		Name:     "rpi64",
		Arm64:    true,
		Families: []rpiboot.Family{rpiboot.Legacy, rpiboot.Pi4},
		DTBs: []string{"broadcom/bcm2837-rpi-3-b.dtb", "broadcom/bcm2837-rpi-3-b-plus.dtb", "broadcom/bcm2837-rpi-3-a-plus.dtb",
			"broadcom/bcm2837-rpi-zero-2-w.dtb", "broadcom/bcm2711-rpi-4-b.dtb", "broadcom/bcm2711-rpi-400.dtb"},
		Consoles: []string{"ttyS1,115200"},
		Cmdline:  []string{"panic=10"},
	}, "linux-image-*-arm64_*_arm64.deb"},
}

// TestSlotFiles checks each slot's bootargs.txt: one U-Boot variable
// holding the consoles, goleudy.slot and the extras.
func TestSlotFiles(t *testing.T) {
	for _, bc := range boards {
		b := bc.board
		for _, s := range []rpiboot.Slot{rpiboot.A, rpiboot.B} {
			files, err := rpiboot.SlotFiles(b, s)
			if err != nil {
				t.Fatal(err)
			}
			names := rpiboot.SlotNames(b)
			for _, f := range files {
				if !slices.Contains(names, f.Path) {
					t.Errorf("%s: %s is not in SlotNames %v", b.Name, f.Path, names)
				}
			}
			args := string(files[0].Data)
			line, ok := strings.CutPrefix(args, "bootargs=")
			if !ok || strings.Count(args, "\n") != 1 || !strings.HasSuffix(args, "\n") {
				t.Fatalf("%s: %q is not one bootargs= line", b.Name, args)
			}
			fields := strings.Fields(line)
			for _, c := range b.Consoles {
				if !slices.Contains(fields, "console="+c) {
					t.Errorf("%s: %q lacks console=%s", b.Name, line, c)
				}
			}
			if slices.Index(fields, "console="+b.Consoles[len(b.Consoles)-1]) < slices.Index(fields, "console="+b.Consoles[0]) {
				t.Errorf("%s: consoles out of order in %q", b.Name, line)
			}
			if strings.Count(line, "goleudy.slot=") != 1 || !slices.Contains(fields, "goleudy.slot="+string(s)) {
				t.Errorf("%s: %q: want goleudy.slot=%s once", b.Name, line, s)
			}
		}
	}
}

// TestBootFiles checks partition 1's config.txt as the firmware reads it
// and boot.scr with Debian's mkimage and dumpimage (u-boot-tools): a
// valid script image holding ScriptText.
func TestBootFiles(t *testing.T) {
	lab.Require(t, lab.Tool{Name: "mkimage", Package: "u-boot-tools"}, lab.Tool{Name: "dumpimage", Package: "u-boot-tools"})
	epoch := time.Unix(1763683200, 0)
	for _, bc := range boards {
		b := bc.board
		files, err := rpiboot.BootFiles(b, epoch)
		if err != nil {
			t.Fatal(err)
		}
		got := map[string][]byte{}
		for _, f := range files {
			got[f.Path] = f.Data
		}
		secs, err := rpiboot.ParseConfig(got[rpiboot.Config])
		if err != nil {
			t.Fatalf("%s config.txt: %v\n%s", b.Name, err, got[rpiboot.Config])
		}
		if len(secs) != 2 || secs[1].Filter != "all" {
			t.Fatalf("%s config.txt: want one [all] section, got %v", b.Name, secs)
		}
		all := secs[1]
		for k, want := range map[string]string{"kernel": rpiboot.UBoot, "enable_uart": "1", "os_check": "0", "upstream_kernel": "1"} {
			if v, _ := all.Get(k); v != want {
				t.Errorf("%s: [all] %s=%q, want %q", b.Name, k, v, want)
			}
		}
		for _, k := range []string{"initramfs", "cmdline", "device_tree"} {
			if _, ok := all.Get(k); ok {
				t.Errorf("%s: config.txt sets %s: the kernel is U-Boot's to load", b.Name, k)
			}
		}
		if v, ok := all.Get("arm_64bit"); ok != b.Arm64 || (ok && v != "1") {
			t.Errorf("%s: arm_64bit=%q (%v) on a board with Arm64=%v", b.Name, v, ok, b.Arm64)
		}

		img := got[rpiboot.Script]
		text, err := rpiboot.ParseScriptImage(img)
		if err != nil || text != rpiboot.ScriptText(b) {
			t.Fatalf("%s: boot.scr: %v", b.Name, err)
		}
		dir := t.TempDir()
		scr := filepath.Join(dir, "boot.scr")
		os.WriteFile(scr, img, 0o644)
		out, err := exec.Command("mkimage", "-l", scr).CombinedOutput()
		if err != nil {
			t.Fatalf("mkimage -l: %v\n%s", err, out)
		}
		arch := "ARM"
		if b.Arm64 {
			arch = "AArch64"
		}
		for _, want := range []string{"Image Type:   " + arch + " Linux Script (uncompressed)", "Data Size:    " + strconv.Itoa(len(img)-64) + " Bytes"} {
			if !strings.Contains(string(out), want) {
				t.Errorf("%s: mkimage -l lacks %q:\n%s", b.Name, want, out)
			}
		}
		// mkimage makes the same image from the same script and time.
		src := filepath.Join(dir, "boot.txt")
		os.WriteFile(src, []byte(text), 0o644)
		theirs := filepath.Join(dir, "theirs.scr")
		mkArch := "arm"
		if b.Arm64 {
			mkArch = "arm64"
		}
		cmd := exec.Command("mkimage", "-A", mkArch, "-O", "linux", "-T", "script", "-C", "none", "-n", "goleudy A/B boot", "-d", src, theirs)
		cmd.Env = append(os.Environ(), "SOURCE_DATE_EPOCH=1763683200")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("mkimage: %v\n%s", err, out)
		}
		if want, _ := os.ReadFile(theirs); string(want) != string(img) {
			t.Errorf("%s: boot.scr differs from mkimage's (%d and %d bytes)", b.Name, len(img), len(want))
		}
	}
}

// TestScriptText checks what the script must do, line by line, for each
// board: the state variables, save before load, the slot's partition,
// the boot command for the architecture, and the watchdog only on real
// hardware at the SoC's address.
func TestScriptText(t *testing.T) {
	for _, bc := range boards {
		for _, emulated := range []bool{false, true} {
			b := bc.board
			b.Emulated = emulated
			s := rpiboot.ScriptText(b)
			for _, want := range []string{"saveenv", `setenv A_TRY 1; setenv goleudy_part 2`, `setenv B_TRY 1; setenv goleudy_part 3`,
				"env import -t ${ramdisk_addr_r} ${filesize} bootargs", "load ${goleudy_from} ${fdt_addr_r} ${fdtfile}",
				`echo "` + rpiboot.BootLine + `${goleudy_slot}"`, "reset"} {
				if !strings.Contains(s, want) {
					t.Errorf("%s: script lacks %q", b.Name, want)
				}
			}
			if strings.Index(s, "saveenv") > strings.Index(s, "load ${goleudy_from}") {
				t.Errorf("%s: the trial is saved after the slot is loaded", b.Name)
			}
			boot := "bootz "
			if b.Arm64 {
				boot = "booti "
			}
			if !strings.Contains(s, boot+"${kernel_addr_r} ${goleudy_initrd} ${goleudy_fdt}") {
				t.Errorf("%s: script does not boot with %s", b.Name, boot)
			}
			wdog := strings.Contains(s, "mw.l ${goleudy_rstc} 0x5a000020")
			if wdog == emulated {
				t.Errorf("%s emulated=%v: watchdog armed %v", b.Name, emulated, wdog)
			}
			if !emulated {
				base := "0x20100000"
				if b.Arm64 {
					base = "0x3f100000"
					if !strings.Contains(s, "0xfe100000") {
						t.Errorf("%s: no Pi 4 watchdog address", b.Name)
					}
				}
				if !strings.Contains(s, "setenv goleudy_pm "+base) {
					t.Errorf("%s: watchdog base is not %s", b.Name, base)
				}
			}
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
		}
		kernel := grubtest.Contents(t, grubtest.CachedGlob(t, bc.kernel))
		for _, dtb := range b.DTBs {
			found := false
			for p := range kernel {
				if rest, ok := strings.CutPrefix(p, "usr/lib/linux-image-"); ok && strings.HasSuffix(rest, "/"+dtb) && strings.Count(rest, "/") == strings.Count(dtb, "/")+1 {
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
	if len(legacy) != 3 || len(pi4) != 2 || path.Base(legacy[0].Source) != "bootcode.bin" {
		t.Errorf("legacy %v, pi4 %v", legacy, pi4)
	}
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
		{"pi4 on 32-bit", func(b *rpiboot.Board) { b.Arm64 = false; b.DTBs = []string{"x.dtb"} }, "needs Arm64"},
		{"dtb without dir", func(b *rpiboot.Board) { b.DTBs = []string{"bcm2837-rpi-3-b.dtb"} }, "want broadcom/NAME.dtb"},
		{"no dtbs", func(b *rpiboot.Board) { b.DTBs = nil }, "no DTBs"},
		{"no console", func(b *rpiboot.Board) { b.Consoles = nil }, "no console"},
		{"space in arg", func(b *rpiboot.Board) { b.Cmdline = []string{"a b"} }, "without spaces"},
		{"dollar in arg", func(b *rpiboot.Board) { b.Cmdline = []string{"a=${x}"} }, "'$'"},
		{"slot in extras", func(b *rpiboot.Board) { b.Cmdline = []string{"goleudy.slot=B"} }, "set by rpiboot"},
	} {
		b := good
		tc.edit(&b)
		if _, err := rpiboot.SlotFiles(b, rpiboot.A); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error with %q", tc.name, err, tc.want)
		}
		if _, err := rpiboot.BootFiles(b, time.Time{}); err == nil {
			t.Errorf("%s: BootFiles accepted it", tc.name)
		}
	}
}

func TestParseScriptImageErrors(t *testing.T) {
	img, _ := rpiboot.ScriptImage("echo hi\n", true, time.Unix(0, 0))
	for _, tc := range []struct {
		name string
		edit func([]byte) []byte
		want string
	}{
		{"short", func(b []byte) []byte { return b[:20] }, "shorter than a header"},
		{"magic", func(b []byte) []byte { b[0] = 0; return b }, "magic"},
		{"header crc", func(b []byte) []byte { b[40] ^= 1; return b }, "header CRC"},
		{"data crc", func(b []byte) []byte { b[len(b)-1] ^= 1; return b }, "data CRC"},
		{"truncated", func(b []byte) []byte { return b[:len(b)-1] }, "data bytes"},
	} {
		if _, err := rpiboot.ParseScriptImage(tc.edit(slices.Clone(img))); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
	if _, err := rpiboot.ScriptImage("", false, time.Time{}); err == nil {
		t.Error("empty script accepted")
	}
}

func FuzzParseScriptImage(f *testing.F) {
	img, _ := rpiboot.ScriptImage("echo hi\n", false, time.Unix(0, 0))
	f.Add(img)
	f.Fuzz(func(t *testing.T, b []byte) {
		text, err := rpiboot.ParseScriptImage(b)
		if err != nil {
			return
		}
		again, err := rpiboot.ScriptImage(text, b[29] == 22, time.Unix(0, 0))
		if err != nil {
			t.Fatal(err)
		}
		if back, err := rpiboot.ParseScriptImage(again); err != nil || back != text {
			t.Fatalf("round trip: %v", err)
		}
	})
}

func FuzzParseConfig(f *testing.F) {
	cfg, _ := rpiboot.ConfigTxt(boards[1].board)
	f.Add(cfg)
	f.Add([]byte("[pi4]\nkernel=x\ninitramfs a b\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		secs, err := rpiboot.ParseConfig(data)
		if err != nil {
			return
		}
		if len(secs) == 0 || secs[0].Filter != "all" {
			t.Fatalf("sections %v", secs)
		}
	})
}

// TestEnv checks the first uboot.env: a whole block U-Boot will take,
// that runs boot.scr at once with no USB and no wait, and a fresh A/B
// state.
func TestEnv(t *testing.T) {
	for _, bc := range boards {
		files, err := rpiboot.BootFiles(bc.board, time.Unix(0, 0))
		if err != nil {
			t.Fatal(err)
		}
		i := slices.IndexFunc(files, func(f rpiboot.File) bool { return f.Path == rpiboot.EnvFile })
		if i < 0 {
			t.Fatalf("%s: no %s", bc.board.Name, rpiboot.EnvFile)
		}
		env, err := ubootenv.Parse(files[i].Data)
		if err != nil || len(files[i].Data) != rpiboot.EnvSize {
			t.Fatalf("%s: %d bytes: %v", bc.board.Name, len(files[i].Data), err)
		}
		for name, want := range map[string]string{"bootdelay": "-2", "stdin": "serial", "ORDER": "A B", "A_OK": "1", "B_OK": "1", "A_TRY": "0"} {
			if v, _ := env.Get(name); v != want {
				t.Errorf("%s: %s=%q, want %q", bc.board.Name, name, v, want)
			}
		}
		if v, _ := env.Get("bootcmd"); !strings.Contains(v, rpiboot.Script) || !strings.Contains(v, "source") {
			t.Errorf("%s: bootcmd %q does not source %s", bc.board.Name, v, rpiboot.Script)
		}
		if _, ok := env.Get("preboot"); ok {
			t.Errorf("%s: preboot set", bc.board.Name)
		}
		st, err := grub.StateFromEnv(&env)
		if err != nil || st != grub.Fresh(grub.A, grub.A, grub.B) {
			t.Errorf("%s: state %s %v", bc.board.Name, st, err)
		}
	}
}
