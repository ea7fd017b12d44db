package update

import (
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/goleudy/goleudy/image/grub"
	"github.com/goleudy/goleudy/image/rpiboot"
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

func TestCommitTryboot(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, rpiboot.AutobootPath)
	os.WriteFile(f, rpiboot.AutobootFor("A"), 0o644)
	if out, err := Commit(log, dir, "A", false); err != nil || out.Changed {
		t.Fatalf("committed slot: %+v %v", out, err)
	}
	out, err := Commit(log, dir, "B", false) // a tryboot of B, now healthy
	if err != nil || !out.Changed {
		t.Fatalf("trial: %+v %v", out, err)
	}
	data, _ := os.ReadFile(f)
	tb, err := rpiboot.ReadTryboot(data, "B")
	if err != nil || tb.Committed != "B" {
		t.Fatalf("autoboot.txt after commit: %+v %v\n%s", tb, err, data)
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
