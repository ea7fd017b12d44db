package fat

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/goleudy/goleudy/tools/lab"
)

// Debian programs the tests hold the volumes up against.
var (
	toolFsck  = lab.Tool{Name: "fsck.fat", Package: "dosfstools"}
	toolMkfs  = lab.Tool{Name: "mkfs.fat", Package: "dosfstools"}
	toolMdir  = lab.Tool{Name: "mdir", Package: "mtools"}
	toolMcopy = lab.Tool{Name: "mcopy", Package: "mtools"}
	toolMinfo = lab.Tool{Name: "minfo", Package: "mtools"}
)

var epoch = time.Date(2024, 5, 1, 12, 0, 1, 0, time.UTC)

const mib = 1 << 20

// tool runs a Debian program and returns its combined output, failing the
// test if it is missing or exits non-zero.
func tool(t *testing.T, tl lab.Tool, args ...string) string {
	t.Helper()
	out, err := toolErr(t, tl, args...)
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", tl.Name, strings.Join(args, " "), err, out)
	}
	return out
}

func toolErr(t *testing.T, tl lab.Tool, args ...string) (string, error) {
	t.Helper()
	path, err := tl.Path()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(path, args...)
	// mtools reads ~/.mtoolsrc and /etc/mtools.conf; nothing there
	// should matter for an image given with -i.
	cmd.Env = append(os.Environ(), "MTOOLSRC=/dev/null", "TZ=UTC")
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// fsck runs fsck.fat -n -v on the volume in the file at off and fails on
// any error or warning. fsck.fat reads a whole device, so a volume inside
// an image is copied out first.
func fsck(t *testing.T, path string, off, size int64) string {
	t.Helper()
	if off != 0 {
		path = extract(t, path, off, size)
	}
	out := tool(t, toolFsck, "-n", "-v", path)
	for _, bad := range []string{"arning", "differ", "rror", "orrect", "free cluster summary wrong", "Free cluster summary",
		"Leaving filesystem unchanged", "Perform changes"} {
		if strings.Contains(out, bad) {
			t.Errorf("fsck.fat -n -v reports %q:\n%s", bad, out)
		}
	}
	return out
}

func extract(t *testing.T, path string, off, size int64) string {
	t.Helper()
	src, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	out := filepath.Join(t.TempDir(), "part.img")
	dst, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	defer dst.Close()
	if _, err := io.Copy(dst, io.NewSectionReader(src, off, size)); err != nil {
		t.Fatal(err)
	}
	return out
}

// image is a sparse file of size bytes.
func image(t *testing.T, size int64) *os.File {
	t.Helper()
	f, err := os.Create(filepath.Join(t.TempDir(), "fat.img"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
	return f
}

// mtoolsPath is the mtools name of a file in the volume at off.
func mtoolsImage(f *os.File, off int64) string {
	if off == 0 {
		return f.Name()
	}
	return fmt.Sprintf("%s@@%d", f.Name(), off)
}

// bootFiles is what a boot partition holds, with names that exercise
// long-name and short-name generation.
func bootFiles() map[string][]byte {
	return map[string][]byte{
		"EFI/BOOT/BOOTX64.EFI":      bytes.Repeat([]byte("MZ"), 300000),
		"grub/grubenv":              grubenv("next_entry=B\nboot_count=0\n"),
		"grub/grub.cfg":             []byte("set timeout=0\n"),
		"goleudy/seed.json":         []byte(`{"node":"alban"}`),
		"Long File Name 1.txt":      []byte("one"),
		"Long File Name 2.txt":      []byte("two"),
		"vmlinuz":                   []byte("kernel"),
		"initrd.img":                bytes.Repeat([]byte{0x1f, 0x8b, 8, 0}, 5000),
		"empty":                     nil,
		"a.b.c.d":                   []byte("dots"),
		".hidden":                   []byte("dot"),
		"café ünïcode ✓.txt":        []byte("utf-16"),
		"exactly-one-cluster":       bytes.Repeat([]byte{7}, 512),
		"deep/er/and/deeper/x.json": []byte("{}"),
		"bcm2710-rpi-3-b.dtb":       []byte{0xd0, 0x0d, 0xfe, 0xed},
		"overlays/README":           []byte("readme"),
	}
}

// grubenv is a GRUB environment block: 1024 bytes, padded with '#'.
func grubenv(vars string) []byte {
	b := bytes.Repeat([]byte("#"), 1024)
	copy(b, "# GRUB Environment Block\n"+vars)
	return b
}

func build(t testing.TB, opts Options, files map[string][]byte, dirs ...string) *Builder {
	t.Helper()
	b, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range dirs {
		if err := b.Mkdir(d); err != nil {
			t.Fatal(err)
		}
	}
	for p, data := range files {
		if err := b.AddFile(p, data); err != nil {
			t.Fatal(err)
		}
	}
	return b
}
