package debs

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

func TestUnpackedOnceAndChecked(t *testing.T) {
	deb := debBytes(t, ".xz", fixtureEntries)
	pin := pinOf("fixture", deb)
	a := newArchive(t, "")
	a.files[pin.Filename] = deb
	f := newFetcher(t, a, a.URL)

	// Concurrent callers get one unpacked tree.
	var wg sync.WaitGroup
	trees := make([]*Tree, 4)
	errs := make([]error, 4)
	for i := range trees {
		wg.Go(func() { trees[i], errs[i] = f.Unpacked(context.Background(), pin) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("caller %d: %v", i, err)
		}
		if trees[i].Dir != trees[0].Dir {
			t.Errorf("caller %d got %s, caller 0 %s", i, trees[i].Dir, trees[0].Dir)
		}
	}
	tree := trees[0]
	if leftovers, _ := filepath.Glob(filepath.Join(f.Cache, "unpacked", ".unpack-*")); len(leftovers) > 0 {
		t.Errorf("temporary directories left: %v", leftovers)
	}

	for name, want := range map[string]string{
		"usr/lib/fw/a.bin": "firmware A", "usr/lib/fw/b.bin": "firmware A", "usr/lib/fw/c.bin": "firmware A",
		"usr/lib/fw/d.bin": "firmware A", "lib/fw/c.bin": "firmware A", "/usr/bin/tool": "#!/bin/sh\necho tool\n",
		"usr/share/empty": "",
	} {
		b, err := tree.ReadFile(name)
		if err != nil || string(b) != want {
			t.Errorf("%s: %q %v, want %q", name, b, err, want)
		}
	}
	if e, ok := tree.Lookup("usr/bin/tool"); !ok || e.Type != TypeFile || e.Mode != 0o755 || e.Size != 20 || len(e.SHA256) != 64 {
		t.Errorf("tool entry %+v", e)
	}
	if _, err := tree.ReadFile("usr/lib/nope"); !errors.Is(err, ErrMissingFile) {
		t.Errorf("missing file: %v", err)
	}
	if _, err := tree.ReadFile("usr/lib"); err == nil || !strings.Contains(err.Error(), "is a dir") {
		t.Errorf("directory: %v", err)
	}
	files, err := tree.Files("usr/lib")
	if err != nil || len(files) != 1 || files[0].Name != "usr/lib/fw/a.bin" {
		t.Errorf("files under usr/lib: %+v %v", files, err)
	}
	if _, err := tree.Files("usr/bin/tool"); err == nil {
		t.Error("Files of a file")
	}
	if n := len(tree.Entries()); n != 12 {
		t.Errorf("%d entries, want 12", n)
	}

	// A file changed in the cache after unpacking is refused.
	if err := os.WriteFile(tree.Path("usr/lib/fw/a.bin"), []byte("firmware B"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := tree.ReadFile("usr/lib/fw/b.bin"); !errors.Is(err, ErrChecksum) {
		t.Errorf("tampered file: %v, want ErrChecksum", err)
	}
	// The second call finds the tree without unpacking or downloading.
	hits := a.hits.Load()
	if again, err := f.Unpacked(context.Background(), pin); err != nil || again.Dir != tree.Dir || a.hits.Load() != hits {
		t.Errorf("second call: %v, %d more requests", err, a.hits.Load()-hits)
	}
}

func TestUnpackedReplacesAStaleTree(t *testing.T) {
	old := debBytes(t, "", []entry{{name: "./v", body: "1"}})
	f := newFetcher(t, nil)
	writeDeb(t, mkdir(t, f.Cache), pinOf("fixture", old).Base(), old)
	first, err := f.Unpacked(context.Background(), pinOf("fixture", old))
	if err != nil {
		t.Fatal(err)
	}
	// Same file name, new content and pin: the tree is unpacked again.
	next := debBytes(t, "", []entry{{name: "./v", body: "2"}})
	writeDeb(t, f.Cache, pinOf("fixture", next).Base(), next)
	second, err := f.Unpacked(context.Background(), pinOf("fixture", next))
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := second.ReadFile("v"); string(b) != "2" || first.Dir != second.Dir {
		t.Errorf("v is %q in %s", b, second.Dir)
	}
	if _, err := f.Unpacked(context.Background(), pinOf("fixture", old)); !errors.Is(err, ErrChecksum) {
		t.Errorf("old pin against the new file: %v", err)
	}
}

func TestUnpackedRefusesEscapes(t *testing.T) {
	evil := debBytes(t, "", []entry{{name: "./l", typ: '2', link: "/"}, {name: "./l/tmp/x", body: "x"}})
	f := newFetcher(t, nil)
	writeDeb(t, mkdir(t, f.Cache), pinOf("evil", evil).Base(), evil)
	if _, err := f.Unpacked(context.Background(), pinOf("evil", evil)); !errors.Is(err, ErrUnsafePath) {
		t.Errorf("escaping package: %v", err)
	}
	if dirs, _ := filepath.Glob(filepath.Join(f.Cache, "unpacked", "[^.]*")); len(dirs) != 0 {
		t.Errorf("left %v", dirs)
	}
	// A symlink inside a good package that points out is kept as data,
	// but Resolve will not follow it out.
	deb := debBytes(t, "", []entry{{name: "./up", typ: '2', link: "../../etc/passwd"}})
	writeDeb(t, f.Cache, pinOf("up", deb).Base(), deb)
	tree, err := f.Unpacked(context.Background(), pinOf("up", deb))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tree.ReadFile("up"); !errors.Is(err, ErrUnsafePath) {
		t.Errorf("following a link out: %v", err)
	}
}

func mkdir(t *testing.T, dir string) string {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}
