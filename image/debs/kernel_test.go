package debs

import (
	"bytes"
	"context"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/goleudy/goleudy/boards"
	"github.com/goleudy/goleudy/init/boot"
	"github.com/goleudy/goleudy/tools/lab"
)

// These run against the real kernel packages the boards pin, read from
// the cache; a missing one fails with the command that fills the cache.

var toolDepmod = lab.Tool{Name: "depmod", Package: "kmod"}

// cachedKernel unpacks and reads a board's kernel from the cache.
func cachedKernel(t *testing.T, b boards.Board) (*Tree, *Kernel) {
	t.Helper()
	cache, err := DefaultCache()
	if err != nil {
		t.Fatal(err)
	}
	tree, err := (&Fetcher{Cache: cache}).Unpacked(context.Background(), b.Kernel)
	if err != nil {
		t.Fatal(err)
	}
	k, err := ReadKernel(tree, b.KernelRelease)
	if err != nil {
		t.Fatal(err)
	}
	return tree, k
}

// kernelBoards is one board per pinned kernel.
func kernelBoards() []boards.Board {
	var out []boards.Board
	seen := map[string]bool{}
	for _, b := range boards.All() {
		if !seen[b.Kernel.Filename] {
			seen[b.Kernel.Filename] = true
			out = append(out, b)
		}
	}
	return out
}

// The modules.dep written from .modinfo must say what depmod says about
// the same modules: the same dependencies for every module, in an order a
// loader can use.
func TestModulesDepAgreesWithDepmod(t *testing.T) {
	lab.Require(t, toolDepmod)
	for _, b := range kernelBoards() {
		t.Run(b.KernelRelease, func(t *testing.T) {
			tree, k := cachedKernel(t, b)
			out, err := exec.Command("depmod", "-n", "-b", tree.Dir, b.KernelRelease).Output()
			if err != nil {
				t.Fatalf("depmod -n -b %s %s: %v", tree.Dir, b.KernelRelease, err)
			}
			theirText, _, _ := bytes.Cut(out, []byte("\n#"))
			theirs, err := parseModulesDep(bytes.NewReader(theirText))
			if err != nil {
				t.Fatal(err)
			}
			ours, err := parseModulesDep(bytes.NewReader(k.ModulesDep()))
			if err != nil {
				t.Fatal(err)
			}
			if len(ours) != len(theirs) || len(ours) < 1000 {
				t.Errorf("%d modules, depmod has %d", len(ours), len(theirs))
			}
			for name, e := range theirs {
				o := ours[name]
				if o.path != e.path {
					t.Errorf("%s: path %q, depmod %q", name, o.path, e.path)
				}
				a, b := slices.Sorted(slices.Values(o.deps)), slices.Sorted(slices.Values(e.deps))
				if !slices.Equal(a, b) {
					t.Errorf("%s: needs %v, depmod says %v", name, a, b)
				}
			}
			checkDepOrder(t, k.ModulesDep())
		})
	}
}

// Each board's modules close over its kernel, and the node's loader,
// given the modules.dep the image will carry, loads exactly those files.
func TestBoardModulesCloseOverRealKernels(t *testing.T) {
	for _, b := range boards.All() {
		t.Run(b.Name, func(t *testing.T) {
			tree, k := cachedKernel(t, b)
			mods, err := k.Closure(b.Modules)
			if err != nil {
				t.Fatal(err)
			}
			root := t.TempDir()
			dir := filepath.Join(root, "lib/modules", b.KernelRelease)
			os.MkdirAll(dir, 0o755)
			// The image carries only the closure, with a modules.dep of
			// just those modules.
			sub, err := k.Subset(mods)
			if err != nil {
				t.Fatal(err)
			}
			os.WriteFile(filepath.Join(dir, "modules.dep"), sub.ModulesDep(), 0o644)
			os.WriteFile(filepath.Join(dir, "modules.builtin"), k.Builtin, 0o644)
			ix, err := boot.OpenModuleIndex(boot.ModuleOptions{Root: root, Release: b.KernelRelease, ProcModules: filepath.Join(root, "none")})
			if err != nil {
				t.Fatal(err)
			}
			loads := map[string]bool{}
			for _, m := range b.Modules {
				order, err := ix.Order(m)
				if err != nil {
					t.Errorf("the node cannot load %s: %v", m, err)
				}
				for _, d := range order {
					loads[d.Path] = true
				}
			}
			var carried []string
			for _, m := range mods {
				carried = append(carried, m.Path)
				if _, err := tree.ReadFile(b.ModulesDir() + "/" + m.Path); err != nil {
					t.Error(err)
				}
			}
			if got := slices.Sorted(maps.Keys(loads)); !slices.Equal(got, carried) {
				t.Errorf("the node loads %v\nthe image carries %v", got, carried)
			}
			var builtin []string
			for _, m := range b.Modules {
				if !slices.ContainsFunc(mods, func(x Module) bool { return x.Name == m }) {
					builtin = append(builtin, m)
				}
			}
			t.Logf("%d roots → %d files; built in: %s", len(b.Modules), len(mods), strings.Join(builtin, " "))
		})
	}
}
