package update

import (
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/goleudy/goleudy/image/grub"
	"github.com/goleudy/goleudy/image/rpiboot"
	"github.com/goleudy/goleudy/image/ubootenv"
)

func bootDir(t *testing.T, st grub.State) string {
	t.Helper()
	dir := t.TempDir()
	block, err := st.Encode()
	if err != nil {
		t.Fatal(err)
	}
	f := filepath.Join(dir, filepath.FromSlash(grub.EnvPath))
	os.MkdirAll(filepath.Dir(f), 0o755)
	if err := os.WriteFile(f, block, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func state(t *testing.T, dir string) grub.State {
	t.Helper()
	block, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(grub.EnvPath)))
	if err != nil || len(block) != 1024 {
		t.Fatalf("grubenv: %d bytes, %v", len(block), err)
	}
	st, err := grub.DecodeState(block)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

var log = slog.New(slog.DiscardHandler)

func TestCommitGrub(t *testing.T) {
	// A fresh image booted A: GRUB set A_TRY=1; the ready node commits.
	booted, st := grub.Fresh(grub.A, grub.A, grub.B).Next()
	dir := bootDir(t, st)
	out, err := Commit(log, dir, string(booted), false)
	if err != nil || !out.Changed || out.RolledBack {
		t.Fatalf("%+v %v", out, err)
	}
	if got := state(t, dir); got.OnTrial(grub.A) || !got.IsOK(grub.A) || got.Order[0] != grub.A {
		t.Fatalf("after commit: %s", got)
	}
	// Committing again changes nothing.
	if out, err := Commit(log, dir, "A", false); err != nil || out.Changed {
		t.Fatalf("second commit: %+v %v", out, err)
	}

	// B was put on trial, never committed, GRUB fell back to A: the
	// node on A records the rollback and B is no longer bootable.
	st = state(t, dir)
	st.Trial(grub.B)
	_, st = st.Next() // the trial boot of B: B_TRY=1
	if b, next := st.Next(); b != grub.A {
		t.Fatalf("GRUB after a failed trial boots %s (%s)", b, next)
	} else {
		st = next
	}
	dir = bootDir(t, st)
	out, err = Commit(log, dir, "A", false)
	if err != nil || !out.RolledBack {
		t.Fatalf("rollback: %+v %v", out, err)
	}
	if got := state(t, dir); got.IsOK(grub.B) || got.Order[0] != grub.A {
		t.Fatalf("after rollback: %s", got)
	}
}

// TestCommitUBoot: on a Pi the state is in U-Boot's uboot.env, which U-Boot
// saved with its own variables; the commit keeps them and the CRC right.
func TestCommitUBoot(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, rpiboot.EnvFile)
	env := ubootenv.New(ubootenv.DefaultSize)
	env.Set("bootcmd", "run distro_bootcmd")
	env.Set("fdtfile", "broadcom/bcm2837-rpi-3-b.dtb")
	// The boot script's first boot of a fresh image: A on trial.
	_, st := grub.Fresh(grub.A, grub.A, grub.B).Next()
	if err := st.Apply(&env); err != nil {
		t.Fatal(err)
	}
	block, _ := env.Encode()
	os.WriteFile(f, block, 0o644)
	out, err := Commit(log, dir, "A", false)
	if err != nil || !out.Changed || out.RolledBack {
		t.Fatalf("%+v %v", out, err)
	}
	data, _ := os.ReadFile(f)
	back, err := ubootenv.Parse(data)
	if err != nil || len(data) != ubootenv.DefaultSize {
		t.Fatalf("uboot.env after commit: %d bytes, %v", len(data), err)
	}
	if v, _ := back.Get("bootcmd"); v != "run distro_bootcmd" {
		t.Errorf("U-Boot's own variable lost: bootcmd=%q", v)
	}
	got, err := grub.StateFromEnv(&back)
	if err != nil || got.OnTrial(grub.A) || !got.IsOK(grub.A) {
		t.Fatalf("after commit: %s %v", got, err)
	}
	// A corrupt block is refused, not overwritten.
	data[100] ^= 0xff
	os.WriteFile(f, data, 0o644)
	if _, err := Commit(log, dir, "A", false); !errors.Is(err, ubootenv.ErrCRC) {
		t.Errorf("corrupt uboot.env: %v", err)
	}
}

func TestCommitRefusals(t *testing.T) {
	if _, err := Commit(log, t.TempDir(), "A", false); !errors.Is(err, ErrNoBootState) {
		t.Errorf("no state: %v", err)
	}
	if _, err := Commit(log, t.TempDir(), "C", false); err == nil {
		t.Errorf("slot C accepted")
	}
	dir := bootDir(t, grub.Fresh(grub.A, grub.A))
	f := filepath.Join(dir, filepath.FromSlash(grub.EnvPath))
	os.WriteFile(f, []byte("# GRUB Environment Block\nORDER=A B\n"), 0o644)
	if _, err := Commit(log, dir, "A", false); err == nil {
		t.Errorf("a torn grubenv accepted")
	}
}
