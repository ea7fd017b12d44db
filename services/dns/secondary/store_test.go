package secondary

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func sortStrings(s []string) { slices.Sort(s) }

func TestZoneFileRoundTrip(t *testing.T) {
	for _, n := range []int{3, 1000, chunkRecords + 7, 3 * chunkRecords} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			z := mustZone(t, "example.com.", genRecords("example.com.", 7, n))
			dir := t.TempDir()
			if err := saveZone(dir, z); err != nil {
				t.Fatal(err)
			}
			got, fi, err := loadZone(dir, "Example.COM.")
			if err != nil {
				t.Fatal(err)
			}
			if fi == nil || got.Serial() != 7 || got.Len() != z.Len() {
				t.Fatalf("loaded serial %d len %d, want 7 %d", got.Serial(), got.Len(), z.Len())
			}
			if !slices.Equal(zoneStrings(got), zoneStrings(z)) {
				t.Fatal("records differ after round trip")
			}
		})
	}
}

func TestZoneFileMissing(t *testing.T) {
	z, fi, err := loadZone(t.TempDir(), "example.com.")
	if z != nil || fi != nil || err != nil {
		t.Fatalf("got %v %v %v, want nothing", z, fi, err)
	}
}

func TestZoneFileCorrupt(t *testing.T) {
	z := mustZone(t, "example.com.", genRecords("example.com.", 7, 100))
	good, err := encodeZone(z)
	if err != nil {
		t.Fatal(err)
	}
	other, err := encodeZone(mustZone(t, "other.test.", genRecords("other.test.", 1, 10)))
	if err != nil {
		t.Fatal(err)
	}
	flip := func(i int) []byte { b := slices.Clone(good); b[i] ^= 0x40; return b }
	for _, tc := range []struct {
		name string
		data []byte
	}{
		{"empty", nil},
		{"magic", flip(0)},
		{"version", flip(5)},
		{"truncated", good[:len(good)-1]},
		{"trailing", append(slices.Clone(good), 0)},
		{"body bit", flip(len(good) / 2)},
		{"count", flip(9)},
		{"crc", flip(21)},
		{"header only", good[:headerLen]},
		{"other zone", other},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(fileName(dir, "example.com."), tc.data, 0o644); err != nil {
				t.Fatal(err)
			}
			_, _, err := loadZone(dir, "example.com.")
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("err = %v, want ErrCorrupt", err)
			}
		})
	}
}

func TestFileName(t *testing.T) {
	dir := "/state"
	for origin, want := range map[string]string{
		"example.com.":  "example.com" + fileSuffix,
		"EXAMPLE.com":   "example.com" + fileSuffix,
		".":             "%2E" + fileSuffix,
		"a/b.example.":  "a%2Fb.example" + fileSuffix,
		"..evil.":       "%2E.evil" + fileSuffix,
		"x\\032y.test.": "x%5C032y.test" + fileSuffix,
		"_dmarc.a-b.c.": "_dmarc.a-b.c" + fileSuffix,
	} {
		if got := fileName(dir, origin); got != filepath.Join(dir, want) {
			t.Errorf("fileName(%q) = %q, want %q", origin, got, want)
		}
	}
}

// BenchmarkLoad1M loads a 1M-record zone file: read, check, decode and
// build the Zone, as a node does at boot.
func BenchmarkLoad1M(b *testing.B) {
	dir := b.TempDir()
	z := mustZone(b, "example.com.", genRecords("example.com.", 1, 1_000_000))
	if err := saveZone(dir, z); err != nil {
		b.Fatal(err)
	}
	fi, _ := os.Stat(fileName(dir, "example.com."))
	b.ReportMetric(float64(fi.Size())/1e6, "MB-file")
	z = nil
	b.ResetTimer()
	for b.Loop() {
		got, _, err := loadZone(dir, "example.com.")
		if err != nil || got.Len() != 1_000_000 {
			b.Fatal(err)
		}
	}
}

// BenchmarkLoad10kZones loads 10,000 small zone files, in parallel as
// Manager.Run does.
func BenchmarkLoad10kZones(b *testing.B) {
	dir := b.TempDir()
	const n = 10_000
	origins := make([]string, n)
	for i := range origins {
		origins[i] = fmt.Sprintf("zone%d.example.net.", i)
		if err := saveZone(dir, mustZone(b, origins[i], genRecords(origins[i], 1, 20))); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	for b.Loop() {
		parallel(n, func(i int) {
			if _, _, err := loadZone(dir, origins[i]); err != nil {
				b.Error(err)
			}
		})
	}
}
