package rpiboot

import (
	"fmt"
	"path"
	"slices"
	"strings"
	"time"
)

// Slot is an A/B slot.
type Slot string

// The slots, on partitions 2 and 3.
const (
	A Slot = "A"
	B Slot = "B"
)

// Partition is the slot's MBR partition number.
func (s Slot) Partition() int {
	if s == B {
		return 3
	}
	return 2
}

// Family is a generation of Pi boot firmware.
type Family string

// The families.
const (
	// Legacy: Pi 0, 1, 2, 3 and Zero 2. The ROM loads bootcode.bin, then
	// start.elf and fixup.dat.
	Legacy Family = "legacy"
	// Pi4: Pi 4, 400, CM4. The EEPROM bootloader loads start4.elf and
	// fixup4.dat.
	Pi4 Family = "pi4"
)

// Board is what the Pi boot files need from a board definition.
type Board struct {
	Name     string
	Arm64    bool     // arm_64bit=1, and U-Boot boots the kernel with booti (else bootz)
	Families []Family // firmware generations the board's models need
	// DTBs are the device trees, as paths under the kernel package's DTB
	// directory and as U-Boot's fdtfile names them: "broadcom/NAME.dtb" on
	// arm64, "NAME.dtb" on 32-bit ARM. Each slot holds them at those
	// paths; partition 1 holds their basenames for the firmware.
	DTBs     []string
	Consoles []string // console= values; the last is /dev/console
	Cmdline  []string // board extras for the kernel command line
	// Emulated leaves out what QEMU's raspi machines get wrong: arming the
	// SoC watchdog, which resets them at once.
	Emulated bool
}

// Names of the files in a slot.
const (
	Kernel   = "vmlinuz"      // arm64 Image or 32-bit zImage, uncompressed as booti and bootz want
	Initrd   = "initrd.img"   // gzip cpio, raw (U-Boot's SUPPORT_RAW_INITRD)
	Bootargs = "bootargs.txt" // bootargs=..., imported by the boot script
)

// Names of the files on partition 1.
const (
	Config  = "config.txt" // the firmware's: load U-Boot
	UBoot   = "u-boot.bin" // from Debian's u-boot-rpi
	Script  = "boot.scr"   // the A/B boot script, as a U-Boot script image
	EnvFile = "uboot.env"  // U-Boot's saved environment: the A/B state
)

// FirmwareDir is where raspi-firmware keeps the boot files.
const FirmwareDir = "usr/lib/raspi-firmware"

// FirmwareFile is a file from Debian's raspi-firmware package and where
// the image builder puts it on partition 1.
type FirmwareFile struct {
	Source string // path inside the package, e.g. usr/lib/raspi-firmware/start.elf
	Path   string // path on partition 1
}

// Firmware lists the firmware files the board's families need.
func Firmware(b Board) []FirmwareFile {
	var files []FirmwareFile
	add := func(names ...string) {
		for _, n := range names {
			files = append(files, FirmwareFile{Source: path.Join(FirmwareDir, n), Path: n})
		}
	}
	if slices.Contains(b.Families, Legacy) {
		add("bootcode.bin", "start.elf", "fixup.dat")
	}
	if slices.Contains(b.Families, Pi4) {
		add("start4.elf", "fixup4.dat")
	}
	return files
}

// SlotNames lists every file a slot holds, besides slot.json: the kernel,
// initramfs, bootargs and DTBs.
func SlotNames(b Board) []string {
	names := append([]string{Bootargs, Kernel, Initrd}, b.DTBs...)
	slices.Sort(names)
	return slices.Compact(names)
}

// Validate reports the first field the firmware, U-Boot or the kernel
// could not use.
func (b Board) Validate() error {
	if len(b.Families) == 0 {
		return fmt.Errorf("rpiboot: board %q: no firmware family", b.Name)
	}
	for _, f := range b.Families {
		if f != Legacy && f != Pi4 {
			return fmt.Errorf("rpiboot: board %q: family %q: want %q or %q", b.Name, f, Legacy, Pi4)
		}
	}
	if slices.Contains(b.Families, Pi4) && !b.Arm64 {
		return fmt.Errorf("rpiboot: board %q: family %q needs Arm64 (one U-Boot for Pi 3 and 4)", b.Name, Pi4)
	}
	if len(b.DTBs) == 0 {
		return fmt.Errorf("rpiboot: board %q: no DTBs", b.Name)
	}
	for i, d := range b.DTBs {
		dir, base := path.Split(d)
		wantDir := ""
		if b.Arm64 {
			wantDir = "broadcom/"
		}
		if dir != wantDir || base == "" || strings.ContainsAny(base, " \t\n\"'") || !strings.HasSuffix(base, ".dtb") {
			return fmt.Errorf("rpiboot: board %q: DTBs[%d] %q: want %sNAME.dtb, as U-Boot's fdtfile names it", b.Name, i, d, wantDir)
		}
	}
	if len(b.Consoles) == 0 {
		return fmt.Errorf("rpiboot: board %q: no console", b.Name)
	}
	for _, list := range []struct {
		field string
		args  []string
	}{{"Consoles", b.Consoles}, {"Cmdline", b.Cmdline}} {
		for i, a := range list.args {
			if a == "" || strings.ContainsAny(a, " \t\n\"'$;\\") {
				return fmt.Errorf("rpiboot: board %q: %s[%d] %q: one kernel argument without spaces, quotes, '$', ';' or '\\'", b.Name, list.field, i, a)
			}
			if list.field == "Cmdline" && (strings.HasPrefix(a, "goleudy.slot=") || strings.HasPrefix(a, "console=")) {
				return fmt.Errorf("rpiboot: board %q: Cmdline[%d] %q: set by rpiboot, not as an extra", b.Name, i, a)
			}
		}
	}
	return nil
}

// ConfigTxt returns partition 1's config.txt: the firmware loads U-Boot
// as the kernel, with the mainline device tree for the model.
func ConfigTxt(b Board) ([]byte, error) {
	if err := b.Validate(); err != nil {
		return nil, err
	}
	var w strings.Builder
	fmt.Fprintf(&w, "# goleudy %s, generated by image/rpiboot. The firmware starts U-Boot,\n", b.Name)
	fmt.Fprintf(&w, "# whose %s picks slot A or B; the kernels live in the slots.\n", Script)
	w.WriteString("[all]\n")
	if b.Arm64 {
		w.WriteString("arm_64bit=1\n")
	}
	fmt.Fprintf(&w, "kernel=%s\n", UBoot)
	// The serial console: on models with Bluetooth this enables the mini
	// UART on GPIO 14/15 (ttyS1 under mainline device trees) with a fixed
	// core clock; on the others the PL011 (ttyAMA0) is there already.
	w.WriteString("enable_uart=1\n")
	// Debian's kernels and U-Boot use mainline device trees
	// (bcm2837-rpi-3-b.dtb, not the Raspberry Pi kernel's
	// bcm2710-rpi-3-b.dtb); with upstream_kernel=1 the firmware picks
	// those names, and hands the tree to U-Boot.
	w.WriteString("upstream_kernel=1\n")
	w.WriteString("os_check=0\n")
	w.WriteString("disable_splash=1\n")
	return []byte(w.String()), nil
}

// BootargsTxt returns a slot's bootargs.txt: the kernel command line as
// one U-Boot variable, with the consoles, goleudy.slot and the board's
// extras.
func BootargsTxt(b Board, s Slot) ([]byte, error) {
	if err := b.Validate(); err != nil {
		return nil, err
	}
	var args []string
	for _, c := range b.Consoles {
		args = append(args, "console="+c)
	}
	args = append(args, "goleudy.slot="+string(s))
	args = append(args, b.Cmdline...)
	return []byte("bootargs=" + strings.Join(args, " ") + "\n"), nil
}

// File is a generated file and its path in a partition.
type File struct {
	Path string
	Data []byte
}

// SlotFiles returns the generated files of a slot: bootargs.txt.
func SlotFiles(b Board, s Slot) ([]File, error) {
	args, err := BootargsTxt(b, s)
	if err != nil {
		return nil, err
	}
	return []File{{Bootargs, args}}, nil
}

// BootFiles returns the generated files of partition 1: config.txt,
// boot.scr, stamped with mtime, and the first uboot.env. U-Boot itself,
// the firmware and the DTBs come from Debian's packages.
func BootFiles(b Board, mtime time.Time) ([]File, error) {
	cfg, err := ConfigTxt(b)
	if err != nil {
		return nil, err
	}
	img, err := ScriptImage(ScriptText(b), b.Arm64, mtime)
	if err != nil {
		return nil, err
	}
	env, err := Env(b)
	if err != nil {
		return nil, err
	}
	block, err := env.Encode()
	if err != nil {
		return nil, err
	}
	return []File{{Config, cfg}, {Script, img}, {EnvFile, block}}, nil
}
