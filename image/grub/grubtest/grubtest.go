// Package grubtest gives tests the real GRUB toolchain and Debian packages
// from the image builder's package cache. Tests never download: CI fills
// the cache first with `go run ./tools/goleudy image fetch`, and a test
// whose package is missing fails saying so.
//
// Packages are found by name in the cache, as the basename of their pool
// path (grub-common_2.06-13+deb12u2_amd64.deb). The integrator can switch
// CachedDeb to image/debs and the pins in boards without touching the
// tests that call it.
package grubtest

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/goleudy/goleudy/image/grub"
)

// FetchHint is how to fill the cache.
const FetchHint = "run `go run ./tools/goleudy image fetch` to fill the package cache"

// CacheDir is the image builder's package cache: $GOLEUDY_DEB_CACHE, else
// $XDG_CACHE_HOME/goleudy/debs, else ~/.cache/goleudy/debs.
func CacheDir() (string, error) {
	if d := os.Getenv("GOLEUDY_DEB_CACHE"); d != "" {
		return d, nil
	}
	if d := os.Getenv("XDG_CACHE_HOME"); d != "" {
		return filepath.Join(d, "goleudy", "debs"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("grubtest: package cache: %w", err)
	}
	return filepath.Join(home, ".cache", "goleudy", "debs"), nil
}

// CachedDeb returns the cached .deb of package name for arch (the newest
// by name if the cache holds several), or fails the test naming the fetch
// command.
func CachedDeb(tb testing.TB, name, arch string) string {
	tb.Helper()
	return CachedGlob(tb, name+"_*_"+arch+".deb")
}

// CachedGlob returns the cached .deb whose file name matches pattern (the
// last by name if several do), such as "linux-image-*-rpi_*_armel.deb",
// or fails the test naming the fetch command.
func CachedGlob(tb testing.TB, pattern string) string {
	tb.Helper()
	dir, err := CacheDir()
	if err != nil {
		tb.Fatal(err)
	}
	matches, err := filepath.Glob(filepath.Join(dir, pattern))
	if err != nil {
		tb.Fatal(err)
	}
	if len(matches) == 0 {
		tb.Fatalf("grubtest: no package %s in the cache %s: %s", pattern, dir, FetchHint)
	}
	slices.Sort(matches)
	return matches[len(matches)-1]
}

// Contents lists the paths in a .deb's data (without the leading "./"),
// read by Debian's dpkg-deb.
func Contents(tb testing.TB, deb string) map[string]bool {
	tb.Helper()
	cmd := exec.Command("dpkg-deb", "--fsys-tarfile", deb)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		tb.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		tb.Fatalf("dpkg-deb: %v", err)
	}
	tr := tar.NewReader(out)
	files := map[string]bool{}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
			tb.Fatalf("%s: %v", deb, err)
		}
		files[strings.TrimPrefix(h.Name, "./")] = true
	}
	if err := cmd.Wait(); err != nil {
		tb.Fatalf("dpkg-deb --fsys-tarfile %s: %v: %s", deb, err, stderr.String())
	}
	return files
}

// DpkgExtract is the Extractor tests use: dpkg-deb from Debian's dpkg,
// which every Debian system has. The image builder uses image/debs.
func DpkgExtract(deb, dir string) error {
	out, err := exec.Command("dpkg-deb", "-x", deb, dir).CombinedOutput()
	if err != nil {
		return fmt.Errorf("dpkg-deb -x %s: %w: %s", deb, err, out)
	}
	return nil
}

var (
	once    sync.Once
	shared  *grub.Toolchain
	dir     string
	initErr error
)

// Toolchain unpacks grub-common, grub-pc-bin, grub-efi-amd64-bin and
// libdevmapper1.02.1 from the cache once per test binary and returns the
// toolchain. Call Cleanup from TestMain to remove it.
func Toolchain(tb testing.TB) *grub.Toolchain {
	tb.Helper()
	debs := grub.Debs{
		Common: CachedDeb(tb, "grub-common", "amd64"),
		PC:     CachedDeb(tb, "grub-pc-bin", "amd64"),
		EFI:    CachedDeb(tb, "grub-efi-amd64-bin", "amd64"),
		Libs:   []string{CachedDeb(tb, "libdevmapper1.02.1", "amd64")},
	}
	once.Do(func() {
		dir, initErr = os.MkdirTemp("", "goleudy-grubtest-")
		if initErr != nil {
			return
		}
		shared, initErr = grub.Extract(context.Background(), dir, debs, DpkgExtract)
	})
	if initErr != nil {
		tb.Fatal(initErr)
	}
	return shared
}

// Cleanup removes the unpacked toolchain.
func Cleanup() {
	if dir != "" {
		os.RemoveAll(dir)
	}
}
