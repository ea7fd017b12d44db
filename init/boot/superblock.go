package boot

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/goleudy/goleudy/image/disk"
)

// Filesystems are recognised by their superblocks, as blkid does, for the
// two kinds a node has: ext4 for data and FAT for the boot partition that
// firmware and bootloaders read. u-root's pkg/mount/block reads the same
// superblocks for UUIDs but not labels, which is what images are built
// around.

// Filesystem is what a superblock says about the filesystem on a device.
type Filesystem struct {
	Type  string // "ext4", "ext3", "ext2", "vfat", Unformatted; "" if none was recognised
	Label string
	UUID  string
}

// Unformatted is the Filesystem type of a partition holding the image
// builder's data marker ([disk.DataMarker]): a data partition that has
// never been formatted, waiting for its first boot. It is labelled
// [disk.DataLabel], so it is found by label on MBR disks too, where
// partitions have no names.
const Unformatted = "unformatted"

// probeSize is how much of a device probing reads: the ext superblock
// ends at 2048, the FAT boot sector at 512, the data marker at 4096.
const probeSize = disk.MarkerSize

// ProbeFilesystem reads the start of a device and recognises the
// filesystem on it. A device too short to hold a superblock, or holding
// none this package knows, gives a zero Filesystem and no error.
func ProbeFilesystem(r io.ReaderAt) (Filesystem, error) {
	b := make([]byte, probeSize)
	n, err := r.ReadAt(b, 0)
	if err != nil && !errors.Is(err, io.EOF) {
		return Filesystem{}, fmt.Errorf("read superblock: %w", err)
	}
	return probeSuperblock(b[:n]), nil
}

// probeSuperblock recognises a filesystem from the first bytes of a
// device. ext is tried first: its magic sits at 1080, past the boot
// sector that an ext filesystem with 1 KiB blocks leaves alone.
func probeSuperblock(b []byte) Filesystem {
	if disk.IsDataMarker(b) && len(b) >= disk.MarkerSize {
		return Filesystem{Type: Unformatted, Label: disk.DataLabel}
	}
	if fs, ok := probeExt(b); ok {
		return fs
	}
	if fs, ok := probeFAT(b); ok {
		return fs
	}
	return Filesystem{}
}

// ext2/3/4 superblock, at byte 1024 of the device.
const (
	extSuper          = 1024
	extLogBlockSize   = extSuper + 24
	extMagic          = extSuper + 56
	extFeatureCompat  = extSuper + 92
	extFeatureInc     = extSuper + 96
	extFeatureROCompa = extSuper + 100
	extUUID           = extSuper + 104
	extVolumeName     = extSuper + 120
	extEnd            = extSuper + 136

	extCompatHasJournal = 0x4
	// Features only ext4 has: extents, 64bit, flex_bg; huge_file,
	// gdt_csum, dir_nlink, extra_isize, metadata_csum.
	extIncompatExt4 = 0x40 | 0x80 | 0x200
	extROCompatExt4 = 0x8 | 0x10 | 0x20 | 0x40 | 0x400
)

func probeExt(b []byte) (Filesystem, bool) {
	if len(b) < extEnd || binary.LittleEndian.Uint16(b[extMagic:]) != 0xEF53 {
		return Filesystem{}, false
	}
	// Block size is 1024<<n, at most 64 KiB: a bigger n is not ext.
	if binary.LittleEndian.Uint32(b[extLogBlockSize:]) > 6 {
		return Filesystem{}, false
	}
	fs := Filesystem{Type: "ext2", Label: cString(b[extVolumeName:extEnd]), UUID: uuidString(b[extUUID : extUUID+16])}
	switch {
	case binary.LittleEndian.Uint32(b[extFeatureInc:])&extIncompatExt4 != 0,
		binary.LittleEndian.Uint32(b[extFeatureROCompa:])&extROCompatExt4 != 0:
		fs.Type = "ext4"
	case binary.LittleEndian.Uint32(b[extFeatureCompat:])&extCompatHasJournal != 0:
		fs.Type = "ext3"
	}
	return fs, true
}

// FAT boot sector fields.
const (
	fatBytesPerSector    = 11
	fatSectorsPerCluster = 13
	fat16Serial          = 39
	fat16Label           = 43
	fat16Type            = 54
	fat32Serial          = 67
	fat32Label           = 71
	fat32Type            = 82
)

func probeFAT(b []byte) (Filesystem, bool) {
	if len(b) < 512 || b[510] != 0x55 || b[511] != 0xAA {
		return Filesystem{}, false
	}
	switch binary.LittleEndian.Uint16(b[fatBytesPerSector:]) {
	case 512, 1024, 2048, 4096:
	default:
		return Filesystem{}, false
	}
	if spc := b[fatSectorsPerCluster]; spc == 0 || spc&(spc-1) != 0 {
		return Filesystem{}, false
	}
	var serial, label int
	switch {
	case string(b[fat32Type:fat32Type+8]) == "FAT32   ":
		serial, label = fat32Serial, fat32Label
	case bytes.HasPrefix(b[fat16Type:fat16Type+8], []byte("FAT1")):
		serial, label = fat16Serial, fat16Label
	default:
		return Filesystem{}, false
	}
	fs := Filesystem{Type: "vfat", Label: strings.TrimRight(string(b[label:label+11]), " \x00")}
	if fs.Label == "NO NAME" {
		fs.Label = ""
	}
	s := b[serial : serial+4]
	fs.UUID = fmt.Sprintf("%02X%02X-%02X%02X", s[3], s[2], s[1], s[0])
	return fs, true
}

func cString(b []byte) string {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	return string(b)
}

func uuidString(b []byte) string {
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
