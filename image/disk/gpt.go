package disk

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
	"strconv"
	"unicode/utf16"
)

// GPT header fields (UEFI 2.10, 5.3.2).
const (
	gptSignature      = "EFI PART"
	gptRevision       = 0x00010000
	gptHeaderSize     = 92
	hdrRevision       = 8
	hdrSize           = 12
	hdrCRC            = 16
	hdrMyLBA          = 24
	hdrAlternateLBA   = 32
	hdrFirstUsable    = 40
	hdrLastUsable     = 48
	hdrDiskGUID       = 56
	hdrEntriesLBA     = 72
	hdrNumEntries     = 80
	hdrEntrySize      = 84
	hdrEntriesCRC     = 88
	entryTypeGUID     = 0
	entryUniqueGUID   = 16
	entryFirstLBA     = 32
	entryLastLBA      = 40
	entryAttributes   = 48
	entryName         = 56
	attrLegacyBIOS    = 1 << 2
	gptEntriesSectors = gptEntries * gptEntrySize / SectorSize
)

// writeGPT writes the primary header at LBA 1 and its entries from LBA 2,
// and the backup entries and header at the end of the disk.
func writeGPT(w io.WriterAt, seed string, parts []placed, sectors int64) error {
	entries := make([]byte, gptEntries*gptEntrySize)
	for i, p := range parts {
		e := entries[i*gptEntrySize:]
		typ, uniq := p.Type.GUID.mixed(), derive(seed, "partition "+strconv.Itoa(p.number)+" "+p.Name).mixed()
		copy(e[entryTypeGUID:], typ[:])
		copy(e[entryUniqueGUID:], uniq[:])
		binary.LittleEndian.PutUint64(e[entryFirstLBA:], uint64(p.start/SectorSize))
		binary.LittleEndian.PutUint64(e[entryLastLBA:], uint64((p.start+p.size)/SectorSize-1))
		if p.Bootable {
			binary.LittleEndian.PutUint64(e[entryAttributes:], attrLegacyBIOS)
		}
		for j, u := range utf16.Encode([]rune(p.Name)) {
			binary.LittleEndian.PutUint16(e[entryName+2*j:], u)
		}
	}
	last := sectors - 1
	backupEntries := last - gptEntriesSectors
	disk := derive(seed, "disk")
	primary := gptHeader(disk, 1, last, 2, sectors, entries)
	backup := gptHeader(disk, last, 1, backupEntries, sectors, entries)
	for _, wr := range []struct {
		what string
		b    []byte
		lba  int64
	}{
		{"primary GPT entries", entries, 2},
		{"primary GPT header", primary, 1},
		{"backup GPT entries", entries, backupEntries},
		{"backup GPT header", backup, last},
	} {
		if _, err := w.WriteAt(wr.b, wr.lba*SectorSize); err != nil {
			return fmt.Errorf("write %s: %w", wr.what, err)
		}
	}
	return nil
}

func gptHeader(disk GUID, my, alternate, entriesLBA, sectors int64, entries []byte) []byte {
	h := make([]byte, SectorSize)
	copy(h, gptSignature)
	le := binary.LittleEndian
	le.PutUint32(h[hdrRevision:], gptRevision)
	le.PutUint32(h[hdrSize:], gptHeaderSize)
	le.PutUint64(h[hdrMyLBA:], uint64(my))
	le.PutUint64(h[hdrAlternateLBA:], uint64(alternate))
	le.PutUint64(h[hdrFirstUsable:], 2+gptEntriesSectors)
	le.PutUint64(h[hdrLastUsable:], uint64(sectors-2-gptEntriesSectors))
	g := disk.mixed()
	copy(h[hdrDiskGUID:], g[:])
	le.PutUint64(h[hdrEntriesLBA:], uint64(entriesLBA))
	le.PutUint32(h[hdrNumEntries:], gptEntries)
	le.PutUint32(h[hdrEntrySize:], gptEntrySize)
	le.PutUint32(h[hdrEntriesCRC:], crc32.ChecksumIEEE(entries))
	le.PutUint32(h[hdrCRC:], crc32.ChecksumIEEE(h[:gptHeaderSize]))
	return h
}

// gptHeaderInfo is a GPT header as read.
type gptHeaderInfo struct {
	my, alternate, firstUsable, lastUsable, entriesLBA int64
	numEntries, entrySize, entriesCRC                  uint32
	disk                                               GUID
}

// maxEntryBytes bounds the entry array a header may ask Read to load.
const maxEntryBytes = 1 << 20

func parseGPTHeader(b []byte, sectors int64) (gptHeaderInfo, error) {
	le := binary.LittleEndian
	if string(b[:8]) != gptSignature {
		return gptHeaderInfo{}, fmt.Errorf("no %q signature", gptSignature)
	}
	size := le.Uint32(b[hdrSize:])
	if size < gptHeaderSize || size > SectorSize {
		return gptHeaderInfo{}, fmt.Errorf("header size %d is not %d..%d", size, gptHeaderSize, SectorSize)
	}
	h := make([]byte, size)
	copy(h, b)
	want := le.Uint32(h[hdrCRC:])
	le.PutUint32(h[hdrCRC:], 0)
	if got := crc32.ChecksumIEEE(h); got != want {
		return gptHeaderInfo{}, fmt.Errorf("header CRC32 is %08x, the header says %08x", got, want)
	}
	g := gptHeaderInfo{
		my: int64(le.Uint64(b[hdrMyLBA:])), alternate: int64(le.Uint64(b[hdrAlternateLBA:])),
		firstUsable: int64(le.Uint64(b[hdrFirstUsable:])), lastUsable: int64(le.Uint64(b[hdrLastUsable:])),
		entriesLBA: int64(le.Uint64(b[hdrEntriesLBA:])), numEntries: le.Uint32(b[hdrNumEntries:]),
		entrySize: le.Uint32(b[hdrEntrySize:]), entriesCRC: le.Uint32(b[hdrEntriesCRC:]),
		disk: guidFromMixed(b[hdrDiskGUID:]),
	}
	switch {
	case g.entrySize < 128 || g.entrySize%8 != 0:
		return g, fmt.Errorf("entry size %d is not a multiple of 8 of at least 128", g.entrySize)
	case uint64(g.numEntries)*uint64(g.entrySize) > maxEntryBytes:
		return g, fmt.Errorf("%d entries of %d bytes is over %d bytes", g.numEntries, g.entrySize, maxEntryBytes)
	case g.entriesLBA < 1 || g.entriesLBA >= sectors:
		return g, fmt.Errorf("entries at LBA %d, outside the disk's %d sectors", g.entriesLBA, sectors)
	case g.firstUsable < 0 || g.lastUsable >= sectors || g.firstUsable > g.lastUsable:
		return g, fmt.Errorf("usable LBAs %d..%d do not fit the disk's %d sectors", g.firstUsable, g.lastUsable, sectors)
	case g.alternate < 0 || g.alternate >= sectors:
		return g, fmt.Errorf("alternate header at LBA %d, outside the disk's %d sectors", g.alternate, sectors)
	}
	return g, nil
}

// readGPT reads the header at lba and its entries, checking both CRCs.
func readGPT(r io.ReaderAt, lba, sectors int64) (gptHeaderInfo, []byte, error) {
	b := make([]byte, SectorSize)
	if _, err := r.ReadAt(b, lba*SectorSize); err != nil {
		return gptHeaderInfo{}, nil, fmt.Errorf("read LBA %d: %w", lba, err)
	}
	h, err := parseGPTHeader(b, sectors)
	if err != nil {
		return h, nil, err
	}
	if h.my != lba {
		return h, nil, fmt.Errorf("header at LBA %d says it is at %d", lba, h.my)
	}
	entries := make([]byte, int64(h.numEntries)*int64(h.entrySize))
	if _, err := r.ReadAt(entries, h.entriesLBA*SectorSize); err != nil {
		return h, nil, fmt.Errorf("read entries at LBA %d: %w", h.entriesLBA, err)
	}
	if got := crc32.ChecksumIEEE(entries); got != h.entriesCRC {
		return h, nil, fmt.Errorf("entries CRC32 is %08x, the header says %08x", got, h.entriesCRC)
	}
	return h, entries, nil
}
