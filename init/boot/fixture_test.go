package boot

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	diskfs "github.com/diskfs/go-diskfs"
	"github.com/diskfs/go-diskfs/backend/file"
	"github.com/diskfs/go-diskfs/filesystem/fat32"
	"github.com/diskfs/go-diskfs/partition/gpt"

	"github.com/goleudy/goleudy/image/disk"
	imagefat "github.com/goleudy/goleudy/image/fat"
	"github.com/goleudy/goleudy/tools/lab"
)

// Debian programs the tests run.
var (
	toolUnshare  = lab.Tool{Name: "unshare", Package: "util-linux"}
	toolLosetup  = lab.Tool{Name: "losetup", Package: "mount"}
	toolE2fsck   = lab.Tool{Name: "e2fsck", Package: "e2fsprogs"}
	toolDumpe2fs = lab.Tool{Name: "dumpe2fs", Package: "e2fsprogs"}
	toolMkfsExt4 = lab.Tool{Name: "mkfs.ext4", Package: "e2fsprogs"}
)

func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatal("this test needs root: it mounts filesystems and makes namespaces")
	}
}

// run runs a Debian program and returns its combined output, failing the
// test if it is missing or fails.
func run(t *testing.T, tool lab.Tool, args ...string) string {
	t.Helper()
	path, err := tool.Path()
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(path, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", tool.Name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// logBuffer is a JSON slog handler into a buffer that tests search.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func newLog(t *testing.T) (*slog.Logger, *logBuffer) {
	lb := &logBuffer{}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("log:\n%s", lb)
		}
	})
	return slog.New(slog.NewJSONHandler(lb, &slog.HandlerOptions{Level: slog.LevelDebug})), lb
}

// childEnv marks a test binary re-run by runChild; its value is the test
// that should do the child's half.
const childEnv = "GOLEUDY_BOOT_CHILD"

// inChild reports whether this process is runChild's child for t.
func inChild(t *testing.T) bool { return os.Getenv(childEnv) == t.Name() }

// childGetenv reads a variable the parent passed, failing if it is unset.
func childGetenv(t *testing.T, key string) string {
	t.Helper()
	v := os.Getenv(key)
	if v == "" {
		t.Fatalf("child: %s is not set", key)
	}
	return v
}

// Namespaces a child runs in: a private mount namespace, so nothing it
// mounts is seen by (or left in) the host, and its own hostname.
var privateNS = []string{"--mount", "--uts", "--net", "--propagation", "private"}

// runChild re-runs this test in a new process, under `unshare ns...` if
// ns is given, with env added. The child's output is logged; a child that
// fails or passes nothing fails t.
func runChild(t *testing.T, ns []string, env ...string) {
	t.Helper()
	args := []string{"-test.run=^" + t.Name() + "$", "-test.v", "-test.count=1", "-test.timeout=2m"}
	name := os.Args[0]
	if len(ns) > 0 {
		requireRoot(t)
		unshare, err := toolUnshare.Path()
		if err != nil {
			t.Fatal(err)
		}
		args = append(append(append([]string{}, ns...), name), args...)
		name = unshare
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(append(os.Environ(), childEnv+"="+t.Name()), env...)
	out, err := cmd.CombinedOutput()
	t.Logf("child:\n%s", out)
	if err != nil {
		t.Fatalf("child %s: %v", t.Name(), err)
	}
	if !strings.Contains(string(out), "--- PASS: "+t.Name()) {
		t.Fatalf("child %s passed nothing", t.Name())
	}
}

// mountAt returns the filesystem type mounted at dir, from
// /proc/self/mountinfo, or "" if nothing is.
func mountAt(t *testing.T, dir string) (fstype, source, opts string) {
	t.Helper()
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		// 36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue
		pre, post, ok := strings.Cut(line, " - ")
		f, g := strings.Fields(pre), strings.Fields(post)
		if !ok || len(f) < 6 || len(g) < 2 {
			continue
		}
		if f[4] == dir {
			fstype, source, opts = g[0], g[1], f[5]
		}
	}
	return fstype, source, opts
}

// partSpec is one partition of a test disk image.
type partSpec struct {
	name    string                          // GPT partition name
	size    int64                           // bytes, a multiple of 1 MiB
	content func(t *testing.T, path string) // fills a file of the partition's size; nil leaves zeros
}

// garbage fills the first MiB with random bytes: no superblock survives.
func garbage(t *testing.T, path string) {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := io.CopyN(f, rand.Reader, 1<<20); err != nil {
		t.Fatal(err)
	}
}

// ext4Labelled formats with the package's own FormatExt4.
func ext4Labelled(label string) func(*testing.T, string) {
	return func(t *testing.T, path string) {
		if err := FormatExt4(path, label); err != nil {
			t.Fatal(err)
		}
	}
}

// fat32WithSeed makes a FAT32 filesystem (go-diskfs) holding a seed file.
func fat32WithSeed(label, seed string) func(*testing.T, string) {
	return func(t *testing.T, path string) {
		f, err := os.OpenFile(path, os.O_RDWR, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		st, _ := f.Stat()
		fs, err := fat32.Create(file.New(f, false), st.Size(), 0, 512, label, true)
		if err != nil {
			t.Fatalf("fat32: %v", err)
		}
		if err := fs.Mkdir("/goleudy"); err != nil {
			t.Fatal(err)
		}
		sf, err := fs.OpenFile("/goleudy/"+seed, os.O_CREATE|os.O_RDWR)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := sf.Write([]byte(`{"node":"lab"}`)); err != nil {
			t.Fatal(err)
		}
		sf.Close()
	}
}

// imagePart is a partition as the GPT on the image records it.
type imagePart struct {
	index       int
	name        string
	start, size int64 // bytes
}

// buildImage writes a GPT disk image with the partitions, fills each, and
// returns the partitions as read back from the image's GPT.
func buildImage(t *testing.T, path string, parts []partSpec) []imagePart {
	t.Helper()
	const mib = 1 << 20
	total := int64(2 * mib) // room for the GPTs at either end
	for _, p := range parts {
		total += p.size
	}
	d, err := diskfs.Create(path, total, diskfs.SectorSizeDefault)
	if err != nil {
		t.Fatal(err)
	}
	table := &gpt.Table{ProtectiveMBR: true}
	start := uint64(mib / 512)
	for i, p := range parts {
		n := uint64(p.size / 512)
		table.Partitions = append(table.Partitions, &gpt.Partition{Index: i + 1, Start: start, End: start + n - 1,
			Type: gpt.LinuxFilesystem, Name: p.name})
		start += n
	}
	if err := d.Partition(table); err != nil {
		t.Fatalf("write GPT: %v", err)
	}
	d.Close()

	got := readImageParts(t, path)
	if len(got) != len(parts) {
		t.Fatalf("GPT read back has %d partitions, want %d", len(got), len(parts))
	}
	img, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer img.Close()
	for i, p := range parts {
		if p.content == nil {
			continue
		}
		tmp := filepath.Join(t.TempDir(), "part")
		if err := os.WriteFile(tmp, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Truncate(tmp, got[i].size); err != nil {
			t.Fatal(err)
		}
		p.content(t, tmp)
		src, err := os.Open(tmp)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.Copy(io.NewOffsetWriter(img, got[i].start), src); err != nil {
			t.Fatal(err)
		}
		src.Close()
	}
	return got
}

// readImageParts reads the GPT of a disk image, as the kernel would.
func readImageParts(t *testing.T, path string) []imagePart {
	t.Helper()
	d, err := diskfs.Open(path, diskfs.WithOpenMode(diskfs.ReadOnly))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	pt, err := d.GetPartitionTable()
	if err != nil {
		t.Fatalf("read GPT: %v", err)
	}
	table, ok := pt.(*gpt.Table)
	if !ok {
		t.Fatalf("partition table is %T, not GPT", pt)
	}
	var parts []imagePart
	for _, p := range table.Partitions {
		if p.Type == gpt.Unused {
			continue
		}
		parts = append(parts, imagePart{index: p.Index, name: p.Name, start: p.GetStart(), size: p.GetSize()})
	}
	return parts
}

// fakeSys is a sysfs tree and a /dev directory for a disk named disk:
// what the kernel would show for the image.
type fakeSys struct {
	Disks
	disk string
}

func newFakeSys(t *testing.T, disk string) *fakeSys {
	root := t.TempDir()
	f := &fakeSys{Disks: Disks{Sys: filepath.Join(root, "sys"), Dev: filepath.Join(root, "dev")}, disk: disk}
	for _, d := range []string{filepath.Join(f.Sys, "class", "block"), f.Dev} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return f
}

// add makes a sysfs entry for a block device of size bytes.
func (f *fakeSys) add(t *testing.T, name string, size int64, uevent ...string) {
	t.Helper()
	dir := filepath.Join(f.Sys, "class", "block", name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	ev := strings.Join(append([]string{"MAJOR=254", "DEVNAME=" + name}, uevent...), "\n") + "\n"
	if err := os.WriteFile(filepath.Join(dir, "uevent"), []byte(ev), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "size"), []byte(strconv.FormatInt(size/512, 10)+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
}

// addImage adds the disk and its partitions. Each partition's device node
// is made by node, given the partition and the path to make.
func (f *fakeSys) addImage(t *testing.T, image string, parts []imagePart, node func(p imagePart, path string)) {
	t.Helper()
	st, err := os.Stat(image)
	if err != nil {
		t.Fatal(err)
	}
	f.add(t, f.disk, st.Size(), "DEVTYPE=disk")
	if err := os.Symlink(image, filepath.Join(f.Dev, f.disk)); err != nil {
		t.Fatal(err)
	}
	for _, p := range parts {
		name := fmt.Sprintf("%s%d", f.disk, p.index)
		ev := []string{"DEVTYPE=partition", fmt.Sprintf("PARTN=%d", p.index)}
		if p.name != "" {
			ev = append(ev, "PARTNAME="+p.name)
		}
		f.add(t, name, p.size, ev...)
		node(p, filepath.Join(f.Dev, name))
	}
}

// extract copies a partition out of the image into a plain file: a
// device node the test can read and write without loop devices.
func extract(t *testing.T, image string) func(p imagePart, path string) {
	return func(p imagePart, path string) {
		src, err := os.Open(image)
		if err != nil {
			t.Fatal(err)
		}
		defer src.Close()
		dst, err := os.Create(path)
		if err != nil {
			t.Fatal(err)
		}
		defer dst.Close()
		if _, err := io.Copy(dst, io.NewSectionReader(src, p.start, p.size)); err != nil {
			t.Fatal(err)
		}
	}
}

// attachLoop attaches part of image as a loop device, detached when the
// test ends. The kernel here may not parse partition tables on loop
// devices (CONFIG_EFI_PARTITION), so each partition gets a loop device of
// its own at its offset, which is what the kernel's partition would be.
// ok is false, and t is not failed, if losetup fails: loop devices are
// not available everywhere.
func attachLoop(t *testing.T, image string, offset, size int64) (dev string, ok bool) {
	t.Helper()
	path, err := toolLosetup.Path()
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(path, "--find", "--show", "--offset", strconv.FormatInt(offset, 10),
		"--sizelimit", strconv.FormatInt(size, 10), image).CombinedOutput()
	if err != nil {
		// CI runs as root with loop devices; a failure is a failure.
		t.Fatalf("losetup (util-linux): %v: %s", err, out)
	}
	dev = strings.TrimSpace(string(out))
	t.Cleanup(func() {
		if out, err := exec.Command(path, "--detach", dev).CombinedOutput(); err != nil {
			t.Errorf("losetup --detach %s: %v: %s", dev, err, out)
		}
	})
	return dev, true
}

func containsOpt(opts, want string) bool {
	return slices.Contains(strings.Split(opts, ","), want)
}

// builtImage is a node's disk made by the image builder's own packages
// (image/disk, image/fat) with the table the board uses: the boot and
// slot partitions are FAT volumes labelled GOLEUDYBOOT, GOLEUDY_A and
// GOLEUDY_B, and the data partition has the unformatted marker. On MBR
// there are no partition names, so boot must go by those labels.
func builtImage(t *testing.T, table disk.Table) (string, []imagePart) {
	t.Helper()
	fatVolume := func(label string, files map[string]string) disk.Content {
		b, err := imagefat.New(imagefat.Options{Label: label, Time: time.Unix(1714564800, 0)})
		if err != nil {
			t.Fatal(err)
		}
		for p, data := range files {
			if err := b.AddFile(p, []byte(data)); err != nil {
				t.Fatal(err)
			}
		}
		return b.Write
	}
	slot := map[string]string{"vmlinuz": "kernel", "initrd.img": "initramfs", "slot.json": "{}"}
	l := disk.Layout{Table: table, Seed: "boot-test", Partitions: []disk.Partition{
		{Name: "GOLEUDY-BOOT", Label: "GOLEUDYBOOT", Type: disk.BasicData, Size: 40 << 20, Bootable: true,
			Content: fatVolume("GOLEUDYBOOT", map[string]string{DefaultSeedFile: `{"node":"lab"}`})},
		{Name: "GOLEUDY-A", Label: "GOLEUDY_A", Type: disk.BasicData, Size: 40 << 20, Content: fatVolume("GOLEUDY_A", slot)},
		{Name: "GOLEUDY-B", Label: "GOLEUDY_B", Type: disk.BasicData, Size: 40 << 20, Content: fatVolume("GOLEUDY_B", slot)},
		{Name: "GOLEUDY-DATA", Label: disk.DataLabel, Type: disk.LinuxData, Size: 32 << 20, Content: disk.UnformattedData},
	}}
	path := filepath.Join(t.TempDir(), "node.img")
	if err := disk.Write(path, l); err != nil {
		t.Fatal(err)
	}
	d, err := disk.Read(path)
	if err != nil {
		t.Fatal(err)
	}
	var parts []imagePart
	for _, p := range d.Partitions {
		parts = append(parts, imagePart{index: p.Number, name: p.Name, start: p.Start, size: p.Size})
	}
	return path, parts
}
