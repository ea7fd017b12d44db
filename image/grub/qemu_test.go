package grub_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/goleudy/goleudy/image/grub"
	"github.com/goleudy/goleudy/image/grub/grubtest"
	"github.com/goleudy/goleudy/tools/lab"
)

// machine is a firmware and disk layout an x86 board boots with.
type machine struct {
	name    string
	qemu    lab.Tool
	table   string
	uefi    bool
	args    []string
	partFmt string // how GRUB names partition N of the disk
}

const ovmf = "/usr/share/ovmf/OVMF.fd"

var machines = []machine{
	// fitpc2i: 32-bit, legacy BIOS, MBR.
	{name: "seabios-mbr-i386", qemu: lab.Tool{Name: "qemu-system-i386", Package: "qemu-system-x86"}, table: "mbr", partFmt: "(hd0,msdos%d)"},
	// vps booted by SeaBIOS: GPT with a BIOS boot partition.
	{name: "seabios-gpt", qemu: lab.Tool{Name: "qemu-system-x86_64", Package: "qemu-system-x86"}, table: "gpt", partFmt: "(hd0,gpt%d)"},
	// brix, and vps booted by OVMF: GPT, BOOTX64.EFI on the ESP.
	{name: "ovmf-gpt", qemu: lab.Tool{Name: "qemu-system-x86_64", Package: "qemu-system-x86"}, table: "gpt", uefi: true,
		args: []string{"-bios", ovmf}, partFmt: "(hd0,gpt%d)"},
}

func testConfig(table string) grub.Config {
	fallback := "(hd0,msdos1)"
	if table == "gpt" {
		fallback = "(hd0,gpt1)"
	}
	return grub.Config{
		BIOSFallback: fallback,
		Serial:       grub.SerialFromConsole("ttyS0,115200"),
		Console:      []string{"ttyS0,115200"},
		Cmdline:      []string{"panic=10"},
		DryRun:       true,
	}
}

// TestABFallbackQEMU boots real GRUB images under QEMU (software
// emulation) with SeaBIOS and OVMF and walks the A/B boot counter through
// a trial that never commits. grub.cfg is the production one in dry-run
// mode: it chooses, saves and finds the slot, prints the kernel command
// line and reboots instead of loading a kernel. After every boot the test
// reads grubenv back from the disk and checks it against State.Next.
func TestABFallbackQEMU(t *testing.T) {
	tc := grubtest.Toolchain(t)
	for _, m := range machines {
		t.Run(m.name, func(t *testing.T) {
			t.Parallel()
			lab.Require(t, m.qemu)
			if m.uefi {
				if _, err := os.Stat(ovmf); err != nil {
					t.Fatalf("%s: %v: apt-get install ovmf", ovmf, err)
				}
			}
			ctx := context.Background()
			cfg := testConfig(m.table)
			grubCfg, err := cfg.GrubCfg()
			if err != nil {
				t.Fatal(err)
			}
			env, err := grub.Fresh(grub.A, grub.A, grub.B).Encode()
			if err != nil {
				t.Fatal(err)
			}
			files := map[string][]byte{grub.CfgPath: grubCfg, grub.EnvPath: env}
			if m.uefi {
				efi, err := tc.BuildEFI(ctx, cfg)
				if err != nil {
					t.Fatal(err)
				}
				files[grub.EFIPath] = efi
			}
			d := makeDisk(t, m.table, files)
			if !m.uefi {
				imgs, err := tc.BuildBIOS(ctx, cfg)
				if err != nil {
					t.Fatal(err)
				}
				f, err := os.OpenFile(d.path, os.O_RDWR, 0)
				if err != nil {
					t.Fatal(err)
				}
				pl, err := grub.InstallBIOS(f, imgs)
				if cerr := f.Close(); err == nil {
					err = cerr
				}
				if err != nil {
					t.Fatal(err)
				}
				t.Logf("core.img: %d sectors at LBA %d (%s, room %d)", pl.CoreSectors, pl.CoreSector, pl.Table, pl.Room)
			}

			steps := []struct {
				name string
				edit func(*grub.State) // what the node (here the test) writes before the boot
				want grub.Slot
			}{
				{"fresh image boots A", nil, grub.A},
				{"A commits, an update puts B on trial: B boots", func(s *grub.State) { s.Commit(grub.A); s.Trial(grub.B) }, grub.B},
				{"B never commits: A boots by itself", nil, grub.A},
				{"B_TRY=0 written (B commits): B boots again", func(s *grub.State) { s.Try[1] = false }, grub.B},
				{"both on trial: flags cleared, first in ORDER boots", nil, grub.B},
			}
			for i, step := range steps {
				before := readState(t, d)
				if step.edit != nil {
					step.edit(&before)
					block, err := before.Encode()
					if err != nil {
						t.Fatal(err)
					}
					d.put(t, bootStart, grub.EnvPath, block)
				}
				wantSlot, wantState := before.Next()
				if wantSlot != step.want {
					t.Fatalf("step %d (%s): the Go model boots %s from %s, the test expects %s", i+1, step.name, wantSlot, before, step.want)
				}
				start := time.Now()
				serial := bootOnce(t, m, d.path)
				got := bootedSlot(serial)
				t.Logf("step %d (%s): %s -> booted %q in %v", i+1, step.name, before, got, time.Since(start).Round(time.Millisecond))
				if got != step.want {
					t.Fatalf("step %d (%s): booted %q, want %s; serial console:\n%s", i+1, step.name, got, step.want, serial)
				}
				part := 2
				if got == grub.B {
					part = 3
				}
				if want := "from " + strings.Replace(m.partFmt, "%d", string(rune('0'+part)), 1); !strings.Contains(serial, want) {
					t.Errorf("step %d: slot %s not found on partition %d (%q); serial console:\n%s", i+1, got, part, want, serial)
				}
				if want := "console=ttyS0,115200 goleudy.slot=" + string(got) + " panic=10"; !strings.Contains(flatten(serial), want) {
					t.Errorf("step %d: kernel command line lacks %q; serial console:\n%s", i+1, want, serial)
				}
				if after := readState(t, d); after != wantState {
					t.Fatalf("step %d (%s): grubenv after boot is %s, the Go model says %s", i+1, step.name, after, wantState)
				}
			}
		})
	}
}

var bootLine = regexp.MustCompile(regexp.QuoteMeta(grub.BootLine) + `([AB]) `)

// bootedSlot returns the slot grub.cfg announced, or "" if it announced
// none or two different ones. (OVMF's console is the serial port too, so
// GRUB's lines may appear twice.)
func bootedSlot(serial string) grub.Slot {
	got := grub.Slot("")
	for _, m := range bootLine.FindAllStringSubmatch(serial, -1) {
		if got != "" && got != grub.Slot(m[1]) {
			return ""
		}
		got = grub.Slot(m[1])
	}
	return got
}

var ansi = regexp.MustCompile(`\x1b\[[0-9;=?]*[A-Za-z]`)

// flatten removes terminal escapes and the line breaks GRUB's terminal
// inserts at 80 columns, so a long kernel command line can be searched.
func flatten(serial string) string {
	s := ansi.ReplaceAllString(serial, "")
	return strings.Join(strings.Fields(s), " ")
}

func readState(t *testing.T, d testDisk) grub.State {
	t.Helper()
	st, err := grub.DecodeState(d.get(t, grub.EnvPath))
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// bootOnce starts QEMU on the disk and waits for GRUB's reboot, which
// -no-reboot turns into QEMU's exit. It returns the serial console.
func bootOnce(t *testing.T, m machine, disk string) string {
	t.Helper()
	qemu, err := m.qemu.Path()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	serial := filepath.Join(t.TempDir(), "serial.log")
	args := []string{
		"-M", "pc", "-m", "256", "-display", "none", "-monitor", "none", "-nic", "none",
		"-no-reboot", "-serial", "file:" + serial,
		"-drive", "file=" + disk + ",format=raw,if=ide",
	}
	args = append(args, m.args...)
	cmd := exec.CommandContext(ctx, qemu, args...)
	cmd.WaitDelay = 5 * time.Second
	out, err := cmd.CombinedOutput()
	console, _ := os.ReadFile(serial)
	if ctx.Err() != nil {
		t.Fatalf("%s: no reboot within the timeout; serial console:\n%s", m.name, console)
	}
	if err != nil {
		t.Fatalf("%s: %v: %s; serial console:\n%s", m.name, err, out, console)
	}
	return string(console)
}
