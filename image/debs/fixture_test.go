package debs

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"

	"github.com/goleudy/goleudy/boards"
)

// Fixture packages are built in the test, in Go, so the unit tests need
// neither the network nor dpkg; dpkg_test.go checks the same reader
// against packages that the real dpkg-deb built.

// member is one ar member.
type member struct {
	name string
	data []byte
}

// arBytes writes an ar archive as dpkg does: System V names ending in
// '/', data padded to an even length.
func arBytes(members ...member) []byte {
	var b bytes.Buffer
	b.WriteString(arMagic)
	for _, m := range members {
		name := m.name
		if len(name) < 16 {
			name += "/"
		}
		fmt.Fprintf(&b, "%-16s%-12d%-6d%-6d%-8s%-10d`\n", name, 0, 0, 0, "100644", len(m.data))
		b.Write(m.data)
		if len(m.data)%2 == 1 {
			b.WriteByte('\n')
		}
	}
	return b.Bytes()
}

// entry is one file of a fixture's data.tar.
type entry struct {
	name string // as dpkg writes it: ./usr/bin/x
	typ  byte   // tar.TypeReg if 0
	body string
	link string
	mode int64
}

var fixtureTime = time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)

// tarBytes writes a tar archive of the entries.
func tarBytes(t testing.TB, entries []entry) []byte {
	t.Helper()
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for _, e := range entries {
		h := &tar.Header{Name: e.name, Typeflag: e.typ, Linkname: e.link, Mode: e.mode, ModTime: fixtureTime,
			Uname: "root", Gname: "root", Format: tar.FormatGNU}
		if h.Typeflag == 0 {
			h.Typeflag = tar.TypeReg
		}
		if h.Mode == 0 {
			h.Mode = 0o644
			if h.Typeflag == tar.TypeDir {
				h.Mode = 0o755
			}
		}
		if h.Typeflag == tar.TypeReg {
			h.Size = int64(len(e.body))
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if h.Typeflag == tar.TypeReg {
			if _, err := tw.Write([]byte(e.body)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// compress compresses data for a data.tar.EXT member.
func compress(t testing.TB, ext string, data []byte) []byte {
	t.Helper()
	var b bytes.Buffer
	switch ext {
	case "":
		return data
	case ".gz":
		w := gzip.NewWriter(&b)
		w.Write(data)
		w.Close()
	case ".xz":
		w, err := xz.NewWriter(&b)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(data)
		w.Close()
	case ".zst":
		w, err := zstd.NewWriter(&b, zstd.WithEncoderConcurrency(1))
		if err != nil {
			t.Fatal(err)
		}
		w.Write(data)
		w.Close()
	default:
		t.Fatalf("no compressor for %q", ext)
	}
	return b.Bytes()
}

// debBytes builds a .deb whose data.tar is compressed with ext.
func debBytes(t testing.TB, ext string, entries []entry) []byte {
	t.Helper()
	control := tarBytes(t, []entry{{name: "./", typ: tar.TypeDir}, {name: "./control", body: "Package: fixture\n"}})
	return arBytes(
		member{"debian-binary", []byte("2.0\n")},
		member{"control.tar.gz", compress(t, ".gz", control)},
		member{"data.tar" + ext, compress(t, ext, tarBytes(t, entries))},
	)
}

// fixtureEntries is a small package with the shapes real ones have: nested
// directories, an executable, a relative and an absolute symlink, a hard
// link and a symlinked directory.
var fixtureEntries = []entry{
	{name: "./", typ: tar.TypeDir},
	{name: "./usr/", typ: tar.TypeDir},
	{name: "./usr/bin/", typ: tar.TypeDir},
	{name: "./usr/bin/tool", body: "#!/bin/sh\necho tool\n", mode: 0o755},
	{name: "./usr/lib/", typ: tar.TypeDir},
	{name: "./usr/lib/fw/", typ: tar.TypeDir},
	{name: "./usr/lib/fw/a.bin", body: "firmware A"},
	{name: "./usr/lib/fw/b.bin", typ: tar.TypeSymlink, link: "a.bin"},
	{name: "./usr/lib/fw/c.bin", typ: tar.TypeSymlink, link: "/usr/lib/fw/b.bin"},
	{name: "./usr/lib/fw/d.bin", typ: tar.TypeLink, link: "./usr/lib/fw/a.bin"},
	{name: "./lib", typ: tar.TypeSymlink, link: "usr/lib"},
	{name: "./usr/share/", typ: tar.TypeDir},
	{name: "./usr/share/empty", body: ""},
}

// writeDeb writes a fixture package to dir/name and returns its path.
func writeDeb(t testing.TB, dir, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// pinOf pins fixture bytes as a package named name.
func pinOf(name string, data []byte) boards.Package {
	sum := sha256.Sum256(data)
	return boards.Package{Name: name, Version: "1.0-1", Arch: "amd64",
		Filename: "pool/main/" + name[:1] + "/" + name + "/" + name + "_1.0-1_amd64.deb",
		SHA256:   hex.EncodeToString(sum[:]), Size: int64(len(data))}
}
