package disk

import (
	"fmt"
	"io"
)

// Type is a partition type, as GPT and MBR each name it.
type Type struct {
	Name string
	GUID GUID // GPT partition type
	MBR  byte // MBR partition type; 0 if the type has none
}

// Partition types the boards use.
var (
	// EFISystem is the ESP that UEFI firmware boots from.
	EFISystem = Type{Name: "EFI System", GUID: mustGUID("C12A7328-F81F-11D2-BA4B-00A0C93EC93B"), MBR: 0xEF}
	// BIOSBoot holds GRUB's core.img on a GPT disk booted by a BIOS,
	// where there is no gap after the MBR to embed it in.
	BIOSBoot = Type{Name: "BIOS boot", GUID: mustGUID("21686148-6449-6E6F-744E-656564454649")}
	// BasicData is a FAT partition: Microsoft basic data on GPT, FAT32
	// with LBA (0x0C) on MBR, which the Pi firmware needs for its boot
	// partition.
	BasicData = Type{Name: "Microsoft basic data", GUID: mustGUID("EBD0A0A2-B9E5-4433-87C0-68B6B72699C7"), MBR: 0x0C}
	// LinuxData is a Linux filesystem (the data partition).
	LinuxData = Type{Name: "Linux filesystem", GUID: mustGUID("0FC63DAF-8483-4772-8E79-3D69D8477DE4"), MBR: 0x83}
)

var knownTypes = []Type{EFISystem, BIOSBoot, BasicData, LinuxData}

// typeByGUID names a GPT type this package knows; an unknown one keeps
// only its GUID.
func typeByGUID(g GUID) Type {
	for _, t := range knownTypes {
		if t.GUID == g {
			return t
		}
	}
	return Type{GUID: g}
}

// typeByMBR names an MBR type this package knows. 0xEF (ESP) and 0x0C
// are unambiguous; 0x83 is any Linux filesystem.
func typeByMBR(b byte) Type {
	for _, t := range knownTypes {
		if t.MBR != 0 && t.MBR == b {
			return t
		}
	}
	return Type{MBR: b}
}

func (t Type) String() string {
	if t.Name != "" {
		return t.Name
	}
	if !t.GUID.IsZero() {
		return t.GUID.String()
	}
	return fmt.Sprintf("0x%02x", t.MBR)
}

// Content fills a partition: it writes into w, the image, the size bytes
// from off, the partition's start. [fat.Builder.Write] is one. A Content
// that writes outside its partition gets an error.
type Content func(w io.WriterAt, off, size int64) error

// Partition is one partition of a [Layout].
type Partition struct {
	// Name is the GPT partition name (up to 36 UTF-16 units), by which
	// the node finds its partitions. MBR disks have no names; there the
	// node goes by Label.
	Name string
	// Label is the label Content leaves on the partition: a FAT volume
	// label, or [DataLabel] for [UnformattedData]. Write checks it; ""
	// checks nothing.
	Label string
	Type  Type
	// Size in bytes, a multiple of 512. Each partition starts on a 1 MiB
	// boundary.
	Size int64
	// Bootable sets the MBR active flag, or on GPT the legacy BIOS
	// bootable attribute.
	Bootable bool
	// Content fills the partition; nil leaves it zero.
	Content Content
}
