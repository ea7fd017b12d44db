// Package update is the node's side of A/B updates. This part is the
// commit: once the node is ready on the slot it booted, it tells the
// bootloader that slot is good, so the boot counter stops counting it.
// A slot that never gets here (its kernel panics, its node never becomes
// ready, the watchdog resets the board) is not committed, and the
// bootloader boots the other slot by itself at the next boot.
//
// On x86 the state is GRUB's environment block (grub/grubenv on the boot
// partition, see image/grub); on a Raspberry Pi it is U-Boot's saved
// environment, uboot.env (see image/rpiboot and image/ubootenv). Both
// hold the same variables under the same rules (grub.State), and both
// files are rewritten in place, same size, with the boot partition
// remounted read-write only for the write. Every other variable in them
// is kept.
package update

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"

	"github.com/goleudy/goleudy/image/grub"
	"github.com/goleudy/goleudy/image/grubenv"
	"github.com/goleudy/goleudy/image/rpiboot"
	"github.com/goleudy/goleudy/image/ubootenv"
)

// Outcome is what a commit found.
type Outcome struct {
	Slot       string // the slot committed
	RolledBack bool   // the slot first in line had failed its trial
	Changed    bool   // the state was rewritten
	State      string // the new state, for logs and heartbeats
}

// ErrNoBootState means the boot partition has neither a grubenv nor a
// uboot.env: not an A/B image, or U-Boot did not save its state.
var ErrNoBootState = errors.New("no A/B boot state on the boot partition")

// Commit records that the node is healthy on slot (from goleudy.slot= on
// the kernel command line) in the boot state under bootDir, the boot
// partition's mount point. remount says whether to remount bootDir
// read-write around the write (PID 1 on a read-only mount); tests give a
// plain directory.
func Commit(log *slog.Logger, bootDir, slot string, remount bool) (Outcome, error) {
	s, err := grub.ParseSlot(slot)
	if err != nil {
		return Outcome{}, fmt.Errorf("update: commit: booted slot: %w", err)
	}
	env := filepath.Join(bootDir, filepath.FromSlash(grub.EnvPath))
	uenv := filepath.Join(bootDir, rpiboot.EnvFile)
	switch {
	case exists(env):
		return commitState(log, bootDir, env, s, remount, grubBlock)
	case exists(uenv):
		return commitState(log, bootDir, uenv, s, remount, ubootBlock)
	}
	return Outcome{}, fmt.Errorf("update: commit: %s: %w", bootDir, ErrNoBootState)
}

func exists(p string) bool { _, err := os.Stat(p); return err == nil }

// envBlock is a parsed environment file: its variables, and how to write
// it back.
type envBlock interface {
	grub.Vars
	Encode() ([]byte, error)
}

func grubBlock(data []byte) (envBlock, error) {
	env, err := grubenv.Parse(data)
	return &env, err
}

func ubootBlock(data []byte) (envBlock, error) {
	env, err := ubootenv.Parse(data)
	return &env, err
}

func commitState(log *slog.Logger, dir, file string, s grub.Slot, remount bool, parse func([]byte) (envBlock, error)) (Outcome, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return Outcome{}, fmt.Errorf("update: commit: %w", err)
	}
	env, err := parse(data)
	if err != nil {
		return Outcome{}, fmt.Errorf("update: commit: %s: %w", file, err)
	}
	st, err := grub.StateFromEnv(env)
	if err != nil {
		return Outcome{}, fmt.Errorf("update: commit: %s: %w", file, err)
	}
	before := st.String()
	rolledBack := st.Commit(s)
	out := Outcome{Slot: string(s), RolledBack: rolledBack, State: st.String()}
	if st.String() == before {
		return out, nil
	}
	if err := st.Apply(env); err != nil {
		return out, fmt.Errorf("update: commit: %w", err)
	}
	if data, err = env.Encode(); err != nil {
		return out, fmt.Errorf("update: commit: %w", err)
	}
	if err := rewrite(dir, file, data, remount); err != nil {
		return out, err
	}
	out.Changed = true
	log.Info("slot committed", "slot", s, "rolled_back", rolledBack, "state", out.State, "was", before)
	return out, nil
}

// rewrite writes data over file, in place when the size is the same (as
// GRUB's save_env does), and syncs it. With remount, dir is remounted
// read-write for the write and read-only after.
func rewrite(dir, file string, data []byte, remount bool) (err error) {
	if remount {
		if err := unix.Mount("", dir, "", unix.MS_REMOUNT, ""); err != nil {
			return fmt.Errorf("update: remount %s read-write: %w", dir, err)
		}
		defer func() {
			unix.Sync()
			if rerr := unix.Mount("", dir, "", unix.MS_REMOUNT|unix.MS_RDONLY, ""); rerr != nil && err == nil {
				err = fmt.Errorf("update: remount %s read-only: %w", dir, rerr)
			}
		}()
	}
	st, err := os.Stat(file)
	if err != nil {
		return fmt.Errorf("update: %w", err)
	}
	flags := os.O_WRONLY
	if st.Size() != int64(len(data)) {
		flags |= os.O_TRUNC
	}
	f, err := os.OpenFile(file, flags, 0)
	if err != nil {
		return fmt.Errorf("update: %w", err)
	}
	if _, err := f.WriteAt(data, 0); err != nil {
		f.Close()
		return fmt.Errorf("update: writing %s: %w", file, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("update: syncing %s: %w", file, err)
	}
	return f.Close()
}
