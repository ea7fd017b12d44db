package grub

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Where things live on the boot partition.
const (
	Dir     = "/grub"                 // the prefix: grub.cfg and grubenv
	CfgPath = "/grub/grub.cfg"        // the generated config, Config.GrubCfg
	EnvPath = "/grub/grubenv"         // the environment block with the A/B state
	EFIPath = "/EFI/BOOT/BOOTX64.EFI" // where UEFI firmware looks on removable media and fresh disks
)

// Default FAT labels (11 characters at most) of the boot and slot
// partitions.
const (
	DefaultBootLabel = "GOLEUDYBOOT"
	DefaultLabelA    = "GOLEUDY_A"
	DefaultLabelB    = "GOLEUDY_B"
)

// Default paths of the kernel and initramfs inside a slot.
const (
	DefaultKernel = "/vmlinuz"
	DefaultInitrd = "/initrd.img"
)

// BootLine is what grub.cfg prints on the console just before it boots a
// slot, followed by the slot's letter; boot tests wait for it.
const BootLine = "goleudy-grub: booting slot "

// Config describes a board's GRUB setup. The zero value is valid: default
// labels, no serial console, no kernel console.
type Config struct {
	BootLabel string // FAT label of the boot partition; DefaultBootLabel if empty
	LabelA    string // FAT label of slot A; DefaultLabelA if empty
	LabelB    string // FAT label of slot B; DefaultLabelB if empty

	// BIOSFallback is the GRUB device of the boot partition used when the
	// label search fails on BIOS boards, e.g. "(hd0,msdos1)" or
	// "(hd0,gpt1)". Empty leaves it to GRUB. UEFI uses the partition
	// BOOTX64.EFI was loaded from.
	BIOSFallback string

	Serial  *Serial  // GRUB's own terminal on a serial port; nil: screen only
	Console []string // the kernel's console= values, e.g. "ttyS0,115200"; the last is /dev/console
	Cmdline []string // board extras for the kernel command line
	Kernel  string   // kernel path in a slot; DefaultKernel if empty
	Initrd  string   // initramfs path in a slot; DefaultInitrd if empty

	// DryRun makes grub.cfg run the whole A/B choice, find the slot and
	// print the kernel command line, then reboot instead of loading a
	// kernel. Tests of the boot counter use it.
	DryRun bool
}

// Serial is a serial port for GRUB's terminal.
type Serial struct {
	Unit  int // 0 is COM1 (ttyS0)
	Speed int // baud
}

// SerialFromConsole derives GRUB's serial terminal from a kernel console
// such as "ttyS0,115200" (speed 115200 if none is given). It returns nil
// for consoles that are not a PC serial port (tty1, ttyAMA0).
func SerialFromConsole(console string) *Serial {
	name, speed, _ := strings.Cut(console, ",")
	unit, ok := strings.CutPrefix(name, "ttyS")
	if !ok {
		return nil
	}
	u, err := strconv.Atoi(unit)
	if err != nil || u < 0 || u > 3 {
		return nil
	}
	s := &Serial{Unit: u, Speed: 115200}
	if speed != "" {
		digits := strings.TrimRight(speed, "nNeEoO5678") // 115200n8
		if v, err := strconv.Atoi(digits); err == nil && v > 0 {
			s.Speed = v
		}
	}
	return s
}

// Label returns the FAT label of a slot.
func (c Config) Label(s Slot) string {
	if s == B {
		return or(c.LabelB, DefaultLabelB)
	}
	return or(c.LabelA, DefaultLabelA)
}

func (c Config) bootLabel() string { return or(c.BootLabel, DefaultBootLabel) }

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// Validate reports the first field that GRUB or the kernel could not use
// as given. Everything here ends up unquoted in a GRUB script or on the
// kernel command line, so only plain characters are allowed.
func (c Config) Validate() error {
	for _, l := range []struct{ field, v string }{
		{"BootLabel", c.bootLabel()}, {"LabelA", c.Label(A)}, {"LabelB", c.Label(B)},
	} {
		if err := checkLabel(l.v); err != nil {
			return fmt.Errorf("grub: config: %s %q: %w", l.field, l.v, err)
		}
	}
	if c.Label(A) == c.Label(B) || c.Label(A) == c.bootLabel() || c.Label(B) == c.bootLabel() {
		return fmt.Errorf("grub: config: labels %q, %q and %q must differ", c.bootLabel(), c.Label(A), c.Label(B))
	}
	if c.BIOSFallback != "" && !isDevice(c.BIOSFallback) {
		return fmt.Errorf("grub: config: BIOSFallback %q: want a GRUB device such as (hd0,msdos1)", c.BIOSFallback)
	}
	if c.Serial != nil && (c.Serial.Unit < 0 || c.Serial.Unit > 3 || c.Serial.Speed <= 0) {
		return fmt.Errorf("grub: config: Serial %+v: unit must be 0..3 and speed positive", *c.Serial)
	}
	for i, v := range c.Console {
		if err := checkWord(v); err != nil {
			return fmt.Errorf("grub: config: Console[%d] %q: %w", i, v, err)
		}
	}
	for i, v := range c.Cmdline {
		if err := checkWord(v); err != nil {
			return fmt.Errorf("grub: config: Cmdline[%d] %q: %w", i, v, err)
		}
		if strings.HasPrefix(v, "goleudy.slot=") || strings.HasPrefix(v, "console=") {
			return fmt.Errorf("grub: config: Cmdline[%d] %q: set by grub.cfg or Console, not as an extra", i, v)
		}
	}
	for _, p := range []struct{ field, v string }{{"Kernel", c.kernel()}, {"Initrd", c.initrd()}} {
		if !strings.HasPrefix(p.v, "/") {
			return fmt.Errorf("grub: config: %s %q: must be an absolute path in the slot", p.field, p.v)
		}
		if err := checkWord(p.v); err != nil {
			return fmt.Errorf("grub: config: %s %q: %w", p.field, p.v, err)
		}
	}
	return nil
}

func (c Config) kernel() string { return or(c.Kernel, DefaultKernel) }
func (c Config) initrd() string { return or(c.Initrd, DefaultInitrd) }

func checkLabel(l string) error {
	if l == "" || len(l) > 11 {
		return errors.New("a FAT label is 1 to 11 characters")
	}
	for _, r := range l {
		if !(r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-') {
			return fmt.Errorf("character %q: use A-Z, 0-9, '_' and '-'", r)
		}
	}
	return nil
}

func checkWord(w string) error {
	if w == "" {
		return errors.New("empty")
	}
	for _, r := range w {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("._,:=/+@-", r)) {
			return fmt.Errorf("character %q: use letters, digits and ._,:=/+@-", r)
		}
	}
	return nil
}

func isDevice(d string) bool {
	inner, ok := strings.CutPrefix(d, "(")
	if !ok {
		return false
	}
	inner, ok = strings.CutSuffix(inner, ")")
	return ok && inner != "" && checkWord(inner) == nil
}

// prefix is grub-mkimage's -p: the fallback device and Dir.
func (c Config) prefix(p Platform) string {
	if p == BIOS {
		return c.BIOSFallback + Dir
	}
	return Dir
}

// Early returns the config embedded in the image. GRUB runs it with its
// rescue parser (simple commands, no comments, no conditionals) before
// normal mode loads $prefix/grub.cfg.
func (c Config) Early() (string, error) {
	if err := c.Validate(); err != nil {
		return "", err
	}
	var b strings.Builder
	c.terminal(&b)
	fmt.Fprintf(&b, "search --no-floppy --label --set=root %s\n", c.bootLabel())
	fmt.Fprintf(&b, "set prefix=($root)%s\n", Dir)
	return b.String(), nil
}

func (c Config) terminal(b *strings.Builder) {
	if c.Serial == nil {
		return
	}
	fmt.Fprintf(b, "serial --unit=%d --speed=%d\n", c.Serial.Unit, c.Serial.Speed)
	b.WriteString("terminal_input serial console\n")
	b.WriteString("terminal_output serial console\n")
}

// KernelArgs returns the kernel command line grub.cfg passes when it
// boots slot s: the consoles, goleudy.slot and the board's extras.
func (c Config) KernelArgs(s Slot) string {
	var args []string
	for _, con := range c.Console {
		args = append(args, "console="+con)
	}
	args = append(args, "goleudy.slot="+string(s))
	args = append(args, c.Cmdline...)
	return strings.Join(args, " ")
}

// GrubCfg returns grub.cfg: the A/B choice described in the package
// documentation, then the kernel and initramfs of the chosen slot, found
// by the slot's FAT label.
func (c Config) GrubCfg() ([]byte, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	var b strings.Builder
	b.WriteString("# goleudy grub.cfg, generated by image/grub: A/B boot with a boot counter.\n")
	b.WriteString("# The package documentation of image/grub describes ORDER, *_OK and *_TRY.\n")
	c.terminal(&b)
	b.WriteString(`
set ORDER="A B"
set A_OK=0
set B_OK=0
set A_TRY=0
set B_TRY=0
# Only these names are taken from grubenv, so nothing written there can
# change root, prefix or anything else GRUB uses.
load_env ORDER A_OK B_OK A_TRY B_TRY

set slot=
for s in $ORDER; do
  if [ "$s" = A -a "$A_OK" = 1 -a "$A_TRY" != 1 ]; then set slot=A; break; fi
  if [ "$s" = B -a "$B_OK" = 1 -a "$B_TRY" != 1 ]; then set slot=B; break; fi
done
if [ -z "$slot" ]; then
  echo "goleudy-grub: every bootable slot is on trial; clearing the trial flags"
  set A_TRY=0
  set B_TRY=0
  for s in $ORDER; do
    if [ "$s" = A -a "$A_OK" = 1 ]; then set slot=A; break; fi
    if [ "$s" = B -a "$B_OK" = 1 ]; then set slot=B; break; fi
  done
fi
if [ -z "$slot" ]; then
  echo "goleudy-grub: no slot is marked bootable; trying A"
  set slot=A
fi

# Mark the slot on trial before loading anything from it: a kernel that
# never reaches the node's commit leaves TRY=1, and the next boot takes
# the other slot.
if [ "$slot" = A ]; then set A_TRY=1; else set B_TRY=1; fi
save_env A_TRY B_TRY

`)
	fmt.Fprintf(&b, "if [ \"$slot\" = A ]; then set label=%s; else set label=%s; fi\n", c.Label(A), c.Label(B))
	b.WriteString("set slotroot=\n")
	b.WriteString("search --no-floppy --label --set=slotroot $label\n")
	b.WriteString(`echo "` + BootLine + `$slot from ($slotroot)"` + "\n")
	linux := fmt.Sprintf("linux ($slotroot)%s %s", c.kernel(), c.KernelArgs("$slot"))
	initrd := fmt.Sprintf("initrd ($slotroot)%s", c.initrd())
	if c.DryRun {
		b.WriteString("echo \"goleudy-grub: dry run: " + linux + "\"\n")
		b.WriteString("echo \"goleudy-grub: dry run: " + initrd + "\"\n")
		b.WriteString("echo \"goleudy-grub: dry run: rebooting\"\n")
		b.WriteString("reboot\n")
		return []byte(b.String()), nil
	}
	b.WriteString(linux + "\n")
	b.WriteString(initrd + "\n")
	b.WriteString("boot\n")
	b.WriteString(`echo "goleudy-grub: slot $slot did not boot; rebooting to try the other slot"` + "\n")
	b.WriteString("sleep 5\n")
	b.WriteString("reboot\n")
	return []byte(b.String()), nil
}
