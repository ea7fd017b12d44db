package boot

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/diskfs/go-diskfs/backend/file"
	"github.com/diskfs/go-diskfs/filesystem/ext4"

	"github.com/goleudy/goleudy/image/disk"
	"github.com/goleudy/goleudy/services/clock"
)

// The data partition holds what lets a node fail static across a reboot:
// its last good signed config and its transferred zones. Losing it costs a
// re-transfer; not booting costs the node. So a data partition that has
// lost its filesystem, or whose filesystem the kernel refuses as corrupt,
// is recreated empty, and a node with no data partition at all runs with
// its state in RAM. Both are logged at error level, because the operator
// must hear about them.
//
// The image builder leaves the data partition unformatted, with a marker
// in its first 4 KiB (image/disk's DataMarker), so that the filesystem
// fills whatever card or disk the image was flashed to and the image
// stays small and reproducible. A partition with the marker is formatted
// at first boot and logged as that, at info level: nothing was lost.
//
// Only corruption recreates: EINVAL, EUCLEAN and EBADMSG from mount(2)
// are what ext4 says about a bad superblock, bad metadata and a bad
// checksum. A missing ext4 driver (ENODEV), a busy device or an I/O error
// leaves the partition alone, in case the disk is fine and the next boot
// reads it.

// Data partition defaults.
const (
	DefaultDataLabel = disk.DataLabel
	DefaultDataDir   = "/data"
	// DefaultDeviceWait is how long boot waits for a labelled partition
	// to appear before deciding there is none.
	DefaultDeviceWait = 10 * time.Second
)

// DataOptions configure MountData. Zero values take the defaults; a
// negative Wait looks once and does not wait.
type DataOptions struct {
	Label string
	Dir   string
	Disks Disks
	Wait  time.Duration
	Clock clock.Clock
	Log   *slog.Logger
}

// Data is the mounted data directory.
type Data struct {
	Dir        string
	Device     string // the partition's device node; "" on tmpfs
	Persistent bool   // false: a tmpfs, lost at reboot
	Recreated  bool   // the filesystem was recreated this boot: state was lost
	FirstBoot  bool   // the partition had the image's marker and was formatted this boot
}

// MountData finds the data partition by label and mounts it as ext4 at
// Dir, formatting it at first boot (the image's marker), recreating the
// filesystem if it is missing or corrupt, or mounts a tmpfs there if
// there is no partition or it cannot be used. It returns an error only
// if not even the tmpfs can be mounted.
func MountData(ctx context.Context, opts DataOptions) (Data, error) {
	opts.defaults()
	log := opts.Log.With("label", opts.Label, "dir", opts.Dir)
	if err := os.MkdirAll(opts.Dir, 0o755); err != nil {
		return Data{}, fmt.Errorf("boot: data: %w", err)
	}
	found, err := opts.Disks.Wait(ctx, opts.Clock, opts.Label, opts.Wait)
	if err != nil {
		log.Error("NO DATA PARTITION: node state lives in RAM and is lost at reboot", "err", err)
		return mountDataTmpfs(opts.Dir)
	}
	dev := found[0]
	log = log.With("device", dev.Path)
	if len(found) > 1 {
		log.Warn("more than one data partition; using the first", "candidates", fmt.Sprint(found))
	}
	d := Data{Dir: opts.Dir, Device: dev.Path, Persistent: true}
	switch {
	case dev.FS.Type == Unformatted:
		log.Info("first boot: formatting the data partition ext4", "size", dev.Size)
		if err := FormatExt4(dev.Path, opts.Label); err != nil {
			log.Error("data partition not formatted: node state lives in RAM and is lost at reboot", "err", err)
			return mountDataTmpfs(opts.Dir)
		}
		d.FirstBoot = true
	case !isExt(dev.FS.Type):
		log.Error("DATA PARTITION HAS NO FILESYSTEM: creating ext4; anything on it is lost", "found", dev.FS.Type)
		if err := FormatExt4(dev.Path, opts.Label); err != nil {
			log.Error("data partition not recreated: node state lives in RAM and is lost at reboot", "err", err)
			return mountDataTmpfs(opts.Dir)
		}
		d.Recreated = true
	}
	err = mountExt4(dev.Path, opts.Dir)
	if err != nil && corrupt(err) && !d.Recreated && !d.FirstBoot {
		log.Error("DATA PARTITION DOES NOT MOUNT: recreating ext4; all node state on it is lost", "err", err)
		if err := FormatExt4(dev.Path, opts.Label); err != nil {
			log.Error("data partition not recreated: node state lives in RAM and is lost at reboot", "err", err)
			return mountDataTmpfs(opts.Dir)
		}
		d.Recreated = true
		err = mountExt4(dev.Path, opts.Dir)
	}
	if err != nil {
		log.Error("DATA PARTITION NOT MOUNTED: node state lives in RAM and is lost at reboot", "err", err)
		return mountDataTmpfs(opts.Dir)
	}
	log.Info("data partition mounted", "recreated", d.Recreated, "first_boot", d.FirstBoot)
	return d, nil
}

func (o *DataOptions) defaults() {
	if o.Label == "" {
		o.Label = DefaultDataLabel
	}
	if o.Dir == "" {
		o.Dir = DefaultDataDir
	}
	if o.Wait == 0 {
		o.Wait = DefaultDeviceWait
	}
	if o.Clock == nil {
		o.Clock = clock.Real()
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
}

func isExt(fstype string) bool {
	return fstype == "ext4" || fstype == "ext3" || fstype == "ext2"
}

// dataFlags keep programs and device nodes off the data partition; it
// holds only state.
const dataFlags = NoSUID | NoDev | NoExec | NoATime

func mountExt4(dev, dir string) error {
	// errors=remount-ro: a node whose disk goes bad keeps serving what
	// it has, which is what failing static means.
	m := Mount{Source: dev, Target: dir, FSType: "ext4", Flags: dataFlags, Data: "errors=remount-ro"}
	if err := m.Do(); err != nil {
		return fmt.Errorf("%s: %w", m, err)
	}
	return nil
}

func mountDataTmpfs(dir string) (Data, error) {
	m := Mount{Source: "tmpfs", Target: dir, FSType: "tmpfs", Flags: dataFlags, Data: "mode=0755"}
	if err := m.Do(); err != nil {
		return Data{}, fmt.Errorf("boot: data: %s: %w", m, err)
	}
	return Data{Dir: dir}, nil
}

// wipeSize is how much of a partition FormatExt4 zeroes first, so that no
// old signature (a FAT boot sector, an old superblock) is left where
// probing would find it.
const wipeSize = 1 << 20

// FormatExt4 creates an empty ext4 filesystem labelled label on the device
// (or image file) at path, using all of it, with no room reserved for
// resizing. A mounted block device is
// refused (the kernel's O_EXCL). The filesystem has one inode per 64 KiB:
// the node keeps few, large files, and fewer inodes make the (rare)
// recreation of a big SD card quicker.
func FormatExt4(path, label string) error {
	if len(label) > 16 {
		return fmt.Errorf("boot: format %s: ext4 label %q is over 16 bytes", path, label)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_EXCL, 0)
	if err != nil {
		return fmt.Errorf("boot: format %s: %w", path, err)
	}
	defer f.Close()
	size, err := f.Seek(0, io.SeekEnd)
	if err != nil {
		return fmt.Errorf("boot: format %s: size: %w", path, err)
	}
	if _, err := f.WriteAt(make([]byte, min(size, wipeSize)), 0); err != nil {
		return fmt.Errorf("boot: format %s: wipe: %w", path, err)
	}
	if _, err := ext4.Create(file.New(f, false), size, 0, 512, &ext4.Params{
		VolumeName: label,
		InodeRatio: 65536,
		// Room to grow the group descriptors online; a data partition
		// is never resized, and small ones cannot spare the blocks.
		Features: []ext4.FeatureOpt{ext4.WithFeatureReservedGDTBlocksForExpansion(false)},
	}); err != nil {
		return fmt.Errorf("boot: format %s: ext4 (%d bytes): %w", path, size, err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("boot: format %s: sync: %w", path, err)
	}
	return nil
}
