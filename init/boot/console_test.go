package boot

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestConsole(t *testing.T) {
	dev := t.TempDir()
	for _, n := range []string{"console", "kmsg"} {
		os.WriteFile(filepath.Join(dev, n), nil, 0o600)
	}
	c, err := OpenConsole(dev)
	if err != nil {
		t.Fatal(err)
	}
	long := strings.Repeat("x", 2000)
	msg := []byte("goleudy: ready in 3.2s\n\nsecond line\n" + long)
	if n, err := c.Write(msg); err != nil || n != len(msg) {
		t.Fatalf("Write = %d, %v", n, err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	con, _ := os.ReadFile(filepath.Join(dev, "console"))
	if string(con) != "goleudy: ready in 3.2s\n\nsecond line\n"+long {
		t.Errorf("console got %q", con)
	}
	// A regular file shows the records end to end; /dev/kmsg keeps them apart.
	km, _ := os.ReadFile(filepath.Join(dev, "kmsg"))
	if want := "<6>goleudy: ready in 3.2s<6>second line<6>" + long[:kmsgMax]; string(km) != want {
		t.Errorf("kmsg got %q", km)
	}

	// Only one of the two is enough.
	os.Remove(filepath.Join(dev, "kmsg"))
	c, err = OpenConsole(dev)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Write([]byte("x\n")); err != nil {
		t.Error(err)
	}
	c.Close()
	if _, err := OpenConsole(t.TempDir()); err == nil || !strings.Contains(err.Error(), "console") {
		t.Errorf("no console and no kmsg: %v", err)
	}
}

func TestParseUptime(t *testing.T) {
	for in, want := range map[string]time.Duration{
		"12345.67 23456.78\n": 12345670 * time.Millisecond,
		"0.01 0.00":           10 * time.Millisecond,
	} {
		if got, err := parseUptime(in); err != nil || got != want {
			t.Errorf("parseUptime(%q) = %v, %v, want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "abc 1", "-1 0", "NaN 0", "Inf", "1e12"} {
		if _, err := parseUptime(in); err == nil || !strings.Contains(err.Error(), "uptime") {
			t.Errorf("parseUptime(%q) = %v, want an error", in, err)
		}
	}
}

func FuzzParseUptime(f *testing.F) {
	f.Add("12345.67 23456.78\n")
	f.Add("1e3")
	f.Fuzz(func(t *testing.T, s string) {
		d, err := parseUptime(s)
		if err == nil && (d < 0 || d > 1e9*time.Second) {
			t.Errorf("parseUptime(%q) = %v", s, d)
		}
	})
}
