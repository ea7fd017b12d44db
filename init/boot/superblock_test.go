package boot

import (
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/goleudy/goleudy/image/disk"
)

func probeFile(t *testing.T, path string) Filesystem {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fs, err := ProbeFilesystem(f)
	if err != nil {
		t.Fatal(err)
	}
	return fs
}

func sizedFile(t *testing.T, size int64) string {
	p := filepath.Join(t.TempDir(), "fs.img")
	if err := os.WriteFile(p, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(p, size); err != nil {
		t.Fatal(err)
	}
	return p
}

var uuidRE = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

// TestProbeRealExt checks the probe against filesystems made by the real
// mkfs (e2fsprogs), and the UUID against what dumpe2fs reads.
func TestProbeRealExt(t *testing.T) {
	for _, tc := range []struct {
		fstype string
		want   string
	}{{"ext2", "ext2"}, {"ext3", "ext3"}, {"ext4", "ext4"}} {
		p := sizedFile(t, 8<<20)
		run(t, toolMkfsExt4, "-q", "-F", "-t", tc.fstype, "-L", "lbl-"+tc.fstype, p)
		fs := probeFile(t, p)
		if fs.Type != tc.want || fs.Label != "lbl-"+tc.fstype || !uuidRE.MatchString(fs.UUID) {
			t.Errorf("mkfs -t %s: probed %+v", tc.fstype, fs)
		}
		if out := run(t, toolDumpe2fs, "-h", p); !strings.Contains(out, "Filesystem UUID:          "+fs.UUID) {
			t.Errorf("dumpe2fs disagrees on the UUID %s:\n%s", fs.UUID, out)
		}
	}
}

func TestProbeFormats(t *testing.T) {
	ext := sizedFile(t, 16<<20)
	if err := FormatExt4(ext, "GOLEUDY-DATA"); err != nil {
		t.Fatal(err)
	}
	if fs := probeFile(t, ext); fs.Type != "ext4" || fs.Label != "GOLEUDY-DATA" {
		t.Errorf("FormatExt4: probed %+v", fs)
	}
	fat := sizedFile(t, 40<<20)
	fat32WithSeed("GOLEUDY-BOO", "seed.json")(t, fat)
	if fs := probeFile(t, fat); fs.Type != "vfat" || fs.Label != "GOLEUDY-BOO" || len(fs.UUID) != 9 {
		t.Errorf("fat32: probed %+v", fs)
	}
	junk := sizedFile(t, 4<<20)
	garbage(t, junk)
	if fs := probeFile(t, junk); fs != (Filesystem{}) {
		t.Errorf("garbage: probed %+v", fs)
	}
	short := filepath.Join(t.TempDir(), "short")
	os.WriteFile(short, []byte("tiny"), 0o600)
	if fs := probeFile(t, short); fs != (Filesystem{}) {
		t.Errorf("4 bytes: probed %+v", fs)
	}
}

// fat16BootSector is a FAT16 boot sector as mkfs.fat writes one.
func fat16BootSector(label string) []byte {
	b := make([]byte, 512)
	copy(b, []byte{0xEB, 0x3C, 0x90})
	copy(b[3:], "mkfs.fat")
	binary.LittleEndian.PutUint16(b[11:], 512)
	b[13] = 4
	copy(b[39:], []byte{0x78, 0x56, 0x34, 0x12})
	copy(b[43:], []byte(label+strings.Repeat(" ", 11-len(label))))
	copy(b[54:], "FAT16   ")
	b[510], b[511] = 0x55, 0xAA
	return b
}

func TestProbeFAT16(t *testing.T) {
	fs := probeSuperblock(fat16BootSector("BOOT"))
	if fs != (Filesystem{Type: "vfat", Label: "BOOT", UUID: "1234-5678"}) {
		t.Errorf("probed %+v", fs)
	}
	if fs := probeSuperblock(fat16BootSector("NO NAME")); fs.Label != "" {
		t.Errorf("NO NAME label: %+v", fs)
	}
	bad := fat16BootSector("BOOT")
	bad[13] = 3 // sectors per cluster is a power of two
	if fs := probeSuperblock(bad); fs.Type != "" {
		t.Errorf("bad cluster size: %+v", fs)
	}
}

func FuzzProbeSuperblock(f *testing.F) {
	f.Add(fat16BootSector("BOOT"))
	ext := make([]byte, 2048)
	binary.LittleEndian.PutUint16(ext[extMagic:], 0xEF53)
	copy(ext[extVolumeName:], "GOLEUDY-DATA")
	f.Add(ext)
	f.Add([]byte{})
	f.Add(dataMarker())
	f.Fuzz(func(t *testing.T, b []byte) {
		fs := probeSuperblock(b)
		switch fs.Type {
		case "":
			if fs != (Filesystem{}) {
				t.Errorf("no type but %+v", fs)
			}
		case "ext2", "ext3", "ext4":
			if len(b) < extEnd || len(fs.Label) > 16 || !uuidRE.MatchString(fs.UUID) {
				t.Errorf("ext from %d bytes: %+v", len(b), fs)
			}
		case "vfat":
			if len(b) < 512 || len(fs.Label) > 11 || len(fs.UUID) != 9 {
				t.Errorf("vfat from %d bytes: %+v", len(b), fs)
			}
		case Unformatted:
			if fs != (Filesystem{Type: Unformatted, Label: disk.DataLabel}) || !disk.IsDataMarker(b) {
				t.Errorf("marker from %q: %+v", b[:min(len(b), 40)], fs)
			}
		default:
			t.Errorf("type %q", fs.Type)
		}
		// Probing reads only the first probeSize bytes.
		if len(b) > probeSize {
			if got := probeSuperblock(b[:probeSize]); got != fs {
				t.Errorf("probe looked past %d bytes", probeSize)
			}
		}
		if bytes.Contains([]byte(fs.Label), []byte{0}) && fs.Type != "vfat" {
			t.Errorf("ext label with NUL: %q", fs.Label)
		}
	})
}

// dataMarker is the first 4 KiB of a data partition as the image builder
// leaves it.
func dataMarker() []byte {
	b := make([]byte, disk.MarkerSize)
	copy(b, disk.DataMarker)
	return b
}

// TestProbeDataMarker: the image's marker is an unformatted partition
// labelled GOLEUDY-DATA; anything else after the magic is not.
func TestProbeDataMarker(t *testing.T) {
	if fs := probeSuperblock(dataMarker()); fs != (Filesystem{Type: Unformatted, Label: DefaultDataLabel}) {
		t.Errorf("marker probed as %+v", fs)
	}
	p := sizedFile(t, 8<<20)
	if err := disk.UnformattedData(writerAt(t, p), 0, 8<<20); err != nil {
		t.Fatal(err)
	}
	if fs := probeFile(t, p); fs.Type != Unformatted || fs.Label != "GOLEUDY-DATA" {
		t.Errorf("UnformattedData probed as %+v", fs)
	}
	for name, b := range map[string][]byte{
		"junk after the magic": append([]byte(disk.DataMarker), bytes.Repeat([]byte{1}, 4000)...),
		"magic alone":          []byte(disk.DataMarker),
		"other magic":          append([]byte("GOLEUDY-DATA-FORMATTED\n"), make([]byte, 4000)...),
	} {
		if fs := probeSuperblock(b); fs.Type == Unformatted {
			t.Errorf("%s: probed as %+v", name, fs)
		}
	}
	// Formatting replaces the marker: the next boot sees ext4.
	if err := FormatExt4(p, DefaultDataLabel); err != nil {
		t.Fatal(err)
	}
	if fs := probeFile(t, p); fs.Type != "ext4" || fs.Label != DefaultDataLabel {
		t.Errorf("after formatting: %+v", fs)
	}
}

func writerAt(t *testing.T, path string) *os.File {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}
