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
	var rolledBack bool
	ch, err := EditBootState(bootDir, remount, "commit", func(st *grub.State) error {
		rolledBack = st.Commit(s)
		return nil
	})
	out := Outcome{Slot: string(s), RolledBack: rolledBack, State: ch.After, Changed: ch.Changed}
	if err != nil {
		return out, err
	}
	if ch.Changed {
		log.Info("slot committed", "slot", s, "rolled_back", rolledBack, "state", ch.After, "was", ch.Before)
	}
	return out, nil
}

// StateChange is what EditBootState did.
type StateChange struct {
	Before, After string // grub.State's String, for logs and heartbeats
	Changed       bool   // the file was rewritten
}

// EditBootState applies edit to the A/B state under bootDir, grubenv or
// uboot.env, whichever the image has, and writes the file back if the
// state changed. op names the edit in errors.
func EditBootState(bootDir string, remount bool, op string, edit func(*grub.State) error) (StateChange, error) {
	env := filepath.Join(bootDir, filepath.FromSlash(grub.EnvPath))
	uenv := filepath.Join(bootDir, rpiboot.EnvFile)
	switch {
	case exists(env):
		return editState(bootDir, env, remount, op, edit, grubBlock)
	case exists(uenv):
		return editState(bootDir, uenv, remount, op, edit, ubootBlock)
	}
	return StateChange{}, fmt.Errorf("update: %s: %s: %w", op, bootDir, ErrNoBootState)
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

func editState(dir, file string, remount bool, op string, edit func(*grub.State) error, parse func([]byte) (envBlock, error)) (StateChange, error) {
	var ch StateChange
	data, err := os.ReadFile(file)
	if err != nil {
		return ch, fmt.Errorf("update: %s: %w", op, err)
	}
	env, err := parse(data)
	if err != nil {
		return ch, fmt.Errorf("update: %s: %s: %w", op, file, err)
	}
	st, err := grub.StateFromEnv(env)
	if err != nil {
		return ch, fmt.Errorf("update: %s: %s: %w", op, file, err)
	}
	ch.Before = st.String()
	if err := edit(&st); err != nil {
		ch.After = ch.Before
		return ch, fmt.Errorf("update: %s: %w", op, err)
	}
	ch.After = st.String()
	if ch.After == ch.Before {
		return ch, nil
	}
	if err := st.Apply(env); err != nil {
		return ch, fmt.Errorf("update: %s: %w", op, err)
	}
	if data, err = env.Encode(); err != nil {
		return ch, fmt.Errorf("update: %s: %w", op, err)
	}
	if err := rewrite(dir, file, data, remount); err != nil {
		return ch, err
	}
	ch.Changed = true
	return ch, nil
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
