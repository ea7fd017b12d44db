package debs

import (
	"archive/tar"
	"bytes"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ulikunitz/xz/lzma"
)

// walk lists what Extract passes to its callback: name → content, with
// "-> target" for links and "/" for directories.
func walk(t *testing.T, deb string) map[string]string {
	t.Helper()
	got := map[string]string{}
	err := Extract(deb, func(name string, hdr *tar.Header, r io.Reader) error {
		switch hdr.Typeflag {
		case tar.TypeDir:
			got[name] = "/"
		case tar.TypeSymlink, tar.TypeLink:
			got[name] = "-> " + hdr.Linkname
		default:
			b, err := io.ReadAll(r)
			if err != nil {
				return err
			}
			got[name] = string(b)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func TestExtractEveryCompression(t *testing.T) {
	for _, ext := range []string{"", ".gz", ".xz", ".zst"} {
		t.Run("data.tar"+ext, func(t *testing.T) {
			deb := writeDeb(t, t.TempDir(), "f.deb", debBytes(t, ext, fixtureEntries))
			got := walk(t, deb)
			want := map[string]string{
				"usr": "/", "usr/bin": "/", "usr/bin/tool": "#!/bin/sh\necho tool\n", "usr/lib": "/",
				"usr/lib/fw": "/", "usr/lib/fw/a.bin": "firmware A", "usr/lib/fw/b.bin": "-> a.bin",
				"usr/lib/fw/c.bin": "-> /usr/lib/fw/b.bin", "usr/lib/fw/d.bin": "-> ./usr/lib/fw/a.bin",
				"lib": "-> usr/lib", "usr/share": "/", "usr/share/empty": "",
			}
			for k, v := range want {
				if got[k] != v {
					t.Errorf("%s: %q, want %q", k, got[k], v)
				}
			}
			if len(got) != len(want) {
				t.Errorf("%d entries, want %d: %v", len(got), len(want), got)
			}
		})
	}
}

// Go has no bzip2 writer, so that fixture was made with bzip2(1):
// testdata/hello.tar.bz2 holds ./hello. dpkg no longer builds .bz2 or
// .lzma packages but still reads them, and so does Extract.
func TestExtractOldCompressions(t *testing.T) {
	bz, err := os.ReadFile("testdata/hello.tar.bz2")
	if err != nil {
		t.Fatal(err)
	}
	var lz bytes.Buffer
	w, err := lzma.NewWriter(&lz)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(tarBytes(t, []entry{{name: "./hello", body: "hello from lzma\n"}}))
	w.Close()
	for ext, c := range map[string]struct {
		data []byte
		want string
	}{".bz2": {bz, "hello from bzip2\n"}, ".lzma": {lz.Bytes(), "hello from lzma\n"}} {
		deb := writeDeb(t, t.TempDir(), "old.deb", arBytes(member{"debian-binary", []byte("2.0\n")}, member{"data.tar" + ext, c.data}))
		if got := walk(t, deb); got["hello"] != c.want {
			t.Errorf("data.tar%s: %q, want hello = %q", ext, got, c.want)
		}
	}
}

func TestExtractStopsEarly(t *testing.T) {
	deb := writeDeb(t, t.TempDir(), "f.deb", debBytes(t, ".xz", fixtureEntries))
	n := 0
	err := Extract(deb, func(name string, _ *tar.Header, _ io.Reader) error {
		n++
		if name == "usr/bin" {
			return fs.SkipAll
		}
		return nil
	})
	if err != nil || n != 2 {
		t.Errorf("stopped after %d entries with %v, want 2 and nil", n, err)
	}
	boom := errors.New("boom")
	err = Extract(deb, func(string, *tar.Header, io.Reader) error { return boom })
	if !errors.Is(err, boom) || !strings.Contains(err.Error(), "f.deb") {
		t.Errorf("callback error came back as %v", err)
	}
}

func TestExtractRefusesBadPackages(t *testing.T) {
	tarball := tarBytes(t, fixtureEntries)
	cases := []struct {
		name string
		data []byte
		want error
		text string
	}{
		{"not ar", []byte("PK\x03\x04 a zip file"), ErrFormat, "bad magic"},
		{"no debian-binary", arBytes(member{"data.tar", tarball}), ErrFormat, "not debian-binary"},
		{"format 3", arBytes(member{"debian-binary", []byte("3.0\n")}, member{"data.tar", tarball}), ErrFormat, `format "3.0"`},
		{"no data", arBytes(member{"debian-binary", []byte("2.0\n")}, member{"control.tar.gz", nil}), ErrFormat, "no data.tar"},
		{"lz4", arBytes(member{"debian-binary", []byte("2.0\n")}, member{"data.tar.lz4", tarball}), ErrFormat, `unknown compression ".lz4"`},
		{"corrupt xz", arBytes(member{"debian-binary", []byte("2.0\n")}, member{"data.tar.xz", []byte("not xz at all")}), ErrFormat, "data.tar.xz"},
		{"corrupt tar", arBytes(member{"debian-binary", []byte("2.0\n")}, member{"data.tar", tarball[:700]}), ErrFormat, "data.tar"},
		{"dot-dot", debBytes(t, "", []entry{{name: "./../etc/passwd", body: "x"}}), ErrUnsafePath, "../etc/passwd"},
		{"absolute", debBytes(t, "", []entry{{name: "/etc/passwd", body: "x"}}), ErrUnsafePath, "/etc/passwd"},
	}
	for _, c := range cases {
		deb := writeDeb(t, t.TempDir(), "bad.deb", c.data)
		err := Extract(deb, func(string, *tar.Header, io.Reader) error { return nil })
		if !errors.Is(err, c.want) || !strings.Contains(err.Error(), c.text) || !strings.Contains(err.Error(), "bad.deb") {
			t.Errorf("%s: %v, want %v naming bad.deb and %q", c.name, err, c.want, c.text)
		}
	}
	if err := Extract(filepath.Join(t.TempDir(), "none.deb"), nil); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
}

func TestExtractFilesFollowsLinks(t *testing.T) {
	deb := writeDeb(t, t.TempDir(), "f.deb", debBytes(t, ".xz", fixtureEntries))
	got, err := ExtractFiles(deb, map[string]bool{
		"usr/bin/tool": true, "./usr/lib/fw/b.bin": true, "/usr/lib/fw/c.bin": true, "usr/lib/fw/d.bin": true,
		"usr/share/empty": true,
	})
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{"usr/bin/tool": "#!/bin/sh\necho tool\n", "./usr/lib/fw/b.bin": "firmware A",
		"/usr/lib/fw/c.bin": "firmware A", "usr/lib/fw/d.bin": "firmware A", "usr/share/empty": ""} {
		if string(got[name]) != want {
			t.Errorf("%s: %q, want %q", name, got[name], want)
		}
	}
	_, err = ExtractFiles(deb, map[string]bool{"usr/bin/tool": true, "usr/bin/nope": true, "etc/nope": true})
	if !errors.Is(err, ErrMissingFile) || !strings.Contains(err.Error(), "etc/nope, usr/bin/nope") {
		t.Errorf("missing files: %v, want ErrMissingFile listing both", err)
	}
	loop := writeDeb(t, t.TempDir(), "loop.deb", debBytes(t, "", []entry{{name: "./a", typ: tar.TypeSymlink, link: "b"},
		{name: "./b", typ: tar.TypeSymlink, link: "a"}}))
	if _, err := ExtractFiles(loop, map[string]bool{"a": true}); !errors.Is(err, ErrMissingFile) {
		t.Errorf("symlink loop: %v, want ErrMissingFile", err)
	}
}

func TestExtractTo(t *testing.T) {
	deb := writeDeb(t, t.TempDir(), "f.deb", debBytes(t, ".gz", fixtureEntries))
	dir := filepath.Join(t.TempDir(), "out")
	if err := ExtractTo(deb, dir); err != nil {
		t.Fatal(err)
	}
	read := func(p string) string {
		b, err := os.ReadFile(filepath.Join(dir, p))
		if err != nil {
			t.Error(err)
		}
		return string(b)
	}
	if read("usr/lib/fw/b.bin") != "firmware A" || read("lib/fw/d.bin") != "firmware A" {
		t.Error("links do not reach the file")
	}
	st, err := os.Stat(filepath.Join(dir, "usr/bin/tool"))
	if err != nil || st.Mode().Perm() != 0o755 || !st.ModTime().Equal(fixtureTime) {
		t.Errorf("tool: %v %v %v, want 0755 and the package's mtime", st.Mode(), st.ModTime(), err)
	}
	if l, _ := os.Readlink(filepath.Join(dir, "usr/lib/fw/c.bin")); l != "/usr/lib/fw/b.bin" {
		t.Errorf("symlink target %q kept as written? want /usr/lib/fw/b.bin", l)
	}
	a, _ := os.Stat(filepath.Join(dir, "usr/lib/fw/a.bin"))
	d, _ := os.Stat(filepath.Join(dir, "usr/lib/fw/d.bin"))
	if !os.SameFile(a, d) {
		t.Error("hard link is not the same file")
	}
	// Extracting again over the same tree replaces, as dpkg would.
	if err := ExtractTo(deb, dir); err != nil {
		t.Errorf("second extraction: %v", err)
	}
}

// A package cannot write outside the directory, neither by its entry
// names nor through a symlink it planted earlier.
func TestExtractToStaysInside(t *testing.T) {
	outside := t.TempDir()
	cases := map[string][]entry{
		"dot-dot": {{name: "./../escaped", body: "x"}},
		"through symlink": {
			{name: "./evil", typ: tar.TypeSymlink, link: outside},
			{name: "./evil/escaped", body: "x"},
		},
		"through relative symlink": {
			{name: "./up", typ: tar.TypeSymlink, link: "../../../../../../../../" + outside},
			{name: "./up/escaped", body: "x"},
		},
		"hard link out": {{name: "./h", typ: tar.TypeLink, link: "../../../etc/passwd"}},
	}
	for name, entries := range cases {
		deb := writeDeb(t, t.TempDir(), "evil.deb", debBytes(t, "", entries))
		err := ExtractTo(deb, filepath.Join(t.TempDir(), "root"))
		if !errors.Is(err, ErrUnsafePath) {
			t.Errorf("%s: %v, want ErrUnsafePath", name, err)
		}
		if _, err := os.Stat(filepath.Join(outside, "escaped")); err == nil {
			t.Fatalf("%s: wrote outside the directory", name)
		}
	}
}

func TestWantName(t *testing.T) {
	for in, want := range map[string]string{"./usr/x": "usr/x", "/usr/x": "usr/x", "usr//x/": "usr/x", "usr/./x": "usr/x"} {
		if got := wantName(in); got != want {
			t.Errorf("wantName(%q) = %q, want %q", in, got, want)
		}
	}
	names := []string{}
	for _, raw := range []string{"./", "./a", "a/../b", "./a/./c/"} {
		n, err := entryName(raw)
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, n)
	}
	if !slices.Equal(names, []string{".", "a", "b", "a/c"}) {
		t.Errorf("entry names %v", names)
	}
}
