package grub_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/goleudy/goleudy/image/grub"
	"github.com/goleudy/goleudy/image/grubenv"
)

func st(order string, aOK, bOK, aTry, bTry bool) grub.State {
	s := grub.State{Order: [2]grub.Slot{grub.A, grub.B}, OK: [2]bool{aOK, bOK}, Try: [2]bool{aTry, bTry}}
	if order == "B A" {
		s.Order = [2]grub.Slot{grub.B, grub.A}
	}
	return s
}

func TestNext(t *testing.T) {
	for _, tc := range []struct {
		name  string
		in    grub.State
		slot  grub.Slot
		after grub.State
	}{
		{"fresh: A", st("A B", true, true, false, false), grub.A, st("A B", true, true, true, false)},
		{"only B bootable", st("A B", false, true, false, false), grub.B, st("A B", false, true, false, true)},
		{"B on trial first", st("B A", true, true, false, false), grub.B, st("B A", true, true, false, true)},
		{"B failed its trial", st("B A", true, true, false, true), grub.A, st("B A", true, true, true, true)},
		{"both tried: clear, first OK", st("B A", true, true, true, true), grub.B, st("B A", true, true, false, true)},
		{"both tried, B not OK", st("B A", true, false, true, true), grub.A, st("B A", true, false, true, false)},
		{"none OK: A anyway", st("B A", false, false, false, true), grub.A, st("B A", false, false, true, false)},
	} {
		slot, after := tc.in.Next()
		if slot != tc.slot || after != tc.after {
			t.Errorf("%s: %s.Next() = %s, %s; want %s, %s", tc.name, tc.in, slot, after, tc.slot, tc.after)
		}
	}
}

// TestUpdateLifecycle walks the node's side: an update, a failed trial,
// the rollback the node then records, and a good update.
func TestUpdateLifecycle(t *testing.T) {
	s := grub.Fresh(grub.A, grub.A)
	boot := func(want grub.Slot) {
		t.Helper()
		got, next := s.Next()
		if got != want {
			t.Fatalf("from %s booted %s, want %s", s, got, want)
		}
		s = next
	}
	boot(grub.A)
	if s.Commit(grub.A) {
		t.Fatal("first commit reported a rollback")
	}
	s.Trial(grub.B)
	boot(grub.B) // B never commits
	boot(grub.A)
	if !s.Commit(grub.A) {
		t.Fatal("commit after a failed trial did not report the rollback")
	}
	if s.IsOK(grub.B) || s.Order[0] != grub.A {
		t.Fatalf("after rollback: %s", s)
	}
	boot(grub.A) // B stays out until the next update
	s.Commit(grub.A)
	s.Trial(grub.B)
	boot(grub.B)
	if s.Commit(grub.B) {
		t.Fatal("good update reported a rollback")
	}
	boot(grub.B)
	if want := st("B A", true, true, false, true); s != want {
		t.Fatalf("state %s, want %s", s, want)
	}
	s.MarkBad(grub.B)
	boot(grub.A)
}

func TestStateEnv(t *testing.T) {
	in := st("B A", true, false, false, true)
	block, err := in.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(block), "\nORDER=B A\nA_OK=1\nB_OK=0\nA_TRY=0\nB_TRY=1\n") {
		t.Fatalf("Encode: %q", block[:120])
	}
	out, err := grub.DecodeState(block)
	if err != nil || out != in {
		t.Fatalf("DecodeState = %s, %v; want %s", out, err, in)
	}
	// Missing variables take grub.cfg's defaults.
	var empty grubenv.Env
	if s, err := grub.StateFromEnv(&empty); err != nil || s != st("A B", false, false, false, false) {
		t.Fatalf("empty env: %s, %v", s, err)
	}
	for _, tc := range []struct{ name, value, want string }{
		{grub.VarOrder, "A A", `ORDER="A A"`},
		{grub.VarAOK, "yes", `A_OK="yes"`},
		{grub.VarBTry, "2", `B_TRY="2"`},
	} {
		var e grubenv.Env
		if err := e.Set(tc.name, tc.value); err != nil {
			t.Fatal(err)
		}
		_, err := grub.StateFromEnv(&e)
		if !errors.Is(err, grub.ErrBadState) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s=%q: %v, want ErrBadState naming %s", tc.name, tc.value, err, tc.want)
		}
	}
	bad := grub.State{Order: [2]grub.Slot{grub.A, grub.A}}
	if _, err := bad.Encode(); !errors.Is(err, grub.ErrBadState) {
		t.Fatalf("Encode of ORDER A A: %v", err)
	}
	if _, err := grub.ParseSlot("C"); err == nil {
		t.Fatal("ParseSlot(C) succeeded")
	}
}

func FuzzDecodeState(f *testing.F) {
	good, _ := st("B A", true, true, false, true).Encode()
	f.Add(good)
	f.Add([]byte(grubenv.Header))
	f.Fuzz(func(t *testing.T, block []byte) {
		s, err := grub.DecodeState(block)
		if err != nil {
			return
		}
		again, err := s.Encode()
		if err != nil {
			t.Fatalf("Encode of a decoded state: %v", err)
		}
		if s2, err := grub.DecodeState(again); err != nil || s2 != s {
			t.Fatalf("round trip: %s -> %s, %v", s, s2, err)
		}
		slot, next := s.Next()
		if slot != grub.A && slot != grub.B || !next.OnTrial(slot) {
			t.Fatalf("%s.Next() = %s, %s", s, slot, next)
		}
	})
}
