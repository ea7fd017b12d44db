package disk

import (
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"unicode/utf16"
)

// ErrFormat is wrapped by every error Parse returns for a partition table
// that is missing, corrupt or inconsistent.
var ErrFormat = errors.New("bad partition table")

// Disk is a partitioned disk as read back.
type Disk struct {
	Table      Table
	Size       int64  // bytes
	GUID       GUID   // GPT disk GUID
	Signature  uint32 // MBR disk signature (0 on GPT)
	Partitions []Info // in table order, unused entries left out
}

// Info is one partition as read back.
type Info struct {
	Number   int // 1-based, as the kernel numbers it (sda1, mmcblk0p1)
	Name     string
	Type     Type
	GUID     GUID // GPT unique partition GUID
	Start    int64
	Size     int64 // bytes
	Bootable bool
	// Label is what the partition holds says it is called: a FAT or ext
	// label, or DataLabel for the data marker; "" otherwise.
	Label string
}

func (i Info) String() string {
	return fmt.Sprintf("%d %q %s start=%d size=%d label=%q", i.Number, i.Name, i.Type, i.Start, i.Size, i.Label)
}

// Read parses the partition table of the image or device at path.
func Read(path string) (Disk, error) {
	f, err := os.Open(path)
	if err != nil {
		return Disk{}, fmt.Errorf("disk: %w", err)
	}
	defer f.Close()
	size, err := f.Seek(0, io.SeekEnd)
	if err != nil {
		return Disk{}, fmt.Errorf("disk: %s: size: %w", path, err)
	}
	d, err := Parse(f, size)
	if err != nil {
		return d, fmt.Errorf("disk: %s: %w", path, err)
	}
	return d, nil
}

// Parse reads the partition table of a disk of size bytes: an MBR, or a
// GPT behind a protective MBR, whose primary and backup headers must
// both be intact and agree.
func Parse(r io.ReaderAt, size int64) (Disk, error) {
	sectors := size / SectorSize
	if sectors < 2 {
		return Disk{}, fmt.Errorf("%d bytes is too small for a partition table: %w", size, ErrFormat)
	}
	b := make([]byte, SectorSize)
	if _, err := r.ReadAt(b, 0); err != nil {
		return Disk{}, fmt.Errorf("read MBR: %w", err)
	}
	mbr, sig, err := parseMBR(b)
	if err != nil {
		return Disk{}, fmt.Errorf("%w: %w", err, ErrFormat)
	}
	var d Disk
	if slices.ContainsFunc(mbr[:], func(e mbrEntry) bool { return e.typ == mbrGPT }) {
		d, err = parseGPT(r, sectors)
	} else {
		d, err = parseMSDOS(mbr, sig, sectors)
	}
	if err != nil {
		return Disk{}, fmt.Errorf("%w: %w", err, ErrFormat)
	}
	d.Size = size
	if err := checkOverlap(d.Partitions); err != nil {
		return Disk{}, fmt.Errorf("%w: %w", err, ErrFormat)
	}
	for i, p := range d.Partitions {
		if d.Partitions[i].Label, err = probeLabel(r, p.Start, p.Size); err != nil {
			return Disk{}, fmt.Errorf("partition %d: %w", p.Number, err)
		}
	}
	return d, nil
}

func parseMSDOS(es [4]mbrEntry, sig uint32, sectors int64) (Disk, error) {
	d := Disk{Table: MBR, Signature: sig}
	for i, e := range es {
		if e.typ == 0 {
			continue
		}
		if e.count == 0 || e.start == 0 || e.start+e.count > sectors {
			return Disk{}, fmt.Errorf("MBR partition %d: sectors %d+%d do not fit the disk's %d", i+1, e.start, e.count, sectors)
		}
		d.Partitions = append(d.Partitions, Info{Number: i + 1, Type: typeByMBR(e.typ), Start: e.start * SectorSize,
			Size: e.count * SectorSize, Bootable: e.boot})
	}
	return d, nil
}

func parseGPT(r io.ReaderAt, sectors int64) (Disk, error) {
	h, entries, err := readGPT(r, 1, sectors)
	if err != nil {
		return Disk{}, fmt.Errorf("primary GPT: %w", err)
	}
	bh, bentries, err := readGPT(r, h.alternate, sectors)
	if err != nil {
		return Disk{}, fmt.Errorf("backup GPT at LBA %d: %w", h.alternate, err)
	}
	if bh.alternate != 1 || bh.disk != h.disk || bh.entriesCRC != h.entriesCRC || string(bentries) != string(entries) ||
		bh.firstUsable != h.firstUsable || bh.lastUsable != h.lastUsable {
		return Disk{}, errors.New("backup GPT header does not mirror the primary")
	}
	d := Disk{Table: GPT, GUID: h.disk}
	for i := range h.numEntries {
		e := entries[int64(i)*int64(h.entrySize):]
		typ := guidFromMixed(e[entryTypeGUID:])
		if typ.IsZero() {
			continue
		}
		first, last := int64(binary.LittleEndian.Uint64(e[entryFirstLBA:])), int64(binary.LittleEndian.Uint64(e[entryLastLBA:]))
		if first < h.firstUsable || last > h.lastUsable || first > last {
			return Disk{}, fmt.Errorf("GPT partition %d: LBAs %d..%d are outside the usable %d..%d", i+1, first, last, h.firstUsable, h.lastUsable)
		}
		units := make([]uint16, 0, gptNameUnits)
		for j := range gptNameUnits {
			u := binary.LittleEndian.Uint16(e[entryName+2*j:])
			if u == 0 {
				break
			}
			units = append(units, u)
		}
		d.Partitions = append(d.Partitions, Info{
			Number: int(i) + 1, Name: string(utf16.Decode(units)), Type: typeByGUID(typ),
			GUID: guidFromMixed(e[entryUniqueGUID:]), Start: first * SectorSize, Size: (last - first + 1) * SectorSize,
			Bootable: binary.LittleEndian.Uint64(e[entryAttributes:])&attrLegacyBIOS != 0,
		})
	}
	return d, nil
}

func checkOverlap(parts []Info) error {
	sorted := slices.Clone(parts)
	slices.SortFunc(sorted, func(a, b Info) int { return cmp.Compare(a.Start, b.Start) })
	for i := 1; i < len(sorted); i++ {
		if a, b := sorted[i-1], sorted[i]; a.Start+a.Size > b.Start {
			return fmt.Errorf("partitions %d and %d overlap", a.Number, b.Number)
		}
	}
	return nil
}

// Partition returns partition n (1-based, as the kernel numbers them).
func (d Disk) Partition(n int) (Info, error) {
	for _, p := range d.Partitions {
		if p.Number == n {
			return p, nil
		}
	}
	var have []string
	for _, p := range d.Partitions {
		have = append(have, fmt.Sprint(p.Number))
	}
	return Info{}, fmt.Errorf("disk: no partition %d (the %s table has %s)", n, d.Table, strings.Join(have, ", "))
}

// PartitionOffset returns where partition n of the image at path starts
// and how big it is, in bytes: for mtools' "-i image@@offset", or to
// read a volume out of an image.
func PartitionOffset(path string, n int) (off, size int64, err error) {
	d, err := Read(path)
	if err != nil {
		return 0, 0, err
	}
	p, err := d.Partition(n)
	if err != nil {
		return 0, 0, fmt.Errorf("%w in %s", err, path)
	}
	return p.Start, p.Size, nil
}
