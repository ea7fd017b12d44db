package initramfs

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/goleudy/goleudy/tools/lab"
)

var (
	toolCpio = lab.Tool{Name: "cpio", Package: "cpio"}
	toolGzip = lab.Tool{Name: "gzip", Package: "gzip"}
)

var epoch = time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)

// nodeTree is a small initramfs shaped like a node's.
func nodeTree(t testing.TB, mtime time.Time, reverse bool) *Archive {
	t.Helper()
	a, err := New(mtime)
	if err != nil {
		t.Fatal(err)
	}
	adds := []func() error{
		func() error { return a.AddFile("/init", 0o755, []byte("#!/bin/goleudy-node\n")) },
		func() error {
			return a.AddFile("/lib/modules/6.1.0-41-amd64/kernel/drivers/net/ethernet/realtek/r8169.ko", 0o644, bytes.Repeat([]byte{0x7f, 'E', 'L', 'F'}, 1000))
		},
		func() error { return a.AddFile("lib/firmware/rtl_nic/rtl8168d-1.fw", 0o644, []byte{1, 2, 3}) },
		func() error { return a.AddFile("/etc/goleudy/board.json", 0o644, []byte(`{"name":"vps"}`)) },
		func() error { return a.AddFile("/etc/empty", 0o600, nil) },
		func() error { return a.AddFile("/bin/su", 0o755|fs.ModeSetuid, []byte("x")) },
		func() error { return a.AddDir("/tmp", 0o777|fs.ModeSticky) },
		func() error { return a.AddDir("/etc", 0o700) }, // implied first, then given a mode
		func() error { return a.AddDir("/dev", 0o755) },
		func() error { return a.AddSymlink("/sbin/init", "/init") },
		func() error { return a.AddSymlink("/lib64", "lib") },
	}
	if reverse {
		for i, j := 0, len(adds)-1; i < j; i, j = i+1, j-1 {
			adds[i], adds[j] = adds[j], adds[i]
		}
	}
	for _, add := range adds {
		if err := add(); err != nil {
			t.Fatal(err)
		}
	}
	return a
}

// pad4 is the padding newc puts after a header and name, or data, of
// n bytes.
func pad4(n int64) int64 { return (4 - n%4) % 4 }

func gz(t testing.TB, a *Archive) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := a.WriteGzip(&b); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func raw(t testing.TB, a *Archive) []byte {
	t.Helper()
	var b bytes.Buffer
	n, err := a.WriteTo(&b)
	if err != nil {
		t.Fatal(err)
	}
	if n != int64(b.Len()) {
		t.Fatalf("WriteTo said %d bytes, wrote %d", n, b.Len())
	}
	if b.Len()%4 != 0 {
		t.Fatalf("archive length %d is not a multiple of 4", b.Len())
	}
	return b.Bytes()
}

func run(t *testing.T, tool lab.Tool, dir string, stdin []byte, args ...string) string {
	t.Helper()
	path, err := tool.Path()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(path, args...)
	cmd.Dir = dir
	cmd.Stdin = bytes.NewReader(stdin)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s%s", tool.Name, strings.Join(args, " "), err, out, stderr.String())
	}
	return string(out) + stderr.String()
}

// TestRealCpio unpacks the archive with GNU cpio, as the kernel would
// unpack it, and checks every file, mode, link and time that lands; gzip
// -t checks the compression.
func TestRealCpio(t *testing.T) {
	lab.Require(t, toolCpio, toolGzip)
	a := nodeTree(t, epoch, false)
	img := filepath.Join(t.TempDir(), "initrd.img")
	if err := os.WriteFile(img, gz(t, a), 0o644); err != nil {
		t.Fatal(err)
	}
	run(t, toolGzip, "", nil, "-t", img)
	out := run(t, toolGzip, "", nil, "-lv", img)
	if !strings.Contains(out, "defla") {
		t.Errorf("gzip -lv: %s", out)
	}

	dir := t.TempDir()
	log := run(t, toolCpio, dir, raw(t, a), "-idvm", "--no-absolute-filenames", "--quiet")
	for _, p := range a.Paths() {
		if !strings.Contains(log, p+"\n") {
			t.Errorf("cpio -idv did not list %s:\n%s", p, log)
		}
	}
	checkFile := func(p string, wantMode fs.FileMode, want []byte) {
		t.Helper()
		full := filepath.Join(dir, p)
		st, err := os.Lstat(full)
		if err != nil {
			t.Error(err)
			return
		}
		if st.Mode() != wantMode {
			t.Errorf("%s: mode %s, want %s", p, st.Mode(), wantMode)
		}
		// Directories change as cpio fills them; files keep the time.
		if !st.ModTime().Equal(epoch) && st.Mode().IsRegular() {
			t.Errorf("%s: mtime %s, want %s", p, st.ModTime().UTC(), epoch)
		}
		if want != nil {
			got, err := os.ReadFile(full)
			if err != nil || !bytes.Equal(got, want) {
				t.Errorf("%s: %q %v", p, got, err)
			}
		}
	}
	// cpio -i applies the umask to what it creates; the kernel does not.
	checkFile("init", 0o755, []byte("#!/bin/goleudy-node\n"))
	checkFile("etc/goleudy/board.json", 0o644, []byte(`{"name":"vps"}`))
	checkFile("etc/empty", 0o600, []byte{})
	checkFile("etc", fs.ModeDir|0o700, nil)
	checkFile("lib/firmware/rtl_nic", fs.ModeDir|0o755, nil)
	checkFile("lib/firmware/rtl_nic/rtl8168d-1.fw", 0o644, []byte{1, 2, 3})
	if target, err := os.Readlink(filepath.Join(dir, "sbin/init")); err != nil || target != "/init" {
		t.Errorf("sbin/init -> %q %v", target, err)
	}
	if target, err := os.Readlink(filepath.Join(dir, "lib64")); err != nil || target != "lib" {
		t.Errorf("lib64 -> %q %v", target, err)
	}
	if os.Geteuid() == 0 {
		// Only root keeps setuid and sticky bits through cpio -i.
		checkFile("bin/su", fs.ModeSetuid|0o755, []byte("x"))
		checkFile("tmp", fs.ModeDir|fs.ModeSticky|0o777, nil)
	}

	// The listing says root owns everything, with one time throughout.
	list := run(t, toolCpio, "", raw(t, a), "-tv", "--quiet")
	for _, line := range strings.Split(strings.TrimSpace(list), "\n") {
		if f := strings.Fields(line); len(f) < 9 || f[2] != "root" || f[3] != "root" {
			t.Errorf("cpio -tv: not owned by root: %s", line)
		}
	}
}

// TestReproducible: the same tree, added in any order, gives the same
// bytes; another epoch changes only the timestamps.
func TestReproducible(t *testing.T) {
	one, two := gz(t, nodeTree(t, epoch, false)), gz(t, nodeTree(t, epoch, true))
	if sha256.Sum256(one) != sha256.Sum256(two) {
		t.Fatal("the same tree added in another order gives other bytes")
	}
	if !bytes.Equal(gz(t, nodeTree(t, epoch, false)), one) {
		t.Fatal("the same tree built twice gives other bytes")
	}

	later := epoch.Add(1000 * time.Hour)
	a, b := raw(t, nodeTree(t, epoch, false)), raw(t, nodeTree(t, later, false))
	if len(a) != len(b) {
		t.Fatalf("another epoch changed the length: %d, %d", len(a), len(b))
	}
	// Every differing byte lies in a header's mtime field (bytes 46..54
	// of the 110-byte header).
	entries, err := Read(bytes.NewReader(a))
	if err != nil {
		t.Fatal(err)
	}
	mtimeFields := map[int]bool{}
	off := 0
	for _, e := range entries {
		for i := 46; i < 54; i++ {
			mtimeFields[off+i] = true
		}
		off += headerSize + len(e.Path) + 1 + int(pad4(int64(headerSize+len(e.Path)+1))) + len(e.Data) + int(pad4(int64(len(e.Data))))
	}
	diffs := 0
	for i := range a {
		if a[i] != b[i] {
			diffs++
			if !mtimeFields[i] {
				t.Errorf("byte %d differs outside an mtime field", i)
			}
		}
	}
	if diffs == 0 {
		t.Error("another epoch changed nothing")
	}
	ga, gb := gz(t, nodeTree(t, epoch, false)), gz(t, nodeTree(t, later, false))
	if bytes.Equal(ga[4:8], gb[4:8]) {
		t.Error("the gzip header's mtime does not follow the epoch")
	}
	if ga[3] != 0 || ga[9] != gzipOSUnix {
		t.Errorf("gzip header flags %#x OS %d: want no name, OS Unix", ga[3], ga[9])
	}
}

func TestReadBack(t *testing.T) {
	a := nodeTree(t, epoch, false)
	for name, b := range map[string][]byte{"raw": raw(t, a), "gzip": gz(t, a)} {
		entries, err := Read(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		var got []string
		for i, e := range entries {
			if e.Inode != uint32(i+1) || e.UID != 0 || e.GID != 0 || !e.MTime.Equal(epoch) {
				t.Errorf("%s: %s: inode %d uid %d gid %d mtime %s", name, e.Path, e.Inode, e.UID, e.GID, e.MTime)
			}
			got = append(got, fmt.Sprintf("%s %s %d", e.Path, e.Mode, len(e.Data)))
		}
		want := []string{
			"bin drwxr-xr-x 0", "bin/su urwxr-xr-x 1", "dev drwxr-xr-x 0", "etc drwx------ 0", "etc/empty -rw------- 0",
			"etc/goleudy drwxr-xr-x 0", "etc/goleudy/board.json -rw-r--r-- 14", "init -rwxr-xr-x 20", "lib drwxr-xr-x 0",
			"lib/firmware drwxr-xr-x 0", "lib/firmware/rtl_nic drwxr-xr-x 0", "lib/firmware/rtl_nic/rtl8168d-1.fw -rw-r--r-- 3",
			"lib/modules drwxr-xr-x 0", "lib/modules/6.1.0-41-amd64 drwxr-xr-x 0", "lib/modules/6.1.0-41-amd64/kernel drwxr-xr-x 0",
			"lib/modules/6.1.0-41-amd64/kernel/drivers drwxr-xr-x 0", "lib/modules/6.1.0-41-amd64/kernel/drivers/net drwxr-xr-x 0",
			"lib/modules/6.1.0-41-amd64/kernel/drivers/net/ethernet drwxr-xr-x 0",
			"lib/modules/6.1.0-41-amd64/kernel/drivers/net/ethernet/realtek drwxr-xr-x 0",
			"lib/modules/6.1.0-41-amd64/kernel/drivers/net/ethernet/realtek/r8169.ko -rw-r--r-- 4000",
			"lib64 Lrwxrwxrwx 3", "sbin drwxr-xr-x 0", "sbin/init Lrwxrwxrwx 5", "tmp dtrwxrwxrwx 0",
		}
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("%s: read back:\n%s\nwant:\n%s", name, strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	}
}

func TestArchiveErrors(t *testing.T) {
	if _, err := New(time.Unix(-1, 0)); err == nil || !strings.Contains(err.Error(), "32-bit") {
		t.Errorf("mtime before 1970: %v", err)
	}
	if _, err := New(time.Unix(1<<32, 0)); err == nil {
		t.Error("mtime after 2106 accepted")
	}
	a, _ := New(epoch)
	if err := a.AddFile("/bin/x", 0o755, nil); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		err  error
		want string
	}{
		{"duplicate", a.AddFile("bin/x", 0o644, nil), "add /bin/x: already in the archive"},
		{"under a file", a.AddFile("/bin/x/y", 0o644, nil), "parent /bin/x is not a directory"},
		{"dir over file", a.AddDir("/bin/x", 0o755), "already"},
		{"dir twice", errors.Join(a.AddDir("/d", 0o755), a.AddDir("/d", 0o755)), "add /d: already"},
		{"dotdot", a.AddFile("/lib/../etc/x", 0o644, nil), `path "/lib/../etc/x"`},
		{"empty", a.AddFile("", 0o644, nil), "must name a file"},
		{"root", a.AddDir("/", 0o755), "must name a file"},
		{"double slash", a.AddFile("/a//b", 0o644, nil), "empty elements"},
		{"nul", a.AddFile("/a\x00b", 0o644, nil), "must name"},
		{"device mode", a.AddFile("/dev/null", fs.ModeDevice|0o666, nil), "only permission"},
		{"dir mode on file", a.AddFile("/f", fs.ModeDir|0o755, nil), "is a directory"},
		{"empty target", a.AddSymlink("/l", ""), "symlink target"},
	} {
		if tc.err == nil || !strings.Contains(tc.err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.name, tc.err, tc.want)
		}
	}
	if err := a.AddFile("/bin/x", 0o644, nil); !errors.Is(err, ErrExists) {
		t.Errorf("errors.Is(ErrExists): %v", err)
	}
}

func TestReadErrors(t *testing.T) {
	good := raw(t, nodeTree(t, epoch, false))
	for _, tc := range []struct {
		name string
		in   []byte
		want string
	}{
		{"empty", nil, "header at 0"},
		{"truncated", good[:len(good)/2], "unexpected EOF"},
		{"no trailer", good[:len(good)-124], "header at"},
		{"bad magic", append([]byte("070707"), good[6:]...), `magic got "070707"`},
		{"bad hex", append(append([]byte{}, good[:6]...), append([]byte("zzzzzzzz"), good[14:]...)...), "header at 0: not a valid newc cpio archive (reader: error decoding hex"},
		{"gzip junk", []byte{0x1f, 0x8b, 1, 2}, "gzip"},
		{"huge name", withField(good, 11, "ffffffff"), "name size 4294967295 is not 2..4096"},
		{"name size 1", withField(good, 11, "00000001"), "name size 1"},
		{"name without NUL", withField(good, 11, "00000003"), "is not one NUL-terminated string"},
		{"huge file", withField(good, 6, "7fffffff"), "exceeds what is left of the 1 GiB read limit"},
	} {
		_, err := Read(bytes.NewReader(tc.in))
		if err == nil || !strings.Contains(err.Error(), tc.want) || !errors.Is(err, ErrFormat) {
			t.Errorf("%s: %v, want %q wrapping ErrFormat", tc.name, err, tc.want)
		}
	}

	// What follows the trailer is not read: the kernel takes
	// concatenated archives, and a second one is not this one's.
	entries, err := Read(io.MultiReader(bytes.NewReader(good), strings.NewReader("junk that is no header")))
	if err != nil || len(entries) != len(nodeTree(t, epoch, false).Paths()) {
		t.Errorf("archive then junk: %d entries, %v", len(entries), err)
	}
}

// withField returns a copy of archive with the first header's field i
// (0 is c_ino, 6 c_filesize, 11 c_namesize) set to the hex digits v.
func withField(archive []byte, i int, v string) []byte {
	b := bytes.Clone(archive)
	copy(b[6+8*i:], v)
	return b
}

// TestReadGNU reads an archive that GNU cpio wrote from a real tree, so
// Read is held to what other tools write, not only to what Archive does.
func TestReadGNU(t *testing.T) {
	lab.Require(t, toolCpio)
	dir := t.TempDir()
	for _, err := range []error{
		os.MkdirAll(filepath.Join(dir, "lib/firmware"), 0o755),
		os.WriteFile(filepath.Join(dir, "lib/firmware/a.fw"), []byte("firmware"), 0o644),
		os.WriteFile(filepath.Join(dir, "init"), []byte("#!/bin/sh\n"), 0o755),
		os.Symlink("/init", filepath.Join(dir, "linuxrc")),
		// Modes as the want below says, whatever the umask.
		os.Chmod(filepath.Join(dir, "lib"), 0o755),
		os.Chmod(filepath.Join(dir, "lib/firmware"), 0o755),
		os.Chmod(filepath.Join(dir, "lib/firmware/a.fw"), 0o644),
		os.Chmod(filepath.Join(dir, "init"), 0o755),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	list := "init\nlib\nlib/firmware\nlib/firmware/a.fw\nlinuxrc\n"
	out := run(t, toolCpio, dir, []byte(list), "-o", "-H", "newc", "--quiet", "--owner=0:0")
	entries, err := Read(strings.NewReader(out))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range entries {
		got = append(got, fmt.Sprintf("%s %s %q uid=%d", e.Path, e.Mode, e.Data, e.UID))
	}
	want := []string{
		`init -rwxr-xr-x "#!/bin/sh\n" uid=0`, `lib drwxr-xr-x "" uid=0`, `lib/firmware drwxr-xr-x "" uid=0`,
		`lib/firmware/a.fw -rw-r--r-- "firmware" uid=0`, `linuxrc Lrwxrwxrwx "/init" uid=0`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("read GNU cpio's archive:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// failWriter fails once it has taken n bytes.
type failWriter struct{ n int }

func (w *failWriter) Write(p []byte) (int, error) {
	if len(p) > w.n {
		n := w.n
		w.n = 0
		return n, errors.New("disk full")
	}
	w.n -= len(p)
	return len(p), nil
}

func TestWriteError(t *testing.T) {
	a := nodeTree(t, epoch, false)
	n, err := a.WriteTo(&failWriter{n: 1000})
	if err == nil || !strings.Contains(err.Error(), "initramfs: write cpio") || !strings.Contains(err.Error(), "disk full") || n != 1000 {
		t.Errorf("WriteTo a full disk: %d bytes, %v", n, err)
	}
	if err := a.WriteGzip(&failWriter{n: 10}); err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Errorf("WriteGzip to a full disk: %v", err)
	}
}

func FuzzRead(f *testing.F) {
	f.Add(raw(f, nodeTree(f, epoch, false)))
	f.Add(gz(f, nodeTree(f, epoch, false)))
	f.Add([]byte("070701"))
	f.Fuzz(func(t *testing.T, b []byte) {
		entries, err := Read(bytes.NewReader(b))
		if err != nil {
			if !errors.Is(err, ErrFormat) && !strings.Contains(err.Error(), "gzip") {
				t.Errorf("error without ErrFormat: %v", err)
			}
			return
		}
		// What reads back writes back: an archive of the same entries
		// reads back the same.
		a, _ := New(time.Unix(0, 0))
		for _, e := range entries {
			switch {
			case e.Mode.IsDir():
				a.AddDir(e.Path, e.Mode.Perm())
			case e.Mode&fs.ModeSymlink != 0:
				a.AddSymlink(e.Path, string(e.Data))
			case e.Mode.IsRegular():
				a.AddFile(e.Path, e.Mode.Perm(), e.Data)
			}
		}
		var out bytes.Buffer
		if _, err := a.WriteTo(&out); err != nil {
			t.Fatal(err)
		}
		if _, err := Read(&out); err != nil {
			t.Errorf("rewritten archive does not read: %v", err)
		}
	})
}
