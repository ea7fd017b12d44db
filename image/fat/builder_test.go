package fat

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
	"time"
)

// TestRealTools builds volumes of the sizes boards use, at the start of a
// file and inside one as a partition, and has dosfstools check them and
// mtools list and copy every file back out.
func TestRealTools(t *testing.T) {
	for _, tc := range []struct {
		size, off   int64
		clusterSize int64
	}{
		{34 * mib, 0, 512},     // about the smallest FAT32 there is
		{64 * mib, mib, 512},   // a boot partition
		{160 * mib, 0, 512},    // a slot
		{300 * mib, mib, 4096}, // over 260 MB: 4 KiB clusters
	} {
		t.Run(fmt.Sprintf("%dMiB@%d", tc.size/mib, tc.off), func(t *testing.T) {
			files := bootFiles()
			b := build(t, Options{Label: "GOLEUDYBOOT", Time: epoch}, files, "emptydir")
			f := image(t, tc.off+tc.size+mib)
			if err := b.Write(f, tc.off, tc.size); err != nil {
				t.Fatal(err)
			}
			out := fsck(t, f.Name(), tc.off, tc.size)
			if want := fmt.Sprintf("%d bytes per cluster", tc.clusterSize); !strings.Contains(out, want) {
				t.Errorf("fsck.fat: want %q:\n%s", want, out)
			}
			if want := fmt.Sprintf("%d hidden sectors", tc.off/512); !strings.Contains(out, want) {
				t.Errorf("fsck.fat: want %q (the partition's start):\n%s", want, out)
			}
			img := mtoolsImage(f, tc.off)
			bare := tool(t, toolMdir, "-i", img, "-/", "-b", "-a", "::")
			for p := range files {
				if !strings.Contains(bare, "::/"+p+"\n") {
					t.Errorf("mdir -b does not list %s:\n%s", p, bare)
				}
			}
			listing := tool(t, toolMdir, "-i", img, "-/", "-a", "::")
			for _, want := range []string{"Volume in drive : is GOLEUDYBOOT", "LONGFI~1 TXT", "LONGFI~2 TXT",
				"SEED~1   JSO", "VMLINUZ ", "emptydir", "2024-05-01  12:00"} {
				if !strings.Contains(listing, want) {
					t.Errorf("mdir lacks %q:\n%s", want, listing)
				}
			}
			v, err := Open(f, tc.off, tc.size)
			if err != nil {
				t.Fatal(err)
			}
			if want := fmt.Sprintf("Volume Serial Number is %04X-%04X", v.Serial()>>16, v.Serial()&0xFFFF); !strings.Contains(listing, want) {
				t.Errorf("mdir lacks %q", want)
			}
			info := tool(t, toolMinfo, "-i", img, "::")
			for _, want := range []string{`disk label="GOLEUDYBOOT"`, fmt.Sprintf("serial number: %08X", v.Serial()),
				fmt.Sprintf("hidden sectors: %d", tc.off/512), `disk type="FAT32   "`} {
				if !strings.Contains(info, want) {
					t.Errorf("minfo lacks %q:\n%s", want, info)
				}
			}
			dir := t.TempDir()
			for p, want := range files {
				out := filepath.Join(dir, strings.ReplaceAll(p, "/", "_"))
				tool(t, toolMcopy, "-n", "-i", img, "::/"+p, out)
				got, err := os.ReadFile(out)
				if err != nil || !bytes.Equal(got, want) {
					t.Errorf("mcopy %s: %d bytes %v, want %d bytes", p, len(got), err, len(want))
				}
			}
			checkRead(t, v, files)
		})
	}
}

// checkRead reads files back through the package's own reader.
func checkRead(t *testing.T, v *Volume, files map[string][]byte) {
	t.Helper()
	var paths []string
	for p, want := range files {
		paths = append(paths, p)
		got, err := v.ReadFile(p)
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("ReadFile(%s): %d bytes %v, want %d bytes", p, len(got), err, len(want))
		}
		st, err := v.Stat(p)
		if err != nil || st.Size() != int64(len(want)) || !st.ModTime().Equal(epoch.Truncate(2*time.Second)) || st.IsDir() {
			t.Errorf("Stat(%s) = %v %v", p, st, err)
		}
	}
	if err := fstest.TestFS(v, paths...); err != nil {
		t.Errorf("fstest: %v", err)
	}
}

func TestLayoutDetails(t *testing.T) {
	files := bootFiles()
	b := build(t, Options{Label: "GOLEUDY_A", Time: epoch}, files)
	f := image(t, 64*mib)
	if err := b.Write(f, 0, 64*mib); err != nil {
		t.Fatal(err)
	}
	v, err := Open(f, 0, 64*mib)
	if err != nil {
		t.Fatal(err)
	}
	if v.Label() != "GOLEUDY_A" || v.ClusterSize() != 512 || v.Clusters() < minClusters32 {
		t.Errorf("label %q, clusters %d of %d bytes", v.Label(), v.Clusters(), v.ClusterSize())
	}
	for name, want := range map[string]string{
		"vmlinuz": "VMLINUZ", "initrd.img": "INITRD.IMG", "Long File Name 2.txt": "LONGFI~2.TXT",
		"a.b.c.d": "ABC~1.D", ".hidden": "HIDDEN~1", "café ünïcode ✓.txt": "CAF__N~1.TXT",
		"EFI/BOOT/BOOTX64.EFI": "BOOTX64.EFI", "bcm2710-rpi-3-b.dtb": "BCM271~1.DTB", "EFI": "EFI",
	} {
		if got, err := v.ShortName(name); err != nil || got != want {
			t.Errorf("ShortName(%s) = %q %v, want %q", name, got, err, want)
		}
	}
	// Names match without case, as on FAT.
	if got, err := v.ReadFile("efi/boot/bootx64.efi"); err != nil || len(got) != 600000 {
		t.Errorf("case-insensitive lookup: %d %v", len(got), err)
	}
	if got, err := v.ReadFile("LONGFI~1.TXT"); err != nil || string(got) != "one" {
		t.Errorf("lookup by short name: %q %v", got, err)
	}
	list, err := v.ReadDir("grub")
	if err != nil || len(list) != 2 || list[0].Name() != "grub.cfg" || list[1].Name() != "grubenv" {
		t.Errorf("ReadDir(grub) = %v %v", list, err)
	}
	if _, err := v.ReadFile("nope"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
	if _, err := v.ReadFile("vmlinuz/x"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("file as directory: %v", err)
	}
	if _, err := v.ReadFile("EFI"); err == nil {
		t.Error("ReadFile of a directory succeeded")
	}
}

// TestReproducible: the same files give the same bytes whatever order
// they are added in; another time or label gives other bytes and another
// serial.
func TestReproducible(t *testing.T) {
	sum := func(opts Options) ([32]byte, uint32) {
		f := image(t, 40*mib)
		if err := build(t, opts, bootFiles()).Write(f, 0, 40*mib); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(f.Name())
		if err != nil {
			t.Fatal(err)
		}
		v, err := Open(f, 0, 40*mib)
		if err != nil {
			t.Fatal(err)
		}
		return sha256.Sum256(b), v.Serial()
	}
	base := Options{Label: "GOLEUDY_B", Time: epoch}
	a1, s1 := sum(base)
	a2, s2 := sum(base) // map order differs between the two builds
	if a1 != a2 || s1 != s2 {
		t.Fatal("the same files gave different volumes")
	}
	a3, s3 := sum(Options{Label: "GOLEUDY_B", Time: epoch.Add(2 * time.Second)})
	a4, s4 := sum(Options{Label: "GOLEUDY_A", Time: epoch})
	if a3 == a1 || a4 == a1 || s3 == s1 || s4 == s1 {
		t.Error("another time or label gave the same volume or serial")
	}
	a5, s5 := sum(Options{Label: "GOLEUDY_B", Time: epoch, Serial: 0x12345678})
	if a5 == a1 || s5 != 0x12345678 {
		t.Errorf("fixed serial: %08x", s5)
	}
}

// TestRewrite replaces GRUB's environment block in place, as the node does
// with the boot counter, and fsck and mtools agree.
func TestRewrite(t *testing.T) {
	files := bootFiles()
	f := image(t, 64*mib)
	if err := build(t, Options{Label: "GOLEUDYBOOT", Time: epoch}, files).Write(f, 0, 64*mib); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(f.Name())
	v, err := Open(f, 0, 64*mib)
	if err != nil {
		t.Fatal(err)
	}
	env := grubenv("next_entry=B\nboot_count=1\nslot_b_trial=1\n")
	if err := v.Rewrite("grub/grubenv", env); err != nil {
		t.Fatal(err)
	}
	if got, err := v.ReadFile("grub/grubenv"); err != nil || !bytes.Equal(got, env) {
		t.Errorf("read back %q %v", got, err)
	}
	fsck(t, f.Name(), 0, 64*mib)
	out := filepath.Join(t.TempDir(), "grubenv")
	tool(t, toolMcopy, "-n", "-i", f.Name(), "::/grub/grubenv", out)
	if got, _ := os.ReadFile(out); !bytes.Equal(got, env) {
		t.Errorf("mcopy reads %q", got)
	}
	// Only the file's bytes changed.
	after, _ := os.ReadFile(f.Name())
	changed := 0
	for i := range before {
		if before[i] != after[i] {
			changed++
		}
	}
	if changed == 0 || changed > 1024 {
		t.Errorf("%d bytes of the volume changed", changed)
	}

	for _, tc := range []struct {
		name string
		data []byte
		want string
	}{
		{"grub/grubenv", env[:1000], "1000 bytes given, the file has 1024"},
		{"grub", env, "is a directory"},
		{"grub/nope", env, "file does not exist"},
	} {
		if err := v.Rewrite(tc.name, tc.data); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Rewrite(%s): %v, want %q", tc.name, err, tc.want)
		}
	}
	ro, err := Open(bytes.NewReader(after), 0, 64*mib)
	if err != nil {
		t.Fatal(err)
	}
	if err := ro.Rewrite("grub/grubenv", env); err == nil || !strings.Contains(err.Error(), "cannot write") {
		t.Errorf("read-only rewrite: %v", err)
	}
}

// TestReadForeign reads a volume made by mkfs.fat and filled by mcopy,
// whose long names and layout this package did not choose.
func TestReadForeign(t *testing.T) {
	f := image(t, 80*mib)
	tool(t, toolMkfs, "-F", "32", "-n", "FOREIGN", "-i", "DEADBEEF", f.Name())
	src := t.TempDir()
	files := map[string][]byte{
		"A Long Name With Spaces.json": []byte(`{"x":1}`),
		"lower.txt":                    []byte("lower"),
		"big.bin":                      bytes.Repeat([]byte("0123456789"), 20000),
	}
	for name, data := range files {
		os.WriteFile(filepath.Join(src, name), data, 0o644)
		tool(t, toolMcopy, "-i", f.Name(), filepath.Join(src, name), "::/"+name)
	}
	tool(t, toolMcopy, "-i", f.Name(), "-s", src, "::/sub")
	v, err := Open(f, 0, 80*mib)
	if err != nil {
		t.Fatal(err)
	}
	if v.Label() != "FOREIGN" || v.Serial() != 0xDEADBEEF {
		t.Errorf("label %q serial %08x", v.Label(), v.Serial())
	}
	for name, want := range files {
		for _, p := range []string{name, "sub/" + filepath.Base(src) + "/" + name, "sub/" + name} {
			got, err := v.ReadFile(p)
			if err == nil && !bytes.Equal(got, want) {
				t.Errorf("%s: %d bytes, want %d", p, len(got), len(want))
			}
		}
		if _, err := v.ReadFile(name); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	if err := fstest.TestFS(v, "lower.txt", "big.bin"); err != nil {
		t.Error(err)
	}
}

func TestSizeLimits(t *testing.T) {
	b := build(t, Options{Time: epoch}, nil)
	f := image(t, 64*mib)
	if err := b.Write(f, 0, 32*mib); !errors.Is(err, ErrTooSmall) || !strings.Contains(err.Error(), "under FAT32's minimum of 65525") {
		t.Errorf("32 MiB: %v", err)
	}
	big := build(t, Options{Time: epoch}, map[string][]byte{"big": make([]byte, 40*mib)})
	if err := big.Write(f, 0, 34*mib); !errors.Is(err, ErrTooSmall) || !strings.Contains(err.Error(), "file /big (41943040 bytes)") {
		t.Errorf("40 MiB file in 34 MiB: %v", err)
	}
	if err := b.Write(f, 0, 3<<40); err == nil || !strings.Contains(err.Error(), "2 TiB") {
		t.Errorf("3 TiB: %v", err)
	}
	// Geometry across sizes: always FAT32, FATs big enough, data aligned
	// to clusters.
	for _, size := range []int64{34 * mib, 64 * mib, 259 * mib, 261 * mib, 2 << 30, 8 << 30, 9 << 30, 20 << 30, 40 << 30, 1 << 40} {
		g, err := newGeometry(size)
		if err != nil {
			t.Errorf("%d: %v", size, err)
			continue
		}
		if g.clusters < minClusters32 || (uint64(g.clusters)+2)*4 > uint64(g.fatSectors)*512 ||
			g.dataStart()%g.sectorsPerCluster != 0 || int64(g.dataStart())+int64(g.clusters)*int64(g.sectorsPerCluster) > size/512 {
			t.Errorf("%d: bad geometry %+v", size, g)
		}
		// The FAT is no bigger than it needs to be, give or take the
		// sector the alignment adds.
		if (uint64(g.clusters)+2)*4+2*512 < uint64(g.fatSectors)*512 {
			t.Errorf("%d: FAT of %d sectors for %d clusters", size, g.fatSectors, g.clusters)
		}
	}
}

func TestBuilderErrors(t *testing.T) {
	for _, label := range []string{"GOLEUDY-BOOT", "lower", "A/B", " LEAD", "TRAIL ", "NO NAME", "É"} {
		if _, err := New(Options{Label: label}); err == nil || !strings.Contains(err.Error(), "label") {
			t.Errorf("label %q: %v", label, err)
		}
	}
	b, _ := New(Options{Label: "OK LABEL"})
	b.AddFile("/dir/file", nil)
	for _, tc := range []struct {
		name string
		err  error
		want string
	}{
		{"duplicate", b.AddFile("dir/file", []byte("x")), "already in the filesystem"},
		{"case duplicate", b.AddFile("/DIR/FILE", nil), `"file": already`},
		{"under a file", b.AddFile("/dir/file/x", nil), "/dir/file is a file"},
		{"mkdir over file", b.Mkdir("/dir/file"), "is a file"},
		{"root", b.AddFile("/", nil), "names the root"},
		{"dotdot", b.AddFile("/a/../b", nil), `name ".."`},
		{"empty element", b.AddFile("/a//b", nil), `name ""`},
		{"colon", b.AddFile("/a:b", nil), `character ':'`},
		{"control", b.AddFile("/a\tb", nil), "not allowed"},
		{"trailing dot", b.AddFile("/a.", nil), "ends in a dot"},
		{"too long", b.AddFile("/"+strings.Repeat("x", 256), nil), "over 255"},
		{"bad utf8", b.AddFile("/\xff", nil), "not UTF-8"},
	} {
		if tc.err == nil || !strings.Contains(tc.err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.name, tc.err, tc.want)
		}
	}
	if err := b.Mkdir("dir"); err != nil {
		t.Errorf("mkdir of an existing directory: %v", err)
	}
	if err := b.AddFile("/"+strings.Repeat("x", 255), nil); err != nil {
		t.Errorf("255-unit name: %v", err)
	}
	if err := b.Write(image(t, 40*mib), -1, 40*mib); err == nil {
		t.Error("negative offset accepted")
	}
}

func TestShortNames(t *testing.T) {
	n := newShortNamer()
	for _, tc := range []struct {
		long, short string
		lfn         bool
	}{
		{"README", "README", false},
		{"README.TXT", "README.TXT", false},
		{"readme.txt", "README~1.TXT", true}, // README.TXT is taken
		{"vmlinuz", "VMLINUZ", true},
		{"BOOTX64.EFI", "BOOTX64.EFI", false},
		{"Long File Name.txt", "LONGFI~1.TXT", true},
		{"Long File Name.txt2", "LONGFI~2.TXT", true},
		{"x", "X", true},
		{"X", "X~1", true},
		{"a+b=c.tar.gz", "A_B_CT~1.GZ", true},
		{"...dots", "DOTS~1", true},
		{"日本語", "___~1", true},
	} {
		short, lfn, err := n.name(tc.long)
		if err != nil {
			t.Fatal(err)
		}
		if got := displayShort(short); got != tc.short {
			t.Errorf("%q: short %q, want %q", tc.long, got, tc.short)
		}
		if lfn != tc.lfn {
			t.Errorf("%q: lfn %v, want %v", tc.long, lfn, tc.lfn)
		}
	}
	// Tails grow past 9 and shorten the base to fit.
	m := newShortNamer()
	var last string
	for range 12 {
		s, _, _ := m.name("Program Files")
		last = displayShort(s)
	}
	if last != "PROGR~12" {
		t.Errorf("12th short name %q", last)
	}
}

func TestDOSTime(t *testing.T) {
	for _, tc := range []struct {
		in   time.Time
		want time.Time
	}{
		{epoch, epoch.Add(-time.Second)}, // two-second resolution
		{time.Unix(0, 0), time.Date(1980, 1, 1, 0, 0, 0, 0, time.UTC)},
		{time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2107, 12, 31, 23, 59, 58, 0, time.UTC)},
		{time.Date(2024, 5, 1, 14, 0, 0, 0, time.FixedZone("CEST", 7200)), time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)},
	} {
		d, tm, tenths := dosTime(tc.in)
		if got := fromDOSTime(d, tm); !got.Equal(tc.want) {
			t.Errorf("%s: %s, want %s", tc.in, got, tc.want)
		}
		if tc.in.Equal(epoch) && tenths != 100 {
			t.Errorf("tenths %d for an odd second", tenths)
		}
	}
}

// tinyVolume is a FAT32 volume with a geometry far below FAT32's minimum
// (which the reader accepts and the builder never makes), small enough
// to seed the fuzzer.
func tinyVolume(t testing.TB) []byte {
	g := geometry{bytesPerSector: 512, sectorsPerCluster: 1, reserved: 8, fats: 2, fatSectors: 1, sectors: 40, root: rootCluster}
	g.clusters = g.countClusters()
	b := build(t, Options{Label: "TINY", Time: epoch}, map[string][]byte{
		"a long name.txt": []byte("hello"), "d/e/f": bytes.Repeat([]byte("x"), 1500), "grubenv": grubenv(""),
	}, "empty")
	w := &memWriter{b: make([]byte, 40*512)}
	if err := b.write(w, 0, int64(len(w.b)), g, 0); err != nil {
		t.Fatal(err)
	}
	return w.b
}

type memWriter struct{ b []byte }

func (m *memWriter) WriteAt(p []byte, off int64) (int, error) {
	if off+int64(len(p)) > int64(len(m.b)) {
		return 0, fmt.Errorf("write past %d", len(m.b))
	}
	return copy(m.b[off:], p), nil
}

func (m *memWriter) ReadAt(p []byte, off int64) (int, error) {
	return bytes.NewReader(m.b).ReadAt(p, off)
}

func TestTinyVolume(t *testing.T) {
	img := tinyVolume(t)
	v, err := Open(bytes.NewReader(img), 0, int64(len(img)))
	if err != nil {
		t.Fatal(err)
	}
	if got, err := v.ReadFile("d/e/f"); err != nil || len(got) != 1500 {
		t.Errorf("d/e/f: %d %v", len(got), err)
	}
	if err := fstest.TestFS(v, "a long name.txt", "d/e/f", "grubenv", "empty"); err != nil {
		t.Error(err)
	}
}

// FuzzOpen reads whatever a corrupt or hostile disk could hold: Open
// and every read must end with a result or an error, never a panic, a
// hang or an allocation the input does not justify.
func FuzzOpen(f *testing.F) {
	f.Add(tinyVolume(f))
	f.Fuzz(func(t *testing.T, img []byte) {
		w := &memWriter{b: img}
		v, err := Open(w, 0, int64(len(img)))
		if err != nil {
			return
		}
		// A bounded walk: a corrupt directory can hold itself.
		visited := 0
		var walk func(dir string, depth int)
		walk = func(dir string, depth int) {
			list, err := v.ReadDir(dir)
			if err != nil || depth > 4 {
				return
			}
			for _, e := range list {
				if visited++; visited > 200 {
					return
				}
				p := path.Join(dir, e.Name())
				if e.IsDir() {
					walk(p, depth+1)
					continue
				}
				if b, err := v.ReadFile(p); err == nil {
					if info, _ := e.Info(); int64(len(b)) != info.Size() {
						t.Errorf("%s: read %d bytes, size %d", p, len(b), info.Size())
					}
					if err := v.Rewrite(p, b); err != nil {
						t.Errorf("rewrite %s with its own bytes: %v", p, err)
					}
				}
			}
		}
		walk(".", 0)
	})
}
