package boot

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/goleudy/goleudy/services/clock"
)

// The boot partition is FAT because firmware and bootloaders read it. The
// node reads one thing from it, the seed file the image builder wrote (the
// node's identity and how to reach the provisioning server), and never
// writes to it: it is mounted read-only, so a power cut cannot corrupt the
// partition the board boots from.

// Boot partition defaults.
const (
	DefaultBootLabel = "GOLEUDY-BOOT"
	DefaultBootDir   = "/boot"
	DefaultSeedFile  = "goleudy/seed.json"
)

// BootOptions configure MountBoot. Zero values take the defaults; a
// negative Wait looks once and does not wait.
type BootOptions struct {
	Label string
	Dir   string
	Seed  string // the seed file's path inside the partition
	Disks Disks
	Wait  time.Duration
	Clock clock.Clock
	Log   *slog.Logger
}

// BootPartition is the mounted boot partition.
type BootPartition struct {
	Dir    string
	Device string
	FSType string
	Seed   string // the seed file's full path; "" if the partition has none
}

// MountBoot finds the boot partition by label, mounts it read-only at Dir
// with the filesystem its superblock names, and returns where the seed
// file is. A partition without a seed file is not an error: a node that
// has enrolled has its config on the data partition.
func MountBoot(ctx context.Context, opts BootOptions) (BootPartition, error) {
	opts.defaults()
	if !filepath.IsLocal(opts.Seed) {
		return BootPartition{}, fmt.Errorf("boot: seed file %q must be a relative path inside the boot partition", opts.Seed)
	}
	found, err := opts.Disks.Wait(ctx, opts.Clock, opts.Label, opts.Wait)
	if err != nil {
		return BootPartition{}, err
	}
	dev := found[0]
	log := opts.Log.With("label", opts.Label, "device", dev.Path, "dir", opts.Dir)
	if len(found) > 1 {
		log.Warn("more than one boot partition; using the first", "candidates", fmt.Sprint(found))
	}
	fstype := dev.FS.Type
	switch {
	case fstype == "vfat":
	case isExt(fstype):
		fstype = "ext4" // the ext4 driver reads ext2 and ext3
	default:
		return BootPartition{}, fmt.Errorf("boot: boot partition %s: no filesystem this node can read", dev)
	}
	if err := os.MkdirAll(opts.Dir, 0o755); err != nil {
		return BootPartition{}, fmt.Errorf("boot: boot partition: %w", err)
	}
	m := Mount{Source: dev.Path, Target: opts.Dir, FSType: fstype, Flags: ReadOnly | NoSUID | NoDev | NoExec}
	if err := m.Do(); err != nil {
		return BootPartition{}, fmt.Errorf("boot: boot partition: %s: %w", m, err)
	}
	bp := BootPartition{Dir: opts.Dir, Device: dev.Path, FSType: fstype}
	seed := filepath.Join(opts.Dir, opts.Seed)
	switch _, err := os.Stat(seed); {
	case err == nil:
		bp.Seed = seed
		log.Info("boot partition mounted", "seed", seed)
	case errors.Is(err, os.ErrNotExist):
		log.Warn("boot partition mounted; it has no seed file", "seed", seed)
	default:
		log.Error("boot partition mounted; the seed file cannot be read", "seed", seed, "err", err)
	}
	return bp, nil
}

func (o *BootOptions) defaults() {
	if o.Label == "" {
		o.Label = DefaultBootLabel
	}
	if o.Dir == "" {
		o.Dir = DefaultBootDir
	}
	if o.Seed == "" {
		o.Seed = DefaultSeedFile
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
