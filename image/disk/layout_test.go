package disk

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// sfdiskTable is what sfdisk --json says.
type sfdiskTable struct {
	PartitionTable struct {
		Label      string `json:"label"`
		ID         string `json:"id"`
		FirstLBA   int64  `json:"firstlba"`
		LastLBA    int64  `json:"lastlba"`
		SectorSize int64  `json:"sectorsize"`
		Partitions []struct {
			Start    int64  `json:"start"`
			Size     int64  `json:"size"`
			Type     string `json:"type"`
			UUID     string `json:"uuid"`
			Name     string `json:"name"`
			Attrs    string `json:"attrs"`
			Bootable bool   `json:"bootable"`
		} `json:"partitions"`
	} `json:"partitiontable"`
}

func sfdisk(t *testing.T, image string) sfdiskTable {
	t.Helper()
	out := tool(t, toolSfdisk, "--json", image)
	var st sfdiskTable
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatalf("sfdisk --json: %v\n%s", err, out)
	}
	if out, err := toolErr(t, toolSfdisk, "--verify", image); err != nil || !strings.Contains(out, "No errors detected") || strings.Contains(out, "arning") {
		t.Errorf("sfdisk --verify: %v\n%s", err, out)
	}
	return st
}

// checkFATs has fsck.fat check every FAT partition and mtools read a
// file from each through the image at its offset.
func checkFATs(t *testing.T, image string, d Disk) {
	t.Helper()
	for _, p := range d.Partitions {
		if p.Type != BasicData && p.Type != EFISystem {
			continue
		}
		out := tool(t, toolFsck, "-n", "-v", extract(t, image, p.Start, p.Size))
		if strings.Contains(out, "arning") || strings.Contains(out, "differ") || !strings.Contains(out, fmt.Sprintf("%d hidden sectors", p.Start/512)) {
			t.Errorf("fsck.fat on partition %d:\n%s", p.Number, out)
		}
		file := "::/slot.json"
		want := `{"version":"1"}`
		if p.Number == 1 {
			file, want = "::/goleudy/seed.json", `{"node":"alban"}`
		}
		if got := tool(t, toolMtype, "-i", fmt.Sprintf("%s@@%d", image, p.Start), file); got != want {
			t.Errorf("mtype %s from partition %d: %q", file, p.Number, got)
		}
	}
}

// TestGPT writes the BRIX and VPS layouts and holds them up against
// sfdisk, sgdisk, fsck.fat and mtools.
func TestGPT(t *testing.T) {
	for name, l := range map[string]Layout{"brix": brixLayout(t), "vps": vpsLayout(t)} {
		t.Run(name, func(t *testing.T) {
			image := write(t, l)
			st, err := os.Stat(image)
			if err != nil {
				t.Fatal(err)
			}
			wantSize := int64(1+64+160+160+64+1) * mib
			if name == "vps" {
				wantSize += mib
			}
			if st.Size() != wantSize {
				t.Errorf("image is %d bytes, want %d", st.Size(), wantSize)
			}
			out := tool(t, toolSgdisk, "-v", image)
			if !strings.Contains(out, "No problems found") {
				t.Errorf("sgdisk -v:\n%s", out)
			}
			sf := sfdisk(t, image).PartitionTable
			d, err := Read(image)
			if err != nil {
				t.Fatal(err)
			}
			if sf.Label != "gpt" || !strings.EqualFold(sf.ID, d.GUID.String()) || d.GUID != derive(l.Seed, "disk") ||
				sf.FirstLBA != 34 || sf.LastLBA != wantSize/512-34 {
				t.Errorf("sfdisk: %+v; read %s", sf, d.GUID)
			}
			if len(sf.Partitions) != len(l.Partitions) || len(d.Partitions) != len(l.Partitions) {
				t.Fatalf("sfdisk sees %d partitions, Read %d, want %d", len(sf.Partitions), len(d.Partitions), len(l.Partitions))
			}
			start := int64(mib)
			for i, p := range l.Partitions {
				s, r := sf.Partitions[i], d.Partitions[i]
				if s.Start*512 != start || s.Size*512 != p.Size || s.Name != p.Name || !strings.EqualFold(s.Type, p.Type.GUID.String()) ||
					!strings.EqualFold(s.UUID, r.GUID.String()) {
					t.Errorf("partition %d: sfdisk %+v, want %s at %d", i+1, s, p.Name, start)
				}
				if r.Number != i+1 || r.Start != start || r.Size != p.Size || r.Name != p.Name || r.Type != p.Type || r.Label != p.Label {
					t.Errorf("partition %d: Read %s", i+1, r)
				}
				if off, size, err := PartitionOffset(image, i+1); err != nil || off != start || size != p.Size {
					t.Errorf("PartitionOffset(%d) = %d, %d, %v", i+1, off, size, err)
				}
				start += p.Size
			}
			checkFATs(t, image, d)
			// The protective MBR carries the boot code.
			b, _ := os.ReadFile(image)
			if !bytes.Equal(b[:440], append(l.BootCode, make([]byte, 440-len(l.BootCode))...)) {
				t.Error("boot code not in the MBR")
			}
		})
	}
}

// TestMBR writes the Pi's layout, with core.img embedded after the MBR
// as on the FitPC2i.
func TestMBR(t *testing.T) {
	l := piLayout(t)
	image := write(t, l)
	sf := sfdisk(t, image).PartitionTable
	d, err := Read(image)
	if err != nil {
		t.Fatal(err)
	}
	if sf.Label != "dos" || sf.ID != fmt.Sprintf("0x%08x", deriveSignature(l.Seed)) || d.Signature != deriveSignature(l.Seed) {
		t.Errorf("sfdisk label %q id %q, read %08x", sf.Label, sf.ID, d.Signature)
	}
	wantTypes := []string{"c", "c", "c", "83"}
	start := int64(mib)
	for i, p := range l.Partitions {
		s, r := sf.Partitions[i], d.Partitions[i]
		if s.Start*512 != start || s.Size*512 != p.Size || s.Type != wantTypes[i] || s.Bootable != (i == 0) {
			t.Errorf("partition %d: sfdisk %+v", i+1, s)
		}
		if r.Start != start || r.Size != p.Size || r.Type.MBR != p.Type.MBR || r.Label != p.Label || r.Bootable != (i == 0) || r.Name != "" {
			t.Errorf("partition %d: Read %s", i+1, r)
		}
		start += p.Size
	}
	checkFATs(t, image, d)
	b, _ := os.ReadFile(image)
	if !bytes.Equal(b[512:512+len(l.Embed)], l.Embed) {
		t.Error("core.img not embedded after the MBR")
	}
	// fdisk's own listing agrees there is nothing odd.
	if out := tool(t, toolSfdisk, "--list", image); !strings.Contains(out, "Disklabel type: dos") {
		t.Errorf("sfdisk --list:\n%s", out)
	}
}

// TestDataMarker: the data partition starts with the marker, zeros to 4
// KiB, and nothing else is written.
func TestDataMarker(t *testing.T) {
	image := write(t, brixLayout(t))
	off, size, err := PartitionOffset(image, 4)
	if err != nil {
		t.Fatal(err)
	}
	f, _ := os.Open(image)
	defer f.Close()
	b := make([]byte, size)
	if _, err := f.ReadAt(b, off); err != nil {
		t.Fatal(err)
	}
	if !IsDataMarker(b[:MarkerSize]) || !strings.HasPrefix(string(b), "GOLEUDY-DATA-UNFORMATTED\n") ||
		len(bytes.Trim(b[len(DataMarker):], "\x00")) != 0 {
		t.Error("data partition is not the marker and zeros")
	}
	for _, bad := range [][]byte{[]byte("GOLEUDY-DATA-UNFORMATTED"), append([]byte(DataMarker), 1), nil} {
		if IsDataMarker(bad) {
			t.Errorf("IsDataMarker(%q)", bad)
		}
	}
	if err := UnformattedData(nil, 0, 100); err == nil {
		t.Error("a 100-byte data partition took the marker")
	}
}

// TestReproducible builds the same layout twice, in different
// directories, and once more in a child process with another time zone:
// all three are byte-identical. Another seed changes only GUIDs.
func TestReproducible(t *testing.T) {
	if out := os.Getenv("GOLEUDY_DISK_REPRO_OUT"); out != "" {
		if err := Write(out, vpsLayout(t)); err != nil {
			t.Fatal(err)
		}
		return
	}
	sum := func(path string) string {
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		h := sha256.New()
		io.Copy(h, f)
		return hex.EncodeToString(h.Sum(nil))
	}
	a, b := sum(write(t, vpsLayout(t))), sum(write(t, vpsLayout(t)))
	child := filepath.Join(t.TempDir(), "elsewhere", "disk.img")
	os.MkdirAll(filepath.Dir(child), 0o755)
	cmd := exec.Command(os.Args[0], "-test.run=^TestReproducible$", "-test.count=1")
	cmd.Env = append(os.Environ(), "GOLEUDY_DISK_REPRO_OUT="+child, "TZ=Pacific/Chatham")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	if c := sum(child); a != b || a != c {
		t.Fatalf("sha256 differ: %s %s %s (TZ=Pacific/Chatham)", a, b, c)
	}
	other := vpsLayout(t)
	other.Seed = "vps/other"
	if sum(write(t, other)) == a {
		t.Error("another seed gave the same image")
	}
}

func TestLayoutErrors(t *testing.T) {
	ok := func() Layout {
		return Layout{Table: GPT, Seed: "s", Partitions: []Partition{{Name: "P", Type: LinuxData, Size: mib}}}
	}
	for _, tc := range []struct {
		name string
		edit func(*Layout)
		want string
	}{
		{"no table", func(l *Layout) { l.Table = "" }, `partition table ""`},
		{"no seed", func(l *Layout) { l.Seed = "" }, "no Seed"},
		{"no partitions", func(l *Layout) { l.Partitions = nil }, "no partitions"},
		{"odd size", func(l *Layout) { l.Partitions[0].Size = 1000 }, "size 1000 is not a positive multiple of 512"},
		{"long name", func(l *Layout) { l.Partitions[0].Name = strings.Repeat("n", 37) }, "over GPT's 36"},
		{"no GPT type", func(l *Layout) { l.Partitions[0].Type = Type{MBR: 0x83} }, "no GPT type GUID"},
		{"no MBR type", func(l *Layout) { l.Table = MBR; l.Partitions[0].Type = BIOSBoot }, "no MBR type byte"},
		{"five on MBR", func(l *Layout) {
			l.Table = MBR
			l.Partitions = append(l.Partitions, l.Partitions[0], l.Partitions[0], l.Partitions[0], l.Partitions[0])
		}, "an MBR holds 4"},
		{"boot code", func(l *Layout) { l.BootCode = make([]byte, 446) }, "the MBR holds 440"},
		{"embed on GPT", func(l *Layout) { l.Embed = []byte("x") }, "Embed) is for MBR disks"},
		{"big embed", func(l *Layout) { l.Table = MBR; l.Embed = make([]byte, mib) }, "gap before the first partition"},
		{"small size", func(l *Layout) { l.Size = 2 * mib }, "need 3145728 bytes"},
		{"content outside", func(l *Layout) {
			l.Partitions[0].Content = func(w io.WriterAt, off, size int64) error {
				w.WriteAt([]byte("x"), off+size)
				return nil
			}
		}, "outside its bytes 1048576..2097152"},
		{"content error", func(l *Layout) {
			l.Partitions[0].Content = func(io.WriterAt, int64, int64) error { return fmt.Errorf("no kernel") }
		}, "partition 1 (P): no kernel"},
		{"wrong label", func(l *Layout) { l.Partitions[0].Label = "GOLEUDY_A"; l.Partitions[0].Content = UnformattedData },
			`labelled "GOLEUDY-DATA", want "GOLEUDY_A"`},
	} {
		l := ok()
		tc.edit(&l)
		dir := t.TempDir()
		err := Write(filepath.Join(dir, "x.img"), l)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
		if left, _ := os.ReadDir(dir); len(left) != 0 {
			t.Errorf("%s: left %v behind", tc.name, left)
		}
	}
	if err := Write(filepath.Join(t.TempDir(), "x.img"), ok()); err != nil {
		t.Errorf("the good layout: %v", err)
	}
	l := ok()
	l.Size = 10 * mib
	image := write(t, l)
	if d, err := Read(image); err != nil || d.Size != 10*mib {
		t.Errorf("fixed size: %+v %v", d, err)
	}
	if _, _, err := PartitionOffset(image, 2); err == nil || !strings.Contains(err.Error(), "no partition 2 (the gpt table has 1)") {
		t.Errorf("PartitionOffset(2): %v", err)
	}
}

// TestReadDamage: a damaged table is refused with what is wrong.
func TestReadDamage(t *testing.T) {
	image := write(t, Layout{Table: GPT, Seed: "damage", Partitions: []Partition{
		{Name: "GOLEUDY-A", Type: BasicData, Size: mib},
		{Name: "GOLEUDY-DATA", Label: DataLabel, Type: LinuxData, Size: mib, Content: UnformattedData},
	}})
	good, err := os.ReadFile(image)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		off  int
		want string
	}{
		{"MBR signature", 510, "lacks the 0x55AA"},
		{"primary header", 512 + 60, "primary GPT: header CRC32"},
		{"primary entries", 1024 + 10, "primary GPT: entries CRC32"},
		{"backup header", len(good) - 512 + 60, "backup GPT at LBA"},
		{"backup entries", len(good) - 33*512 + 5, "backup GPT at LBA"},
	} {
		b := bytes.Clone(good)
		b[tc.off] ^= 0xFF
		_, err := Parse(bytes.NewReader(b), int64(len(b)))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
	if _, err := Read(filepath.Join(t.TempDir(), "nope")); err == nil {
		t.Error("a missing file read")
	}
}

// smallGPT is a GPT disk of 100 sectors, far below what Write makes but
// legal, to seed the fuzzer.
func smallGPT(t testing.TB) []byte {
	w := &memDisk{b: make([]byte, 100*512)}
	parts := []placed{
		{Partition: Partition{Name: "GOLEUDY-BOOT", Type: EFISystem}, number: 1, start: 34 * 512, size: 10 * 512},
		{Partition: Partition{Name: "GOLEUDY-DATA", Type: LinuxData, Bootable: true}, number: 2, start: 44 * 512, size: 8 * 512},
	}
	UnformattedData(w, 44*512, 8*512)
	if err := writeTable(w, Layout{Table: GPT, Seed: "fuzz"}, parts, int64(len(w.b))); err != nil {
		t.Fatal(err)
	}
	return w.b
}

type memDisk struct{ b []byte }

func (m *memDisk) WriteAt(p []byte, off int64) (int, error) { return copy(m.b[off:], p), nil }

func TestSmallGPT(t *testing.T) {
	b := smallGPT(t)
	d, err := Parse(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Partitions) != 2 || d.Partitions[1].Label != DataLabel || !d.Partitions[1].Bootable || d.Partitions[0].Name != "GOLEUDY-BOOT" {
		t.Errorf("%+v", d)
	}
}

func FuzzParse(f *testing.F) {
	f.Add(smallGPT(f))
	mbr := msdosMBR(7, []placed{{Partition: Partition{Type: BasicData, Bootable: true}, number: 1, start: 512, size: 1024}})
	f.Add(append(mbr, make([]byte, 2048)...))
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := Parse(bytes.NewReader(b), int64(len(b)))
		if err != nil {
			return
		}
		for _, p := range d.Partitions {
			if p.Start < 0 || p.Size <= 0 || p.Start+p.Size > int64(len(b)) {
				t.Errorf("partition %s outside the %d-byte disk", p, len(b))
			}
		}
	})
}
