package timesync

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestParseFloor(t *testing.T) {
	want := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	for _, ok := range []string{"2025-06-01T12:00:00Z\n", "2025-06-01T12:00:00Z"} {
		got, err := ParseFloor([]byte(ok))
		if err != nil || !got.Equal(want) {
			t.Errorf("ParseFloor(%q) = %v, %v; want %v", ok, got, err, want)
		}
	}
	for _, c := range []struct{ in, says string }{
		{"", "not an RFC 3339"},
		{"\n", "not an RFC 3339"},
		{"2025-06-01T12:00:00+01:00\n", "not an RFC 3339"},
		{"2025-06-01T12:00:00.5Z\n", "not an RFC 3339"},
		{"2025-06-01T12:00:00Z\n\n", "not an RFC 3339"},
		{"2025-13-01T12:00:00Z\n", "not an RFC 3339"},
		{"yesterday afternoonZ", "not an RFC 3339"},
		{"1970-01-01T00:00:00Z\n", "outside 2000..2199"},
		{"2200-01-01T00:00:00Z\n", "outside 2000..2199"},
	} {
		_, err := ParseFloor([]byte(c.in))
		if err == nil || !strings.Contains(err.Error(), c.says) {
			t.Errorf("ParseFloor(%q) = %v, want an error saying %q", c.in, err, c.says)
		}
	}
}

func FuzzParseFloor(f *testing.F) {
	f.Add([]byte("2025-06-01T12:00:00Z\n"))
	f.Add([]byte("2025-06-01T12:00:00+01:00"))
	f.Add([]byte("0000-00-00T00:00:00Z"))
	f.Fuzz(func(t *testing.T, data []byte) {
		tm, err := ParseFloor(data)
		if err != nil {
			return
		}
		if tm.Before(minFloor) || !tm.Before(maxFloor) || tm.Location() != time.UTC {
			t.Fatalf("accepted %q as %v", data, tm)
		}
		back, err := ParseFloor([]byte(tm.Format(time.RFC3339) + "\n"))
		if err != nil || !back.Equal(tm) {
			t.Fatalf("%q: re-encoding gives %v, %v", data, back, err)
		}
	})
}

func TestFloorFile(t *testing.T) {
	file := filepath.Join(t.TempDir(), FloorFile)
	f, err := LoadFloor(file)
	if err != nil || !f.Time().IsZero() {
		t.Fatalf("missing file: %v, %v; want a zero floor", f.Time(), err)
	}
	t1 := time.Date(2025, 6, 1, 12, 0, 0, 900e6, time.FixedZone("CEST", 7200))
	if moved, err := f.Raise(t1); !moved || err != nil {
		t.Fatalf("Raise = %v, %v", moved, err)
	}
	data, _ := os.ReadFile(file)
	if string(data) != "2025-06-01T10:00:00Z\n" {
		t.Errorf("file holds %q; want the time in UTC, truncated to the second", data)
	}
	if moved, err := f.Raise(t1.Add(-time.Hour)); moved || err != nil {
		t.Errorf("lowering: moved %v, %v; the floor only rises", moved, err)
	}
	if _, err := f.Raise(time.Unix(0, 0)); err == nil {
		t.Error("Raise to 1970 accepted")
	}
	again, err := LoadFloor(file)
	if err != nil || !again.Time().Equal(t1.Truncate(time.Second)) {
		t.Errorf("reloaded %v, %v; want %v", again.Time(), err, t1.Truncate(time.Second))
	}
	entries, _ := os.ReadDir(filepath.Dir(file))
	if len(entries) != 1 {
		t.Errorf("temporary files left behind: %v", entries)
	}

	if err := os.WriteFile(file, []byte("garbage"), 0o644); err != nil {
		t.Fatal(err)
	}
	bad, err := LoadFloor(file)
	if err == nil || !strings.Contains(err.Error(), file) {
		t.Errorf("corrupt file: %v; want an error naming %s", err, file)
	}
	if bad == nil || !bad.Time().IsZero() {
		t.Fatal("corrupt file: want a usable zero floor")
	}
	if _, err := bad.Raise(t1); err != nil {
		t.Fatal(err)
	}
	if fixed, err := LoadFloor(file); err != nil || fixed.Time().IsZero() {
		t.Errorf("Raise did not rewrite the corrupt file: %v", err)
	}

	mem, _ := LoadFloor("")
	if moved, err := mem.Raise(t1); !moved || err != nil || mem.File() != "" {
		t.Errorf("in-memory floor: %v, %v", moved, err)
	}
}
