package debs

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/goleudy/goleudy/boards"
	"github.com/goleudy/goleudy/tools/lab"
)

// Go's reading of a .deb must agree with dpkg's own: the same files, with
// the same content, modes and link targets.

var toolDpkgDeb = lab.Tool{Name: "dpkg-deb", Package: "dpkg"}

// treeOf lists a directory as "path type mode content-or-target".
func treeOf(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if rel == "." {
			return nil
		}
		st, err := os.Lstat(p)
		if err != nil {
			return err
		}
		switch {
		case st.Mode()&fs.ModeSymlink != 0:
			target, _ := os.Readlink(p)
			out[rel] = "symlink -> " + target
		case st.IsDir():
			out[rel] = fmt.Sprintf("dir %o", st.Mode().Perm())
		default:
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			out[rel] = fmt.Sprintf("file %o %d %x", st.Mode().Perm(), len(b), b[:min(len(b), 32)])
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// compareWithDpkg extracts deb with ExtractTo and with dpkg-deb -x and
// compares the trees.
func compareWithDpkg(t *testing.T, deb string) int {
	t.Helper()
	lab.Require(t, toolDpkgDeb)
	ours, theirs := filepath.Join(t.TempDir(), "go"), filepath.Join(t.TempDir(), "dpkg")
	if err := ExtractTo(deb, ours); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("dpkg-deb", "-x", deb, theirs).CombinedOutput(); err != nil {
		t.Fatalf("dpkg-deb -x: %v\n%s", err, out)
	}
	a, b := treeOf(t, ours), treeOf(t, theirs)
	for k, v := range b {
		if a[k] != v {
			t.Errorf("%s: Go has %q, dpkg %q", k, a[k], v)
		}
	}
	for k := range a {
		if _, ok := b[k]; !ok {
			t.Errorf("%s: only Go extracted it", k)
		}
	}
	return len(b)
}

func TestAgreesWithDpkgDebBuild(t *testing.T) {
	lab.Require(t, toolDpkgDeb)
	src := t.TempDir()
	write := func(p, body string, mode fs.FileMode) {
		full := filepath.Join(src, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(body), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(full, mode); err != nil {
			t.Fatal(err)
		}
	}
	write("DEBIAN/control", "Package: goleudy-fixture\nVersion: 1.0-1\nArchitecture: all\nMaintainer: Test <test@example.invalid>\nDescription: fixture\n", 0o644)
	write("usr/bin/tool", "#!/bin/sh\necho tool\n", 0o755)
	write("lib/firmware/vendor/fw.bin", strings.Repeat("\x00\x01firmware", 5000), 0o644)
	write("usr/share/doc/goleudy-fixture/empty", "", 0o644)
	if err := os.Symlink("fw.bin", filepath.Join(src, "lib/firmware/vendor/alias.bin")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/usr/bin/tool", filepath.Join(src, "usr/bin/tool-abs")); err != nil {
		t.Fatal(err)
	}
	for _, z := range []string{"xz", "gzip", "zstd", "none"} {
		t.Run(z, func(t *testing.T) {
			deb := filepath.Join(t.TempDir(), "fixture.deb")
			cmd := exec.Command("dpkg-deb", "--root-owner-group", "-Z"+z, "--build", src, deb)
			cmd.Env = append(os.Environ(), "SOURCE_DATE_EPOCH=1700000000")
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("dpkg-deb --build: %v\n%s", err, out)
			}
			if n := compareWithDpkg(t, deb); n < 8 {
				t.Errorf("only %d entries compared", n)
			}
			got, err := ExtractFiles(deb, map[string]bool{"lib/firmware/vendor/alias.bin": true})
			if err != nil || len(got["lib/firmware/vendor/alias.bin"]) != 50000 {
				t.Errorf("alias.bin: %d bytes, %v", len(got["lib/firmware/vendor/alias.bin"]), err)
			}
		})
	}
}

// The real, small packages the boards pin, from the cache.
func TestAgreesWithDpkgOnPinnedPackages(t *testing.T) {
	cache, err := DefaultCache()
	if err != nil {
		t.Fatal(err)
	}
	f := &Fetcher{Cache: cache}
	for _, name := range []string{"firmware-realtek", "grub-efi-amd64-bin", "raspi-firmware"} {
		var pin boards.Package
		for _, p := range boards.Everything() {
			if p.Name == name {
				pin = p
			}
		}
		t.Run(name, func(t *testing.T) {
			deb, err := f.Fetch(context.Background(), pin)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%d entries agree", compareWithDpkg(t, deb))
		})
	}
}
