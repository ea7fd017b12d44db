package rpiboot

import (
	"fmt"
	"path"
	"slices"
	"strings"
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

// Other returns the other slot.
func (s Slot) Other() Slot {
	if s == B {
		return A
	}
	return B
}

// ParseSlot reads "A" or "B", as the node finds it in goleudy.slot=.
func ParseSlot(v string) (Slot, error) {
	switch Slot(v) {
	case A, B:
		return Slot(v), nil
	}
	return "", fmt.Errorf("rpiboot: slot %q: want A or B", v)
}

// Family is a generation of Pi boot firmware.
type Family string

// The families.
const (
	// Legacy: Pi 0, 1, 2, 3 and Zero 2. The ROM loads bootcode.bin from
	// partition 1; it loads start.elf and fixup.dat from the slot.
	Legacy Family = "legacy"
	// Pi4: Pi 4, 400, CM4. The EEPROM bootloader loads start4.elf and
	// fixup4.dat from the slot.
	Pi4 Family = "pi4"
)

// DeviceTree pins the DTB the firmware loads on the models a config.txt
// filter ([pi4], [pi0w] ...) selects.
type DeviceTree struct {
	Filter string // without brackets
	File   string // a DTB in the slot
}

// Board is what the Pi boot files need from a board definition.
type Board struct {
	Name     string
	Arm64    bool         // arm_64bit=1: start the kernel in AArch64 state
	Families []Family     // firmware generations the board's models need
	DTBs     []string     // DTB basenames the image builder copies into each slot
	Pins     []DeviceTree // explicit device_tree= per model; other models get the firmware's choice
	Consoles []string     // console= values; the last is /dev/console
	Cmdline  []string     // board extras for the kernel command line
}

// Names of the files in a slot.
const (
	Kernel  = "vmlinuz"
	Initrd  = "initrd.img"
	Config  = "config.txt"
	TryBoot = "tryboot.txt"
	Cmdline = "cmdline.txt"
)

// Paths on partition 1.
const AutobootPath = "autoboot.txt"

// FirmwareDir is where raspi-firmware keeps the boot files.
const FirmwareDir = "usr/lib/raspi-firmware"

// FirmwareFile is a file from Debian's raspi-firmware package and where
// the image builder puts it.
type FirmwareFile struct {
	Source string // path inside the package, e.g. usr/lib/raspi-firmware/start.elf
	Boot   bool   // true: on partition 1; false: in every slot
	Path   string // path in that partition
}

// Firmware lists the firmware files the board's families need.
func Firmware(b Board) []FirmwareFile {
	var files []FirmwareFile
	add := func(name string, boot bool) {
		files = append(files, FirmwareFile{Source: path.Join(FirmwareDir, name), Boot: boot, Path: name})
	}
	if slices.Contains(b.Families, Legacy) {
		add("bootcode.bin", true)
		add("start.elf", false)
		add("fixup.dat", false)
	}
	if slices.Contains(b.Families, Pi4) {
		add("start4.elf", false)
		add("fixup4.dat", false)
	}
	return files
}

// SlotNames lists every file a slot holds, besides slot.json: the
// firmware, the generated configs, the kernel, initramfs and DTBs.
func SlotNames(b Board) []string {
	names := []string{Config, TryBoot, Cmdline, Kernel, Initrd}
	for _, f := range Firmware(b) {
		if !f.Boot {
			names = append(names, f.Path)
		}
	}
	names = append(names, b.DTBs...)
	slices.Sort(names)
	return slices.Compact(names)
}

// Validate reports the first field the firmware or kernel could not use.
func (b Board) Validate() error {
	if len(b.Families) == 0 {
		return fmt.Errorf("rpiboot: board %q: no firmware family", b.Name)
	}
	for _, f := range b.Families {
		if f != Legacy && f != Pi4 {
			return fmt.Errorf("rpiboot: board %q: family %q: want %q or %q", b.Name, f, Legacy, Pi4)
		}
	}
	for i, d := range b.DTBs {
		if d == "" || strings.ContainsAny(d, "/ \t\n") || !strings.HasSuffix(d, ".dtb") {
			return fmt.Errorf("rpiboot: board %q: DTBs[%d] %q: want a .dtb basename", b.Name, i, d)
		}
	}
	for i, p := range b.Pins {
		if p.Filter == "" || strings.ContainsAny(p.Filter, "[] \t\n") {
			return fmt.Errorf("rpiboot: board %q: Pins[%d] filter %q", b.Name, i, p.Filter)
		}
		if !slices.Contains(b.DTBs, p.File) {
			return fmt.Errorf("rpiboot: board %q: Pins[%d] [%s] device_tree=%s is not in DTBs", b.Name, i, p.Filter, p.File)
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
			if a == "" || strings.ContainsAny(a, " \t\n\"'") {
				return fmt.Errorf("rpiboot: board %q: %s[%d] %q: one kernel argument without spaces or quotes", b.Name, list.field, i, a)
			}
			if list.field == "Cmdline" && (strings.HasPrefix(a, "goleudy.slot=") || strings.HasPrefix(a, "console=")) {
				return fmt.Errorf("rpiboot: board %q: Cmdline[%d] %q: set by rpiboot, not as an extra", b.Name, i, a)
			}
		}
	}
	return nil
}

// ConfigTxt returns a slot's config.txt.
func ConfigTxt(b Board, s Slot) ([]byte, error) {
	if err := b.Validate(); err != nil {
		return nil, err
	}
	var w strings.Builder
	fmt.Fprintf(&w, "# goleudy %s slot %s, generated by image/rpiboot.\n", b.Name, s)
	w.WriteString("# The firmware reads this on a normal boot and, with tryboot_a_b=1, on a trial.\n")
	w.WriteString("[all]\n")
	if b.Arm64 {
		w.WriteString("arm_64bit=1\n")
	}
	fmt.Fprintf(&w, "kernel=%s\n", Kernel)
	fmt.Fprintf(&w, "initramfs %s followkernel\n", Initrd)
	fmt.Fprintf(&w, "cmdline=%s\n", Cmdline)
	// The serial console: on models with Bluetooth this enables the mini
	// UART on GPIO 14/15 (ttyS1 under mainline device trees) with a fixed
	// core clock; on the others the PL011 (ttyAMA0) is there already.
	w.WriteString("enable_uart=1\n")
	// Debian's kernels use mainline device trees (bcm2837-rpi-3-b.dtb, not
	// the Raspberry Pi kernel's bcm2710-rpi-3-b.dtb).
	w.WriteString("upstream_kernel=1\n")
	w.WriteString("os_check=0\n")
	w.WriteString("disable_splash=1\n")
	for _, p := range b.Pins {
		fmt.Fprintf(&w, "[%s]\ndevice_tree=%s\n", p.Filter, p.File)
	}
	if len(b.Pins) > 0 {
		w.WriteString("[all]\n")
	}
	return []byte(w.String()), nil
}

// CmdlineTxt returns a slot's cmdline.txt: one line with the consoles,
// goleudy.slot and the board's extras.
func CmdlineTxt(b Board, s Slot) ([]byte, error) {
	if err := b.Validate(); err != nil {
		return nil, err
	}
	var args []string
	for _, c := range b.Consoles {
		args = append(args, "console="+c)
	}
	args = append(args, "goleudy.slot="+string(s))
	args = append(args, b.Cmdline...)
	return []byte(strings.Join(args, " ") + "\n"), nil
}

// File is a generated file and its path in a partition.
type File struct {
	Path string
	Data []byte
}

// SlotFiles returns the generated files of a slot: config.txt, tryboot.txt
// (the same bytes) and cmdline.txt.
func SlotFiles(b Board, s Slot) ([]File, error) {
	cfg, err := ConfigTxt(b, s)
	if err != nil {
		return nil, err
	}
	cmd, err := CmdlineTxt(b, s)
	if err != nil {
		return nil, err
	}
	return []File{{Config, cfg}, {TryBoot, cfg}, {Cmdline, cmd}}, nil
}
