package grubenv_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/goleudy/goleudy/image/grub"
	"github.com/goleudy/goleudy/image/grub/grubtest"
	"github.com/goleudy/goleudy/image/grubenv"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.Cleanup(func(code int) {
		grubtest.Cleanup()
		os.Exit(code)
	}))
}

// editenv runs the real grub-editenv from Debian's grub-common.
func editenv(t *testing.T, tc *grub.Toolchain, file string, args ...string) string {
	t.Helper()
	cmd := tc.Command(context.Background(), grub.Editenv, append([]string{file}, args...)...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("grub-editenv %s %s: %v: %s", file, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// TestAgainstGrubEditenv checks both directions against GRUB's own tool:
// blocks grub-editenv writes parse to the values it was given, blocks
// Encode writes list the same values in grub-editenv, and grub-editenv can
// edit them in place.
func TestAgainstGrubEditenv(t *testing.T) {
	tc := grubtest.Toolchain(t)
	file := filepath.Join(t.TempDir(), "grubenv")
	editenv(t, tc, file, "create")
	vals := [][2]string{
		{"ORDER", "B A"}, {"A_OK", "1"}, {"B_TRY", "0"}, {"path", `C:\dos`}, {"two", "one\ntwo"}, {"empty", ""},
	}
	for _, kv := range vals {
		editenv(t, tc, file, "set", kv[0]+"="+kv[1])
	}
	raw, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	e, err := grubenv.Parse(raw)
	if err != nil {
		t.Fatalf("Parse of grub-editenv's block: %v\n%q", err, raw)
	}
	for _, kv := range vals {
		if got, ok := e.Get(kv[0]); !ok || got != kv[1] {
			t.Errorf("%s = %q (%v), grub-editenv set %q", kv[0], got, ok, kv[1])
		}
	}
	ours, err := e.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if string(ours) != string(raw) {
		t.Errorf("Encode differs from grub-editenv's block:\nours %q\ngrub %q", ours, raw)
	}

	// grub-editenv reads and edits what Encode wrote.
	var mine grubenv.Env
	for _, kv := range [][2]string{{"ORDER", "A B"}, {"A_TRY", "1"}, {"note", "x\\y"}} {
		if err := mine.Set(kv[0], kv[1]); err != nil {
			t.Fatal(err)
		}
	}
	b, err := mine.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if got, want := editenv(t, tc, file, "list"), "ORDER=A B\nA_TRY=1\nnote=x\\y\n"; got != want {
		t.Errorf("grub-editenv list = %q, want %q", got, want)
	}
	editenv(t, tc, file, "set", "A_TRY=0")
	editenv(t, tc, file, "unset", "note")
	raw, err = os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	e, err = grubenv.Parse(raw)
	if err != nil {
		t.Fatalf("Parse after grub-editenv edited our block: %v", err)
	}
	if e.Value("A_TRY") != "0" || e.Value("ORDER") != "A B" || e.Len() != 2 {
		t.Errorf("after edits: %v A_TRY=%q ORDER=%q", e.Names(), e.Value("A_TRY"), e.Value("ORDER"))
	}
}
