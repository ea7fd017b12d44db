package update

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// FuzzLoadRecord: whatever a power cut or a bad card leaves in
// update.json, loading it returns an error or a record, never a panic,
// and a record that loads saves and loads back the same.
func FuzzLoadRecord(f *testing.F) {
	f.Add([]byte(`{"phase":"trial","target":{"version":"v2","build":2,"sha256":"ab","size":3,"url":"http://x/"},"slot":"B","failed":{"3/cd":"why"}}`))
	f.Add([]byte(`{"phase":`))
	f.Add([]byte{})
	f.Add([]byte(`{"failed":{}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, RecordFile), data, 0o600); err != nil {
			t.Fatal(err)
		}
		r, err := loadRecord(dir)
		if err != nil {
			return
		}
		if err := r.save(dir); err != nil {
			t.Fatal(err)
		}
		r2, err := loadRecord(dir)
		if err != nil {
			t.Fatalf("a saved record does not load: %v", err)
		}
		j1, _ := json.Marshal(r)
		j2, _ := json.Marshal(r2)
		if string(j1) != string(j2) {
			t.Errorf("saved and loaded back:\n%s\n%s", j1, j2)
		}
	})
}

// FuzzRangeStart: Content-Range headers from a server are parsed without
// panics, and a parsed start is never negative.
func FuzzRangeStart(f *testing.F) {
	f.Add("bytes 100-199/200")
	f.Add("bytes -1-2/3")
	f.Add("items 0-1/2")
	f.Fuzz(func(t *testing.T, v string) {
		if n, ok := rangeStart(v); ok && n < 0 {
			t.Errorf("rangeStart(%q) = %d", v, n)
		}
	})
}
