package grubenv_test

import (
	"bytes"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/goleudy/goleudy/image/grubenv"
)

func block(lines string) []byte {
	b := []byte(grubenv.Header + lines)
	for len(b) < grubenv.Size {
		b = append(b, '#')
	}
	return b
}

func TestRoundTrip(t *testing.T) {
	var e grubenv.Env
	for _, kv := range [][2]string{
		{"ORDER", "B A"}, {"A_OK", "1"}, {"empty", ""}, {"path", `C:\dos\`}, {"two_lines", "one\ntwo"}, {"_x9", "#=#"},
	} {
		if err := e.Set(kv[0], kv[1]); err != nil {
			t.Fatal(err)
		}
	}
	b, err := e.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if len(b) != grubenv.Size || !bytes.HasPrefix(b, []byte(grubenv.Header)) {
		t.Fatalf("Encode: %d bytes: %q", len(b), b[:40])
	}
	want := grubenv.Header + "ORDER=B A\nA_OK=1\nempty=\npath=C:\\\\dos\\\\\ntwo_lines=one\\\ntwo\n_x9=#=#\n"
	if !bytes.HasPrefix(b, []byte(want)) || strings.Trim(string(b[len(want):]), "#") != "" {
		t.Fatalf("Encode:\n%q\nwant prefix\n%q then '#' padding", b, want)
	}
	got, err := grubenv.Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got.Names(), e.Names()) {
		t.Fatalf("names %v, want %v", got.Names(), e.Names())
	}
	for _, n := range e.Names() {
		if g, w := got.Value(n), e.Value(n); g != w {
			t.Errorf("%s = %q, want %q", n, g, w)
		}
	}
}

func TestSetKeepsOrderDeleteRemoves(t *testing.T) {
	var e grubenv.Env
	for _, n := range []string{"a", "b", "c"} {
		if err := e.Set(n, n); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.Set("a", "again"); err != nil {
		t.Fatal(err)
	}
	e.Delete("b")
	e.Delete("not_there")
	if got := e.Names(); !slices.Equal(got, []string{"a", "c"}) {
		t.Fatalf("names %v", got)
	}
	if v, ok := e.Get("a"); !ok || v != "again" {
		t.Fatalf("a = %q, %v", v, ok)
	}
	if _, ok := e.Get("b"); ok {
		t.Fatal("b still set")
	}
	c := e.Clone()
	if err := c.Set("d", "1"); err != nil {
		t.Fatal(err)
	}
	if e.Len() != 2 || c.Len() != 3 {
		t.Fatalf("Clone shares state: %d, %d", e.Len(), c.Len())
	}
}

func TestSetRejects(t *testing.T) {
	for _, tc := range []struct{ name, value, want string }{
		{"", "x", "empty name"},
		{"9lives", "x", "byte 0"},
		{"has space", "x", "byte 3"},
		{"a=b", "x", "byte 1"},
		{"#comment", "x", "byte 0"},
		{"ok", "nul\x00", "NUL"},
	} {
		var e grubenv.Env
		err := e.Set(tc.name, tc.value)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Set(%q, %q) = %v, want an error with %q", tc.name, tc.value, err, tc.want)
		}
	}
}

func TestEncodeTooLarge(t *testing.T) {
	var e grubenv.Env
	if err := e.Set("big", strings.Repeat("x", grubenv.Size-len(grubenv.Header)-len("big=\n"))); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Encode(); err != nil {
		t.Fatalf("exactly full block: %v", err)
	}
	if err := e.Set("more", ""); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Encode(); !errors.Is(err, grubenv.ErrTooLarge) {
		t.Fatalf("Encode = %v, want ErrTooLarge", err)
	}
}

func TestParseRejects(t *testing.T) {
	full := block("")
	for _, tc := range []struct {
		name string
		in   []byte
		want string
	}{
		{"short", full[:1023], "1023 bytes"},
		{"long", append(block(""), '#'), "1025 bytes"},
		{"no header", bytes.Repeat([]byte{'#'}, grubenv.Size), "does not start"},
		{"garbage after padding", append(block("a=1\n")[:1000], bytes.Repeat([]byte("#x"), 12)...), "after the '#' padding"},
		{"newline after padding", func() []byte { b := block(""); b[1000] = '\n'; return b }(), "after the '#' padding"},
		{"no equals", block("novalue\n"), "no '='"},
		{"bad name", block("a b=1\n"), "name \"a b\""},
		{"duplicate", block("a=1\na=2\n"), "a is set twice"},
		{"nul", block("a=x\x00\n"), "NUL"},
		{"unterminated", func() []byte {
			b := []byte(grubenv.Header + "a=")
			return append(b, bytes.Repeat([]byte{'x'}, grubenv.Size-len(b))...)
		}(), "ends before the line"},
		{"escape at end", func() []byte {
			b := []byte(grubenv.Header + "a=")
			b = append(b, bytes.Repeat([]byte{'x'}, grubenv.Size-len(b)-1)...)
			return append(b, '\\')
		}(), "inside an escape"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := grubenv.Parse(tc.in)
			if !errors.Is(err, grubenv.ErrMalformed) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Parse = %v, want ErrMalformed with %q", err, tc.want)
			}
		})
	}
}

func TestCommentsKept(t *testing.T) {
	in := block(grubenv.Warning[1:] + "\n")
	if _, err := grubenv.Parse(in); err == nil {
		t.Fatal("a line without '=' that is not a comment parsed")
	}
	in = block(grubenv.Warning + "\na=1\n# note\nb=2\n")
	e, err := grubenv.Parse(in)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(e.Names(), []string{"a", "b"}) || e.Len() != 2 {
		t.Fatalf("names %v", e.Names())
	}
	e.Delete("a")
	if err := e.Set("c", "3"); err != nil {
		t.Fatal(err)
	}
	out, err := e.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if want := block(grubenv.Warning + "\n# note\nb=2\nc=3\n"); !bytes.Equal(out, want) {
		t.Fatalf("Encode = %q\nwant %q", out, want)
	}
	n := grubenv.New()
	out, err = n.Encode()
	if err != nil || !bytes.Equal(out, block(grubenv.Warning+"\n")) || n.Len() != 0 {
		t.Fatalf("New().Encode() = %q, %v", out, err)
	}
}

func TestParseEmptyAndFull(t *testing.T) {
	e, err := grubenv.Parse(block(""))
	if err != nil || e.Len() != 0 {
		t.Fatalf("empty block: %v, %d variables", err, e.Len())
	}
	// A block whose last line ends exactly at byte 1024 has no padding.
	line := "v=" + strings.Repeat("y", grubenv.Size-len(grubenv.Header)-len("v=\n")) + "\n"
	e, err = grubenv.Parse([]byte(grubenv.Header + line))
	if err != nil || len(e.Value("v")) != len(line)-3 {
		t.Fatalf("full block: %v", err)
	}
}

func FuzzParse(f *testing.F) {
	f.Add(block(""))
	f.Add(block("ORDER=A B\nA_OK=1\nB_OK=0\nA_TRY=0\nB_TRY=1\n"))
	f.Add(block("p=a\\\\b\\\nc\n"))
	f.Add(block("x=1\n")[:500])
	f.Fuzz(func(t *testing.T, in []byte) {
		e, err := grubenv.Parse(in)
		if err != nil {
			if !errors.Is(err, grubenv.ErrMalformed) {
				t.Fatalf("error without ErrMalformed: %v", err)
			}
			return
		}
		out, err := e.Encode()
		if err != nil {
			t.Fatalf("Encode of a parsed block: %v", err)
		}
		again, err := grubenv.Parse(out)
		if err != nil {
			t.Fatalf("Parse(Encode(Parse(in))): %v", err)
		}
		if !slices.Equal(again.Names(), e.Names()) {
			t.Fatalf("names %v then %v", e.Names(), again.Names())
		}
		for _, n := range e.Names() {
			if again.Value(n) != e.Value(n) {
				t.Fatalf("%s: %q then %q", n, e.Value(n), again.Value(n))
			}
		}
		if len(out) > len(in) {
			t.Fatalf("re-encoding grew the block: %d > %d", len(out), len(in))
		}
	})
}
