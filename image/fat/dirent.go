package fat

import (
	"encoding/binary"
	"time"
)

// A directory is an array of 32-byte entries: a short entry per file,
// preceded by its LFN entries, ended by an entry whose first byte is 0 or
// by the end of the directory's clusters.

const dirEntrySize = 32

// Directory entry offsets and attribute bits.
const (
	dirAttr      = 11
	dirNTRes     = 12
	dirCrtTenth  = 13
	dirCrtTime   = 14
	dirCrtDate   = 16
	dirAccDate   = 18
	dirClusterHi = 20
	dirWrtTime   = 22
	dirWrtDate   = 24
	dirClusterLo = 26
	dirSize      = 28

	attrReadOnly = 0x01
	attrHidden   = 0x02
	attrSystem   = 0x04
	attrVolumeID = 0x08
	attrDir      = 0x10
	attrArchive  = 0x20
	attrLFN      = attrReadOnly | attrHidden | attrSystem | attrVolumeID

	entryFree    = 0xE5 // first byte of a deleted entry
	entryE5      = 0x05 // first byte standing for a real 0xE5
	ntLowerBase  = 0x08 // NT case flags: show the base in lower case
	ntLowerExt   = 0x10 // and the extension
	dosEpochYear = 1980
)

// dosTime converts t (taken as UTC, so that the time zone of the machine
// building an image does not leak into it) to FAT's date, time and
// tenths-of-a-second fields. FAT's dates run from 1980 to 2107; a time
// outside is clamped, which matters for SOURCE_DATE_EPOCH=0.
func dosTime(t time.Time) (date, tm uint16, tenths byte) {
	t = t.UTC()
	lo := time.Date(dosEpochYear, 1, 1, 0, 0, 0, 0, time.UTC)
	hi := time.Date(2107, 12, 31, 23, 59, 59, 0, time.UTC)
	if t.Before(lo) {
		t = lo
	}
	if t.After(hi) {
		t = hi
	}
	date = uint16(t.Year()-dosEpochYear)<<9 | uint16(t.Month())<<5 | uint16(t.Day())
	tm = uint16(t.Hour())<<11 | uint16(t.Minute())<<5 | uint16(t.Second()/2)
	return date, tm, byte(t.Second()%2) * 100
}

// fromDOSTime is the inverse of dosTime, in UTC. Fields out of range (on
// a volume this package did not write) are carried by time.Date's
// normalisation rather than refused: a time is informational.
func fromDOSTime(date, tm uint16) time.Time {
	return time.Date(int(date>>9)+dosEpochYear, time.Month(date>>5&0xF), int(date&0x1F),
		int(tm>>11), int(tm>>5&0x3F), int(tm&0x1F)*2, 0, time.UTC)
}

// shortEntry encodes a short directory entry.
func shortEntry(name [11]byte, attr byte, cluster, size uint32, t time.Time) [dirEntrySize]byte {
	var e [dirEntrySize]byte
	copy(e[:11], name[:])
	e[dirAttr] = attr
	date, tm, tenths := dosTime(t)
	e[dirCrtTenth] = tenths
	binary.LittleEndian.PutUint16(e[dirCrtTime:], tm)
	binary.LittleEndian.PutUint16(e[dirCrtDate:], date)
	binary.LittleEndian.PutUint16(e[dirAccDate:], date)
	binary.LittleEndian.PutUint16(e[dirClusterHi:], uint16(cluster>>16))
	binary.LittleEndian.PutUint16(e[dirWrtTime:], tm)
	binary.LittleEndian.PutUint16(e[dirWrtDate:], date)
	binary.LittleEndian.PutUint16(e[dirClusterLo:], uint16(cluster))
	binary.LittleEndian.PutUint32(e[dirSize:], size)
	return e
}

func entryCluster(e []byte) uint32 {
	return uint32(binary.LittleEndian.Uint16(e[dirClusterHi:]))<<16 | uint32(binary.LittleEndian.Uint16(e[dirClusterLo:]))
}
