package disk

import (
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"unicode/utf16"
)

// Table is a kind of partition table.
type Table string

// Partition tables.
const (
	GPT Table = "gpt"
	MBR Table = "mbr"
)

// Geometry every image shares.
const (
	SectorSize = 512
	// Align is where partitions start: a multiple of 1 MiB, which suits
	// every flash erase block and leaves sectors 1..2047 free on MBR
	// disks for GRUB's core.img.
	Align = 1 << 20
	// gptEntries is the number of GPT entries, and gptEntrySize their
	// size: 32 sectors, the minimum the UEFI specification allows.
	gptEntries   = 128
	gptEntrySize = 128
	gptNameUnits = 36
	// maxEmbed is the room between the MBR and the first partition.
	maxEmbed = Align - SectorSize
)

// Layout is a whole disk image.
type Layout struct {
	Table Table
	// Seed makes the disk GUID, the partition GUIDs and the MBR disk
	// signature: something stable that names the image, such as the
	// board and node. It must not be empty.
	Seed string
	// Size is the image's size in bytes, a multiple of 512; 0 makes it
	// just big enough (for GPT, with 1 MiB at the end for the backup
	// table).
	Size       int64
	Partitions []Partition
	// BootCode is what a BIOS runs from the MBR, at most 440 bytes (the
	// first 440 of GRUB's boot.img); nil leaves zeros.
	BootCode []byte
	// Embed is written from sector 1 up to the first partition, on MBR
	// disks only: GRUB's core.img. A GPT disk keeps core.img in a
	// BIOSBoot partition instead.
	Embed []byte
}

// placed is a partition with its place on the disk.
type placed struct {
	Partition
	number      int
	start, size int64 // bytes
}

// plan checks the layout and places its partitions; total is the image
// size.
func (l Layout) plan() (parts []placed, total int64, err error) {
	if l.Table != GPT && l.Table != MBR {
		return nil, 0, fmt.Errorf("partition table %q: want %q or %q", l.Table, GPT, MBR)
	}
	if l.Seed == "" {
		return nil, 0, errors.New("no Seed: the GUIDs are derived from it, so it must name the image (board and node)")
	}
	if len(l.Partitions) == 0 {
		return nil, 0, errors.New("no partitions")
	}
	if l.Table == MBR && len(l.Partitions) > 4 {
		return nil, 0, fmt.Errorf("%d partitions: an MBR holds 4", len(l.Partitions))
	}
	if len(l.Partitions) > gptEntries {
		return nil, 0, fmt.Errorf("%d partitions: the GPT holds %d", len(l.Partitions), gptEntries)
	}
	if len(l.BootCode) > 440 {
		return nil, 0, fmt.Errorf("boot code of %d bytes: the MBR holds 440", len(l.BootCode))
	}
	if len(l.Embed) > 0 && l.Table != MBR {
		return nil, 0, errors.New("an embedded core image (Embed) is for MBR disks: on GPT, put core.img in a BIOS boot partition")
	}
	if len(l.Embed) > maxEmbed {
		return nil, 0, fmt.Errorf("embedded core image of %d bytes: the gap before the first partition holds %d", len(l.Embed), maxEmbed)
	}
	pos := int64(Align)
	for i, p := range l.Partitions {
		n := i + 1
		switch {
		case p.Size <= 0 || p.Size%SectorSize != 0:
			return nil, 0, fmt.Errorf("partition %d (%s): size %d is not a positive multiple of %d", n, p.Name, p.Size, SectorSize)
		case l.Table == GPT && len(utf16.Encode([]rune(p.Name))) > gptNameUnits:
			return nil, 0, fmt.Errorf("partition %d: name %q is over GPT's %d UTF-16 units", n, p.Name, gptNameUnits)
		case l.Table == GPT && p.Type.GUID.IsZero():
			return nil, 0, fmt.Errorf("partition %d (%s): type %s has no GPT type GUID", n, p.Name, p.Type)
		case l.Table == MBR && p.Type.MBR == 0:
			return nil, 0, fmt.Errorf("partition %d (%s): type %s has no MBR type byte", n, p.Name, p.Type)
		}
		parts = append(parts, placed{Partition: p, number: n, start: pos, size: p.Size})
		pos = alignUp(pos + p.Size)
	}
	total = pos
	if l.Table == GPT {
		total += Align // the backup entries and header
	}
	if l.Table == MBR && total/SectorSize > math.MaxUint32 {
		return nil, 0, fmt.Errorf("%d bytes: an MBR addresses at most 2 TiB", total)
	}
	if l.Size != 0 {
		if l.Size%SectorSize != 0 || l.Size < total {
			return nil, 0, fmt.Errorf("size %d: the partitions need %d bytes, and it must be a multiple of %d", l.Size, total, SectorSize)
		}
		total = l.Size
	}
	return parts, total, nil
}

func alignUp(n int64) int64 { return (n + Align - 1) / Align * Align }

// Write writes the image to path: a new sparse file, filled by each
// partition's Content, then the partition table. It is written under a
// temporary name and renamed, so path never holds half an image.
func Write(path string, l Layout) (err error) {
	parts, total, err := l.plan()
	if err != nil {
		return fmt.Errorf("disk: %s: %w", path, err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("disk: %w", err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if err := tmp.Truncate(total); err != nil {
		return fmt.Errorf("disk: %s: size to %d bytes: %w", path, total, err)
	}
	for _, p := range parts {
		if err := p.fill(tmp); err != nil {
			return fmt.Errorf("disk: %s: %w", path, err)
		}
	}
	if err := writeTable(tmp, l, parts, total); err != nil {
		return fmt.Errorf("disk: %s: %w", path, err)
	}
	if err := tmp.Chmod(0o644); err != nil {
		return fmt.Errorf("disk: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("disk: %s: sync: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("disk: %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("disk: %w", err)
	}
	return nil
}

// fill runs the partition's Content, held inside the partition, and
// checks the label it left.
func (p placed) fill(f *os.File) error {
	if p.Content == nil {
		return nil
	}
	w := &boundedWriter{w: f, start: p.start, end: p.start + p.size}
	if err := p.Content(w, p.start, p.size); err != nil {
		return fmt.Errorf("partition %d (%s): %w", p.number, p.Name, err)
	}
	if w.err != nil {
		return fmt.Errorf("partition %d (%s): %w", p.number, p.Name, w.err)
	}
	if p.Label == "" {
		return nil
	}
	got, err := probeLabel(f, p.start, p.size)
	if err != nil {
		return fmt.Errorf("partition %d (%s): %w", p.number, p.Name, err)
	}
	if got != p.Label {
		return fmt.Errorf("partition %d (%s): its content is labelled %q, want %q", p.number, p.Name, got, p.Label)
	}
	return nil
}

// boundedWriter refuses writes outside one partition, so a Content
// cannot overwrite its neighbours or the partition table.
type boundedWriter struct {
	w          io.WriterAt
	start, end int64
	err        error
}

func (b *boundedWriter) WriteAt(p []byte, off int64) (int, error) {
	if off < b.start || off+int64(len(p)) > b.end {
		err := fmt.Errorf("content wrote %d bytes at %d, outside its bytes %d..%d", len(p), off, b.start, b.end)
		if b.err == nil {
			b.err = err
		}
		return 0, err
	}
	return b.w.WriteAt(p, off)
}

// writeTable writes the MBR (and for GPT both headers and entry arrays).
func writeTable(w io.WriterAt, l Layout, parts []placed, total int64) error {
	sectors := total / SectorSize
	var mbr []byte
	switch l.Table {
	case GPT:
		mbr = protectiveMBR(sectors)
		if err := writeGPT(w, l.Seed, parts, sectors); err != nil {
			return err
		}
	case MBR:
		mbr = msdosMBR(deriveSignature(l.Seed), parts)
		if len(l.Embed) > 0 {
			if _, err := w.WriteAt(l.Embed, SectorSize); err != nil {
				return fmt.Errorf("write embedded core image: %w", err)
			}
		}
	}
	copy(mbr, l.BootCode)
	if _, err := w.WriteAt(mbr, 0); err != nil {
		return fmt.Errorf("write MBR: %w", err)
	}
	return nil
}
