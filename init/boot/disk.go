package boot

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/goleudy/goleudy/services/clock"
)

// Partitions are found by label, never by device name: the same image
// boots from mmcblk0 on a Pi, sda on a BRIX and vda under QEMU, and USB
// storage may enumerate in any order. The kernel has already parsed the
// partition table and names each GPT partition in its uevent (PARTNAME),
// so reading sysfs is enough; filesystem labels come from the superblock,
// which also covers MBR disks and whole-disk filesystems, and an
// unformatted data partition is known by the image builder's marker.

// ErrNoDevice is returned when no block device carries the label.
var ErrNoDevice = errors.New("no block device with that label")

// Disks finds block devices through sysfs and reads them through their
// device nodes. The zero value uses /sys and /dev; tests point it at a
// fake sysfs tree whose devices are plain files or loop devices.
type Disks struct {
	Sys string // sysfs; "" is /sys
	Dev string // device nodes; "" is /dev
}

// BlockDevice is one disk or partition.
type BlockDevice struct {
	Name      string // the kernel's name: vda1, mmcblk0p2
	Path      string // the device node
	Partition bool
	PartName  string // the GPT partition name, if any
	Size      int64  // bytes
	FS        Filesystem
}

func (b BlockDevice) String() string {
	s := b.Name
	if b.PartName != "" {
		s += fmt.Sprintf(" partlabel=%q", b.PartName)
	}
	if b.FS.Type != "" {
		s += fmt.Sprintf(" %s label=%q", b.FS.Type, b.FS.Label)
	}
	return s
}

func (d Disks) sys() string {
	if d.Sys == "" {
		return "/sys"
	}
	return d.Sys
}

func (d Disks) dev() string {
	if d.Dev == "" {
		return "/dev"
	}
	return d.Dev
}

// List returns every block device with a size, sorted by name, with its
// filesystem probed. A device that cannot be read (an empty card reader)
// is listed with no filesystem.
func (d Disks) List() ([]BlockDevice, error) {
	dir := filepath.Join(d.sys(), "class", "block")
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("boot: list block devices: %w", err)
	}
	var devs []BlockDevice
	for _, e := range entries {
		b, ok := d.device(filepath.Join(dir, e.Name()), e.Name())
		if ok {
			devs = append(devs, b)
		}
	}
	slices.SortFunc(devs, func(a, b BlockDevice) int { return strings.Compare(a.Name, b.Name) })
	return devs, nil
}

func (d Disks) device(sysdir, name string) (BlockDevice, bool) {
	text, err := os.ReadFile(filepath.Join(sysdir, "uevent"))
	if err != nil {
		return BlockDevice{}, false
	}
	ev := ParseUevent(string(text))
	b := BlockDevice{Name: name, Partition: ev["DEVTYPE"] == "partition", PartName: ev["PARTNAME"]}
	devname := ev["DEVNAME"]
	if devname == "" || strings.Contains(devname, "..") {
		devname = name
	}
	b.Path = filepath.Join(d.dev(), devname)
	sectors, err := os.ReadFile(filepath.Join(sysdir, "size"))
	if err != nil {
		return BlockDevice{}, false
	}
	n, err := strconv.ParseInt(strings.TrimSpace(string(sectors)), 10, 64)
	if err != nil || n <= 0 {
		// Loop devices with no file, empty card readers.
		return BlockDevice{}, false
	}
	b.Size = n * 512 // sysfs counts 512-byte sectors whatever the device's
	if f, err := os.Open(b.Path); err == nil {
		b.FS, _ = ProbeFilesystem(f)
		f.Close()
	}
	return b, true
}

// ParseUevent parses a sysfs uevent file: KEY=VALUE lines. Lines without
// '=' are ignored, as udev does.
func ParseUevent(text string) map[string]string {
	m := map[string]string{}
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), "="); ok && k != "" {
			m[k] = v
		}
	}
	return m
}

// Find returns the devices labelled label, best first: GPT partition
// names before filesystem labels, then by name. Labels are compared as
// FAT stores them, without case. More than one means someone plugged in a
// disk from another node; the caller takes the first and says so.
func (d Disks) Find(label string) ([]BlockDevice, error) {
	if label == "" {
		return nil, fmt.Errorf("boot: find block device: empty label")
	}
	devs, err := d.List()
	if err != nil {
		return nil, err
	}
	var byPart, byFS []BlockDevice
	for _, b := range devs {
		switch {
		case strings.EqualFold(b.PartName, label):
			byPart = append(byPart, b)
		case fsLabelMatches(b.FS.Type, b.FS.Label, label):
			byFS = append(byFS, b)
		}
	}
	if found := append(byPart, byFS...); len(found) > 0 {
		return found, nil
	}
	seen := make([]string, len(devs))
	for i, b := range devs {
		seen[i] = b.String()
	}
	return nil, fmt.Errorf("boot: %w %q (seen: %s)", ErrNoDevice, label, strings.Join(seen, "; "))
}

// fsLabelMatches reports whether a filesystem of type fstype labelled
// have is the one labelled want. A FAT label has at most 11 bytes, so on
// an MBR disk, where there is no GPT partition name to go by, the image
// builder labels GOLEUDY-BOOT's volume GOLEUDYBOOT and GOLEUDY-A's
// GOLEUDY_A; a FAT volume labelled by truncation (GOLEUDY-BOO) matches
// too.
func fsLabelMatches(fstype, have, want string) bool {
	if have == "" {
		return false
	}
	if fstype != "vfat" {
		return strings.EqualFold(have, want)
	}
	for _, w := range []string{want, strings.ReplaceAll(want, "-", ""), strings.ReplaceAll(want, "-", "_")} {
		if len(w) > 11 {
			w = w[:11]
		}
		if strings.EqualFold(have, w) {
			return true
		}
	}
	return false
}

// pollInterval is how often Wait looks again for a device that has not
// appeared yet.
const pollInterval = 100 * time.Millisecond

// Wait is Find, trying again until the device appears or wait has passed.
// At boot, storage drivers (USB, MMC) probe in parallel with init, so a
// device may appear a second or two after PID 1 starts.
func (d Disks) Wait(ctx context.Context, clk clock.Clock, label string, wait time.Duration) ([]BlockDevice, error) {
	deadline := clk.Now().Add(wait)
	for {
		found, err := d.Find(label)
		if err == nil || !errors.Is(err, ErrNoDevice) || !clk.Now().Before(deadline) {
			return found, err
		}
		t := clk.NewTimer(pollInterval)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, fmt.Errorf("%w (%w)", err, ctx.Err())
		case <-t.C():
		}
	}
}

// Sibling is partition n of the disk that holds the partition part (its
// kernel name, such as vda1 or mmcblk0p1, or its device path). The
// update agent finds the slots this way, by their number beside the boot
// partition: a label can be wrong on a slot that was being written.
func (d Disks) Sibling(part string, n int) (BlockDevice, error) {
	name := filepath.Base(part)
	dir := filepath.Join(d.sys(), "class", "block")
	text, err := os.ReadFile(filepath.Join(dir, name, "uevent"))
	if err != nil {
		return BlockDevice{}, fmt.Errorf("boot: partition %d beside %s: %w", n, name, err)
	}
	num := ParseUevent(string(text))["PARTN"]
	prefix, ok := strings.CutSuffix(name, num)
	if num == "" || !ok || prefix == "" {
		return BlockDevice{}, fmt.Errorf("boot: partition %d beside %s: %s is not a numbered partition", n, name, name)
	}
	sib := prefix + strconv.Itoa(n)
	b, ok := d.device(filepath.Join(dir, sib), sib)
	if !ok {
		return BlockDevice{}, fmt.Errorf("boot: partition %d beside %s: %w %s", n, name, ErrNoDevice, sib)
	}
	text, _ = os.ReadFile(filepath.Join(dir, sib, "uevent"))
	if got := ParseUevent(string(text))["PARTN"]; got != strconv.Itoa(n) || !b.Partition {
		return BlockDevice{}, fmt.Errorf("boot: partition %d beside %s: %s is partition %q", n, name, sib, got)
	}
	return b, nil
}
