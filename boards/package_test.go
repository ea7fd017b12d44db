package boards_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/goleudy/goleudy/boards"
	"github.com/goleudy/goleudy/image/debs"
)

// These rules read the real pinned packages from the cache. Tests never
// download: a package the cache lacks fails the test with the command that
// fills it (go run ./tools/goleudy image fetch).

var (
	cacheOnce sync.Once
	fetcher   *debs.Fetcher
	cacheErr  error
	trees     sync.Map // Filename → func() (*debs.Tree, error)
	kernels   sync.Map // Filename → func() (*debs.Kernel, error)
)

// unpacked returns a cached package unpacked, once per test binary.
func unpacked(t *testing.T, p boards.Package) *debs.Tree {
	t.Helper()
	cacheOnce.Do(func() {
		var dir string
		dir, cacheErr = debs.DefaultCache()
		fetcher = &debs.Fetcher{Cache: dir} // no mirrors: never downloads
	})
	if cacheErr != nil {
		t.Fatal(cacheErr)
	}
	get, _ := trees.LoadOrStore(p.Filename, sync.OnceValues(func() (*debs.Tree, error) {
		return fetcher.Unpacked(context.Background(), p)
	}))
	tree, err := get.(func() (*debs.Tree, error))()
	if err != nil {
		t.Fatal(err)
	}
	return tree
}

// kernel reads the board's kernel modules, once per kernel.
func kernel(t *testing.T, b boards.Board) *debs.Kernel {
	t.Helper()
	tree := unpacked(t, b.Kernel)
	get, _ := kernels.LoadOrStore(b.Kernel.Filename, sync.OnceValues(func() (*debs.Kernel, error) {
		return debs.ReadKernel(tree, b.KernelRelease)
	}))
	k, err := get.(func() (*debs.Kernel, error))()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// Every root module is in the kernel's modules.dep or built in, and the
// closure over its dependencies exists in the package.
func TestModulesCloseOverTheKernel(t *testing.T) {
	forEach(t, func(t *testing.T, b boards.Board) {
		t.Parallel()
		k := kernel(t, b)
		mods, err := k.Closure(b.Modules)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := k.Closure(b.EmulatedModules()); err != nil {
			t.Fatalf("emulated: %v", err)
		}
		tree := unpacked(t, b.Kernel)
		for _, m := range mods {
			if _, err := tree.Resolve(b.ModulesDir() + "/" + m.Path); err != nil {
				t.Error(err)
			}
		}
		t.Logf("%d root modules close over %d module files", len(b.Modules), len(mods))
	})
}

// Every firmware file is in the package the row names, and some module
// the board loads asks for it (modinfo firmware=): firmware nobody loads
// is dead weight in the initramfs, and usually a typo.
func TestFirmwareExistsAndIsAskedFor(t *testing.T) {
	forEach(t, func(t *testing.T, b boards.Board) {
		t.Parallel()
		all := append(slices.Clone(b.Firmware), b.BootFirmware...)
		if b.Bootloader != (boards.File{}) {
			all = append(all, b.Bootloader, boards.File{Package: b.Bootloader.Package, Path: b.QEMU.Bootloader})
		}
		for _, f := range all {
			p, ok := b.Package(f.Package)
			if !ok {
				t.Errorf("%s: package %s is not pinned", f.Path, f.Package)
				continue
			}
			e, err := unpacked(t, p).Resolve(f.Path)
			if err != nil {
				t.Error(err)
				continue
			}
			if e.Type != debs.TypeFile || e.Size == 0 {
				t.Errorf("%s in %s is a %s of %d bytes", f.Path, p.Name, e.Type, e.Size)
			}
		}
		if len(b.Firmware) == 0 {
			return
		}
		mods, err := kernel(t, b).Closure(b.Modules)
		if err != nil {
			t.Fatal(err)
		}
		asked := map[string]bool{}
		for _, m := range mods {
			for _, fw := range m.Firmware {
				asked["lib/firmware/"+fw] = true
			}
		}
		for _, f := range b.Firmware {
			if !asked[f.Path] {
				t.Errorf("firmware %s: no module of the board asks for it", f.Path)
			}
		}
	})
}

// The kernel image and every DTB are in the kernel package.
func TestKernelImageAndDTBs(t *testing.T) {
	forEach(t, func(t *testing.T, b boards.Board) {
		t.Parallel()
		tree := unpacked(t, b.Kernel)
		for _, p := range append([]string{b.VMLinuz()}, b.DTBs...) {
			e, err := tree.Resolve(p)
			if err != nil {
				t.Error(err)
				continue
			}
			if e.Type != debs.TypeFile || e.Size == 0 {
				t.Errorf("%s is a %s of %d bytes", p, e.Type, e.Size)
			}
		}
	})
}

// grub-mkimage runs from the Tools packages alone, as the build runs it:
// unpacked, with LD_LIBRARY_PATH pointing at the unpacked libraries.
func TestToolsRunUnpacked(t *testing.T) {
	var libDirs []string
	var mkimage string
	for _, p := range boards.Tools {
		tree := unpacked(t, p)
		if _, err := tree.Resolve("usr/bin/grub-mkimage"); err == nil {
			mkimage = tree.Path("usr/bin/grub-mkimage")
		}
		for _, d := range []string{"lib/x86_64-linux-gnu", "usr/lib/x86_64-linux-gnu"} {
			if st, err := os.Stat(tree.Path(d)); err == nil && st.IsDir() {
				libDirs = append(libDirs, tree.Path(d))
			}
		}
	}
	if mkimage == "" {
		t.Fatal("no Tools package holds usr/bin/grub-mkimage")
	}
	cmd := exec.Command(mkimage, "--version")
	cmd.Env = append(os.Environ(), "LD_LIBRARY_PATH="+strings.Join(libDirs, string(filepath.ListSeparator)))
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s --version: %v\n%s", mkimage, err, out)
	}
	brix, _ := boards.Lookup("brix")
	grub, _ := brix.Package("grub-efi-amd64-bin")
	if want := strings.Split(boards.FileVersion(grub.Version), "-")[0]; !strings.Contains(string(out), want) {
		t.Errorf("grub-mkimage says %q, want version %s like the bootloader packages", out, want)
	}
	t.Logf("%s", out)
}
