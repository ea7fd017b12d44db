package ubootenv

import (
	"bytes"
	"errors"
	"hash/crc32"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/goleudy/goleudy/tools/lab"
)

var toolFwPrintenv = lab.Tool{Name: "fw_printenv", Package: "libubootenv-tool"}

func TestRoundTrip(t *testing.T) {
	e := New(DefaultSize)
	for _, kv := range [][2]string{{"bootcmd", "run distro_bootcmd"}, {"ORDER", "A B"}, {"A_OK", "1"}, {"empty", ""}} {
		if err := e.Set(kv[0], kv[1]); err != nil {
			t.Fatal(err)
		}
	}
	block, err := e.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if len(block) != DefaultSize {
		t.Fatalf("%d bytes, want %d", len(block), DefaultSize)
	}
	back, err := Parse(block)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(back.Names(), ","); got != "bootcmd,ORDER,A_OK,empty" {
		t.Errorf("names %s", got)
	}
	if v, ok := back.Get("ORDER"); !ok || v != "A B" {
		t.Errorf("ORDER = %q %v", v, ok)
	}
	back.Set("A_OK", "0")
	back.Delete("empty")
	back.Delete("never")
	again, _ := back.Encode()
	e2, err := Parse(again)
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := e2.Get("A_OK"); v != "0" || len(e2.Names()) != 3 {
		t.Errorf("after edits: %v A_OK=%s", e2.Names(), v)
	}
	if b2, _ := e2.Encode(); !bytes.Equal(b2, again) {
		t.Error("parse and encode is not the identity")
	}
}

func TestErrors(t *testing.T) {
	good, _ := func() ([]byte, error) { e := New(64); e.Set("a", "1"); return e.Encode() }()
	flip := bytes.Clone(good)
	flip[10] ^= 1
	for _, tc := range []struct {
		name  string
		block []byte
		want  error
		says  string
	}{
		{"short", []byte{1, 2, 3}, ErrSize, "3 bytes"},
		{"crc", flip, ErrCRC, "stored"},
		{"no equals", withCRC("novalue\x00\x00"), ErrSyntax, `"novalue" has no '='`},
		{"twice", withCRC("a=1\x00a=2\x00\x00"), ErrSyntax, "a set twice"},
		{"no end", withCRC("a=" + strings.Repeat("x", 58)), ErrSyntax, "no NUL"},
		{"empty name", withCRC("=1\x00\x00"), ErrSyntax, "variable name"},
	} {
		_, err := Parse(tc.block)
		if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.says) {
			t.Errorf("%s: %v, want %v saying %q", tc.name, err, tc.want, tc.says)
		}
	}
	e := New(16)
	e.Set("long", strings.Repeat("x", 20))
	if _, err := e.Encode(); !errors.Is(err, ErrFull) {
		t.Errorf("overfull: %v", err)
	}
	if err := e.Set("a=b", "1"); !errors.Is(err, ErrSyntax) {
		t.Errorf("name with '=': %v", err)
	}
	if err := e.Set("a", "x\x00y"); !errors.Is(err, ErrSyntax) {
		t.Errorf("value with NUL: %v", err)
	}
}

// withCRC makes a 64-byte block of data with a valid CRC.
func withCRC(data string) []byte {
	e := New(64)
	b, _ := e.Encode()
	copy(b[4:], make([]byte, 60))
	copy(b[4:], data)
	return fixCRC(b)
}

func fixCRC(b []byte) []byte {
	sum := crc32.ChecksumIEEE(b[4:])
	b[0], b[1], b[2], b[3] = byte(sum), byte(sum>>8), byte(sum>>16), byte(sum>>24)
	return b
}

// TestFwTools checks the format against libubootenv's fw_printenv and
// fw_setenv, the tools a Linux system uses on U-Boot's environment: what
// this package writes they read, and what they write this package reads,
// unknown variables kept.
func TestFwTools(t *testing.T) {
	lab.Require(t, toolFwPrintenv, lab.Tool{Name: "fw_setenv", Package: "libubootenv-tool"})
	dir := t.TempDir()
	file := filepath.Join(dir, "uboot.env")
	cfg := filepath.Join(dir, "fw_env.config")
	if err := os.WriteFile(cfg, []byte(file+" 0x0 0x4000\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	e := New(DefaultSize)
	e.Set("bootdelay", "-2")
	e.Set("ORDER", "B A")
	e.Set("fdtfile", "broadcom/bcm2837-rpi-3-b.dtb")
	block, _ := e.Encode()
	if err := os.WriteFile(file, block, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("fw_printenv", "-c", cfg).CombinedOutput()
	if err != nil {
		t.Fatalf("fw_printenv: %v\n%s", err, out)
	}
	for _, want := range []string{"bootdelay=-2\n", "ORDER=B A\n", "fdtfile=broadcom/bcm2837-rpi-3-b.dtb\n"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("fw_printenv lacks %q:\n%s", want, out)
		}
	}
	if out, err := exec.Command("fw_setenv", "-c", cfg, "A_TRY", "1").CombinedOutput(); err != nil {
		t.Fatalf("fw_setenv: %v\n%s", err, out)
	}
	written, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	back, err := Parse(written)
	if err != nil {
		t.Fatalf("reading fw_setenv's block: %v", err)
	}
	for name, want := range map[string]string{"A_TRY": "1", "ORDER": "B A", "bootdelay": "-2", "fdtfile": "broadcom/bcm2837-rpi-3-b.dtb"} {
		if v, ok := back.Get(name); !ok || v != want {
			t.Errorf("%s = %q (%v), want %q", name, v, ok, want)
		}
	}
}

func FuzzParse(f *testing.F) {
	e := New(64)
	e.Set("a", "1")
	b, _ := e.Encode()
	f.Add(b)
	f.Add(withCRC("x=\x00y=z\x00\x00"))
	f.Fuzz(func(t *testing.T, block []byte) {
		env, err := Parse(block)
		if err != nil {
			return
		}
		out, err := env.Encode()
		if err != nil {
			t.Fatalf("parsed but cannot encode: %v", err)
		}
		again, err := Parse(out)
		if err != nil {
			t.Fatalf("re-parse: %v", err)
		}
		if strings.Join(again.Names(), "\x00") != strings.Join(env.Names(), "\x00") {
			t.Fatal("names changed")
		}
	})
}
