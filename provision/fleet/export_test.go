package fleet

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// populate puts something in every bucket.
func populate(t *testing.T, s *Store) {
	t.Helper()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(s.SetDefaults("op", fleetDefaults()))
	must(s.SetTunnelPrefix("op", netipPrefix("10.53.0.0/24")))
	for i, id := range []string{"alban", "bede"} {
		must(s.AddNode("op", nodeDoc(id, "198.51.100.2")))
		_, err := s.AllocateTunnelAddress("op", id, wgKey(byte(i+1)))
		must(err)
	}
	must(s.AddZone("op", Zone{Name: "example.com.", Primaries: []string{"192.0.2.1"}, TSIG: "hub"}))
	secret, err := s.NewToken("op", "alban", epoch.Add(time.Hour))
	must(err)
	must(s.Redeem(secret, "alban", epoch))
	_, err = s.NewToken("op", "bede", epoch.Add(time.Hour))
	must(err)
	must(s.AddRelease("ci", release("rpi", 7)))
	_, err = s.StartRollout("op", "v1.2.7", 1)
	must(err)
}

func export(t *testing.T, s *Store) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := s.Export(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestExportImportRoundTrip(t *testing.T) {
	src := newStore(t)
	populate(t, src)
	want := export(t, src)

	dst := newStore(t)
	if err := dst.Import(bytes.NewReader(want)); err != nil {
		t.Fatal(err)
	}
	if got := export(t, dst); !bytes.Equal(got, want) {
		t.Fatalf("round trip differs:\n%s\nwant:\n%s", got, want)
	}
	a, _ := src.Render("alban")
	b, err := dst.Render("alban")
	if err != nil || !reflect.DeepEqual(a, b) {
		t.Fatalf("imported store renders differently: %v", err)
	}
	// The standby carries on: its next change is a newer serial and a new
	// audit entry after the imported ones.
	before, _ := dst.Serial()
	if err := dst.RemoveZone("standby", "example.com."); err != nil {
		t.Fatal(err)
	}
	if after, _ := dst.Serial(); after != before+1 {
		t.Fatalf("serial after import %d -> %d", before, after)
	}
	log, _ := dst.Audit(0, 0)
	if last := log[len(log)-1]; last.Actor != "standby" || last.Seq != uint64(len(log)) {
		t.Fatalf("last audit entry %+v", last)
	}
}

func TestImportRefuses(t *testing.T) {
	src := newStore(t)
	populate(t, src)
	good := string(export(t, src))

	tests := []struct {
		name string
		doc  string
		want error
	}{
		{"not empty", good, ErrNotEmpty},
		{"unknown field", strings.Replace(good, `"format": 1`, `"format": 1, "extra": 1`, 1), nil},
		{"wrong format", strings.Replace(good, `"format": 1`, `"format": 2`, 1), nil},
		{"duplicate zone", strings.Replace(good, `"zones": [`, `"zones": [{"name":"example.com.","primaries":["192.0.2.1:53"]},`, 1), ErrExists},
		{"bad node document", strings.Replace(good, `"id": "bede"`, `"id": "Bede!"`, 1), nil},
		{"audit out of order", strings.Replace(good, `"seq": 2,`, `"seq": 9,`, 1), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var s *Store
			if tt.name == "not empty" {
				s = src
			} else {
				s = newStore(t)
			}
			before := export(t, s)
			err := s.Import(strings.NewReader(tt.doc))
			if err == nil || (tt.want != nil && !errors.Is(err, tt.want)) {
				t.Fatalf("got %v, want refusal %v", err, tt.want)
			}
			if after := export(t, s); !bytes.Equal(after, before) {
				t.Fatal("refused import changed the store")
			}
		})
	}
}

func TestBackupOpensAsStore(t *testing.T) {
	src := newStore(t)
	populate(t, src)
	want := export(t, src)

	dir := t.TempDir()
	var buf bytes.Buffer
	n, err := src.Backup(&buf)
	if err != nil || n != int64(buf.Len()) {
		t.Fatalf("Backup = %d, %v (buffer %d)", n, err, buf.Len())
	}
	streamed := filepath.Join(dir, "streamed.db")
	if err := os.WriteFile(streamed, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "file.db")
	if err := src.BackupFile(file); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(file); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("backup file mode: %v, %v", fi, err)
	}
	for _, path := range []string{streamed, file} {
		restored := openStore(t, path)
		if got := export(t, restored); !bytes.Equal(got, want) {
			t.Errorf("%s: restored store differs", filepath.Base(path))
		}
	}
}
