package disk

import (
	"encoding/binary"
	"fmt"
)

// MBR layout: boot code, the disk signature at 440, four 16-byte
// partition entries from 446, and 0x55AA at 510.
const (
	mbrSignature = 440
	mbrEntries   = 446
	mbrEntrySize = 16
	mbrGPT       = 0xEE // the protective MBR's one partition
)

// chs encodes an LBA in the cylinder/head/sector form nothing reads any
// more but fdisk still checks, with 255 heads and 63 sectors per track;
// past what CHS can address it is the "too big" value.
func chs(lba int64) [3]byte {
	const heads, sectors = 255, 63
	c := lba / (heads * sectors)
	if c > 1023 {
		return [3]byte{0xFE, 0xFF, 0xFF}
	}
	h := (lba / sectors) % heads
	s := lba%sectors + 1
	return [3]byte{byte(h), byte(s) | byte(c>>8)<<6, byte(c)}
}

func putMBREntry(b []byte, i int, boot bool, typ byte, start, count int64) {
	e := b[mbrEntries+i*mbrEntrySize:]
	if boot {
		e[0] = 0x80
	}
	first, last := chs(start), chs(start+count-1)
	copy(e[1:4], first[:])
	e[4] = typ
	copy(e[5:8], last[:])
	binary.LittleEndian.PutUint32(e[8:], uint32(start))
	binary.LittleEndian.PutUint32(e[12:], uint32(count))
}

// msdosMBR is the MBR of an MBR-partitioned disk.
func msdosMBR(signature uint32, parts []placed) []byte {
	b := make([]byte, SectorSize)
	binary.LittleEndian.PutUint32(b[mbrSignature:], signature)
	for i, p := range parts {
		putMBREntry(b, i, p.Bootable, p.Type.MBR, p.start/SectorSize, p.size/SectorSize)
	}
	b[510], b[511] = 0x55, 0xAA
	return b
}

// protectiveMBR is a GPT disk's MBR: one partition of type 0xEE over the
// whole disk (capped at 2 TiB), so tools that know only MBR see the disk
// as in use.
func protectiveMBR(sectors int64) []byte {
	b := make([]byte, SectorSize)
	putMBREntry(b, 0, false, mbrGPT, 1, min(sectors-1, 0xFFFFFFFF))
	b[510], b[511] = 0x55, 0xAA
	return b
}

// mbrEntry is a partition entry as read.
type mbrEntry struct {
	boot         bool
	typ          byte
	start, count int64 // sectors
}

func parseMBR(b []byte) ([4]mbrEntry, uint32, error) {
	var es [4]mbrEntry
	if len(b) < SectorSize || b[510] != 0x55 || b[511] != 0xAA {
		return es, 0, fmt.Errorf("no partition table: sector 0 lacks the 0x55AA signature")
	}
	for i := range es {
		e := b[mbrEntries+i*mbrEntrySize:]
		if e[0] != 0 && e[0] != 0x80 {
			return es, 0, fmt.Errorf("MBR entry %d: status byte %#02x is neither 0 nor 0x80", i+1, e[0])
		}
		es[i] = mbrEntry{boot: e[0] == 0x80, typ: e[4],
			start: int64(binary.LittleEndian.Uint32(e[8:])), count: int64(binary.LittleEndian.Uint32(e[12:]))}
	}
	return es, binary.LittleEndian.Uint32(b[mbrSignature:]), nil
}
