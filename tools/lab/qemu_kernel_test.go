package lab

import (
	"bytes"
	"compress/gzip"
	"debug/elf"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// What the boot tests boot: Debian kernels from the package cache, and
// lab/initfixture cross-built as /init of an initramfs written here.

// fetchHint is what a test missing a cached package tells the reader.
const fetchHint = "run `go run ./tools/goleudy image fetch` to fill the package cache"

// debCache is the package cache image/debs fills (shared decision for
// the image builder): $GOLEUDY_DEB_CACHE, else $XDG_CACHE_HOME/goleudy/debs,
// else ~/.cache/goleudy/debs.
func debCache(tb testing.TB) string {
	tb.Helper()
	if d := os.Getenv("GOLEUDY_DEB_CACHE"); d != "" {
		return d
	}
	base := os.Getenv("XDG_CACHE_HOME")
	if base == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			tb.Fatalf("package cache: %v; set GOLEUDY_DEB_CACHE", err)
		}
		base = filepath.Join(home, ".cache")
	}
	return filepath.Join(base, "goleudy", "debs")
}

// kernelDeb finds the cached kernel package of a Debian flavour ("amd64",
// "686", "arm64", "rpi") for a Debian architecture, the newest if there
// are several. This is the one place that knows where the tests' kernels
// come from: once boards and image/debs land, it becomes the board's
// pinned kernel package, looked up and sha256-checked through image/debs.
func kernelDeb(tb testing.TB, flavour, debArch string) string {
	tb.Helper()
	dir := debCache(tb)
	re := regexp.MustCompile(`^linux-image-\d+\.\d+\.\d+-\d+-` + regexp.QuoteMeta(flavour) +
		`_[^_]+_` + regexp.QuoteMeta(debArch) + `\.deb$`)
	entries, err := os.ReadDir(dir)
	if err != nil && !os.IsNotExist(err) {
		tb.Fatalf("package cache %s: %v", dir, err)
	}
	var found []string
	for _, e := range entries {
		if re.MatchString(e.Name()) {
			found = append(found, e.Name())
		}
	}
	if len(found) == 0 {
		tb.Fatalf("no linux-image-*-%s_*_%s.deb in the package cache %s: %s", flavour, debArch, dir, fetchHint)
	}
	slices.SortFunc(found, naturalCompare)
	return filepath.Join(dir, found[len(found)-1])
}

// naturalCompare orders strings with their digit runs compared as
// numbers, so ABI 100 sorts after ABI 56.
func naturalCompare(a, b string) int {
	split := regexp.MustCompile(`\d+|\D+`)
	pa, pb := split.FindAllString(a, -1), split.FindAllString(b, -1)
	for i := 0; i < len(pa) && i < len(pb); i++ {
		na, ea := strconv.Atoi(pa[i])
		nb, eb := strconv.Atoi(pb[i])
		if ea == nil && eb == nil {
			if na != nb {
				return na - nb
			}
			continue
		}
		if c := strings.Compare(pa[i], pb[i]); c != 0 {
			return c
		}
	}
	return len(pa) - len(pb)
}

// kernelTree is an extracted kernel package.
type kernelTree struct {
	root    string
	release string // 6.1.0-56-amd64
	vmlinuz string
}

// extractKernel unpacks the kernel, its modules and its DTBs from deb
// into a directory of the test's, with dpkg-deb (the test reads the
// package; the image builder has its own extractor).
func extractKernel(tb testing.TB, deb string) kernelTree {
	tb.Helper()
	Require(tb, Tool{"dpkg-deb", "dpkg"}, Tool{"tar", "tar"})
	root := tb.TempDir()
	sh := `dpkg-deb --fsys-tarfile "$1" | tar -x -C "$2" --wildcards './boot/vmlinuz-*' './lib/modules/*' './usr/*'`
	if out, err := exec.Command("sh", "-c", sh, "sh", deb, root).CombinedOutput(); err != nil {
		tb.Fatalf("extract %s: %v\n%s", deb, err, out)
	}
	found, _ := filepath.Glob(filepath.Join(root, "boot", "vmlinuz-*"))
	if len(found) != 1 {
		tb.Fatalf("%s: want one boot/vmlinuz-*, found %v", deb, found)
	}
	return kernelTree{root: root, vmlinuz: found[0], release: strings.TrimPrefix(filepath.Base(found[0]), "vmlinuz-")}
}

// dtb returns the path of a device tree the package ships, by file name.
func (k kernelTree) dtb(tb testing.TB, name string) string {
	tb.Helper()
	var path string
	filepath.WalkDir(filepath.Join(k.root, "usr", "lib", "linux-image-"+k.release), func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Name() == name {
			path = p
			return fs.SkipAll
		}
		return nil
	})
	if path == "" {
		tb.Fatalf("kernel %s ships no %s", k.release, name)
	}
	return path
}

// modules returns the .ko files for names and everything they depend on,
// in an order that loads: dependencies first. Dependencies come from
// each module's .modinfo (depends=), since a package has no modules.dep
// until depmod runs on the target.
func (k kernelTree) modules(tb testing.TB, names ...string) []string {
	tb.Helper()
	byName := map[string]string{}
	filepath.WalkDir(filepath.Join(k.root, "lib", "modules", k.release), func(p string, d fs.DirEntry, err error) error {
		if err == nil && strings.HasSuffix(p, ".ko") {
			byName[moduleName(strings.TrimSuffix(d.Name(), ".ko"))] = p
		}
		return nil
	})
	var order []string
	seen := map[string]bool{}
	var visit func(name, from string)
	visit = func(name, from string) {
		name = moduleName(name)
		if seen[name] {
			return
		}
		seen[name] = true
		path, ok := byName[name]
		if !ok {
			tb.Fatalf("kernel %s has no module %s (wanted by %s)", k.release, name, from)
		}
		deps, err := moduleDepends(path)
		if err != nil {
			tb.Fatal(err)
		}
		for _, d := range deps {
			visit(d, name)
		}
		order = append(order, path)
	}
	for _, n := range names {
		visit(n, "the test")
	}
	return order
}

func moduleName(s string) string { return strings.ReplaceAll(s, "-", "_") }

// moduleDepends reads depends= from a module's .modinfo section.
func moduleDepends(path string) ([]string, error) {
	f, err := elf.Open(path)
	if err != nil {
		return nil, fmt.Errorf("module %s: %w", path, err)
	}
	defer f.Close()
	sec := f.Section(".modinfo")
	if sec == nil {
		return nil, fmt.Errorf("module %s: no .modinfo section", path)
	}
	data, err := sec.Data()
	if err != nil {
		return nil, fmt.Errorf("module %s: .modinfo: %w", path, err)
	}
	for _, kv := range bytes.Split(data, []byte{0}) {
		if v, ok := bytes.CutPrefix(kv, []byte("depends=")); ok {
			if len(v) == 0 {
				return nil, nil
			}
			return strings.Split(string(v), ","), nil
		}
	}
	return nil, nil
}

var fixtures struct {
	sync.Mutex
	dir  string
	bins map[string]string
}

// buildFixture cross-builds lab/initfixture, static, once per test
// process and architecture. lab.Build builds for the host only.
func buildFixture(tb testing.TB, goarch, goarm string) string {
	tb.Helper()
	fixtures.Lock()
	defer fixtures.Unlock()
	key := goarch + goarm
	if bin, ok := fixtures.bins[key]; ok {
		if _, err := os.Stat(bin); err == nil {
			return bin
		}
	}
	root, err := moduleRoot()
	if err != nil {
		tb.Fatal(err)
	}
	if fixtures.bins == nil {
		fixtures.bins = map[string]string{}
	}
	bin := filepath.Join(tb.TempDir(), "initfixture-"+key)
	cmd := exec.Command("go", "build", "-trimpath", "-o", bin, "./tools/lab/initfixture")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+goarch, "GOARM="+goarm)
	if out, err := cmd.CombinedOutput(); err != nil {
		tb.Fatalf("go build initfixture for %s: %v\n%s", key, err, out)
	}
	// The binary lives in the first test's TempDir; a later test that
	// finds it gone builds again.
	fixtures.bins[key] = bin
	return bin
}

// fixtureInitrd writes a gzipped newc initramfs holding the fixture as
// /init, /dev/console, and the modules as /modules/NN-name.ko in load
// order, and returns its path.
func fixtureInitrd(tb testing.TB, initBin string, modules []string) string {
	tb.Helper()
	var w cpioWriter
	for _, d := range []string{"dev", "proc", "sys", "modules"} {
		w.dir(d)
	}
	w.node("dev/console", 0o020600, 5, 1)
	w.file(tb, "init", initBin, 0o755)
	for i, m := range modules {
		w.file(tb, fmt.Sprintf("modules/%02d-%s", i, filepath.Base(m)), m, 0o644)
	}
	path := filepath.Join(tb.TempDir(), "initrd.img")
	f, err := os.Create(path)
	if err != nil {
		tb.Fatal(err)
	}
	zw := gzip.NewWriter(f)
	_, err = zw.Write(w.bytes())
	if err == nil {
		err = zw.Close()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		tb.Fatalf("write initramfs: %v", err)
	}
	return path
}

// cpioWriter writes the newc ("070701") archive format the kernel
// unpacks as an initramfs. Device nodes are just headers, so making
// /dev/console needs no root.
type cpioWriter struct {
	buf bytes.Buffer
	ino int
}

func (w *cpioWriter) header(name string, mode uint32, size, rmajor, rminor int) {
	w.ino++
	fmt.Fprintf(&w.buf, "070701%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x",
		w.ino, mode, 0, 0, 1, 0, size, 0, 0, rmajor, rminor, len(name)+1, 0)
	w.buf.WriteString(name)
	w.buf.WriteByte(0)
	w.pad()
}

func (w *cpioWriter) pad() {
	for w.buf.Len()%4 != 0 {
		w.buf.WriteByte(0)
	}
}

func (w *cpioWriter) dir(name string) { w.header(name, 0o040755, 0, 0, 0) }
func (w *cpioWriter) node(name string, mode uint32, major, minor int) {
	w.header(name, mode, 0, major, minor)
}

func (w *cpioWriter) file(tb testing.TB, name, src string, perm uint32) {
	tb.Helper()
	data, err := os.ReadFile(src)
	if err != nil {
		tb.Fatal(err)
	}
	w.header(name, 0o100000|perm, len(data), 0, 0)
	w.buf.Write(data)
	w.pad()
}

func (w *cpioWriter) bytes() []byte {
	w.header("TRAILER!!!", 0, 0, 0, 0)
	return w.buf.Bytes()
}
