package grub

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
)

// Offsets in boot.img and in the first sector of core.img (diskboot.img),
// from GRUB's include/grub/i386/pc/boot.h and what grub-bios-setup
// (util/setup.c) patches.
const (
	sectorSize = 512

	bootBPBStart      = 0x03  // BIOS parameter block: kept from the disk
	bootBPBEnd        = 0x5a  //
	bootKernelSector  = 0x5c  // u64 LBA of core.img's first sector
	bootDrive         = 0x64  // 0xff: use the drive the BIOS booted from
	bootDriveCheck    = 0x66  // a 2-byte jump; NOPs make it trust DL (hard disks)
	bootWindowsNTSig  = 0x1b8 // disk signature, reserved word, partition table: kept
	bootPartitionsEnd = 0x1fe //
	bootSignature     = 0x1fe // 0x55 0xaa

	// The blocklist at the end of diskboot.img tells it which sectors hold
	// the rest of core.img: start u64, count u16, segment u16.
	blocklistStart   = sectorSize - 12
	blocklistLen     = sectorSize - 4
	blocklistSegment = sectorSize - 2
	coreSegment      = 0x820 // GRUB_BOOT_I386_PC_KERNEL_SEG + 0x20
)

// biosBootGUID is the GPT type of the BIOS boot partition
// (21686148-6449-6E6F-744E-656564454649) as stored on disk.
var biosBootGUID = []byte("Hah!IdontNeedEFI")

// Disk is an image file (or device) open for reading and writing.
type Disk interface {
	io.ReaderAt
	io.WriterAt
}

// ErrNoRoom is returned when core.img does not fit where it must go.
var ErrNoRoom = errors.New("grub: no room for core.img")

// Placement says where InstallBIOS put core.img.
type Placement struct {
	Table       string // "mbr" or "gpt"
	CoreSector  int64  // first LBA of core.img
	CoreSectors int64  // sectors core.img takes
	Room        int64  // sectors available there
}

// InstallBIOS makes disk boot with GRUB on a PC BIOS. The partition table
// must already be written. It writes core.img at sector 1 on an MBR disk
// (the gap before the first partition) or at the start of the BIOS boot
// partition on a GPT disk, points core.img's blocklist at its own sectors,
// and writes boot.img into sector 0 with the kernel sector patched, the
// boot-drive check disabled as grub-bios-setup does for hard disks, and
// the disk's BIOS parameter block, signature and partition table kept.
func InstallBIOS(disk Disk, img BIOSImages) (Placement, error) {
	if err := checkImages(img); err != nil {
		return Placement{}, err
	}
	mbr := make([]byte, sectorSize)
	if _, err := disk.ReadAt(mbr, 0); err != nil {
		return Placement{}, fmt.Errorf("grub: install BIOS: read sector 0: %w", err)
	}
	pl, err := coreRoom(disk, mbr)
	if err != nil {
		return Placement{}, err
	}
	pl.CoreSectors = int64((len(img.Core) + sectorSize - 1) / sectorSize)
	if pl.CoreSectors > pl.Room {
		return pl, fmt.Errorf("%w: it takes %d sectors, the %s disk leaves %d at sector %d", ErrNoRoom, pl.CoreSectors, pl.Table, pl.Room, pl.CoreSector)
	}

	core := make([]byte, pl.CoreSectors*sectorSize)
	copy(core, img.Core)
	binary.LittleEndian.PutUint64(core[blocklistStart:], uint64(pl.CoreSector+1))

	boot := bytes.Clone(img.Boot)
	copy(boot[bootBPBStart:bootBPBEnd], mbr[bootBPBStart:bootBPBEnd])
	binary.LittleEndian.PutUint64(boot[bootKernelSector:], uint64(pl.CoreSector))
	boot[bootDrive] = 0xff
	boot[bootDriveCheck], boot[bootDriveCheck+1] = 0x90, 0x90
	copy(boot[bootWindowsNTSig:bootPartitionsEnd], mbr[bootWindowsNTSig:bootPartitionsEnd])
	boot[bootSignature], boot[bootSignature+1] = 0x55, 0xaa

	if _, err := disk.WriteAt(core, pl.CoreSector*sectorSize); err != nil {
		return pl, fmt.Errorf("grub: install BIOS: write core.img at sector %d: %w", pl.CoreSector, err)
	}
	if _, err := disk.WriteAt(boot, 0); err != nil {
		return pl, fmt.Errorf("grub: install BIOS: write boot.img: %w", err)
	}
	return pl, nil
}

// checkImages makes sure the images are the i386-pc ones InstallBIOS
// knows how to patch.
func checkImages(img BIOSImages) error {
	if len(img.Boot) != sectorSize || img.Boot[bootSignature] != 0x55 || img.Boot[bootSignature+1] != 0xaa {
		return fmt.Errorf("grub: install BIOS: boot.img is %d bytes without the 0x55aa signature; want GRUB's i386-pc boot.img", len(img.Boot))
	}
	if len(img.Core) <= sectorSize {
		return fmt.Errorf("grub: install BIOS: core.img is %d bytes; want grub-mkimage's i386-pc output", len(img.Core))
	}
	first := img.Core[:sectorSize]
	sectors := (len(img.Core) + sectorSize - 1) / sectorSize
	if seg := binary.LittleEndian.Uint16(first[blocklistSegment:]); seg != coreSegment {
		return fmt.Errorf("grub: install BIOS: core.img blocklist segment is %#x, want %#x: not an i386-pc core.img", seg, coreSegment)
	}
	if n := int(binary.LittleEndian.Uint16(first[blocklistLen:])); n != sectors-1 {
		return fmt.Errorf("grub: install BIOS: core.img blocklist covers %d sectors, the image has %d after the first", n, sectors-1)
	}
	if !bytes.Equal(first[blocklistStart-12:blocklistStart], make([]byte, 12)) {
		return errors.New("grub: install BIOS: core.img has a second blocklist; want one contiguous core.img from grub-mkimage")
	}
	return nil
}

// coreRoom reads the partition table and finds where core.img goes.
func coreRoom(disk io.ReaderAt, mbr []byte) (Placement, error) {
	if mbr[bootSignature] != 0x55 || mbr[bootSignature+1] != 0xaa {
		return Placement{}, errors.New("grub: install BIOS: sector 0 has no partition table (no 0x55aa signature); write the table first")
	}
	first := int64(-1)
	for i := range 4 {
		e := mbr[0x1be+16*i : 0x1be+16*(i+1)]
		typ := e[4]
		start := int64(binary.LittleEndian.Uint32(e[8:]))
		count := int64(binary.LittleEndian.Uint32(e[12:]))
		if typ == 0xee {
			return gptRoom(disk)
		}
		if typ == 0 || count == 0 {
			continue
		}
		if first < 0 || start < first {
			first = start
		}
	}
	if first < 0 {
		return Placement{}, errors.New("grub: install BIOS: the MBR has no partitions")
	}
	if first < 2 {
		return Placement{}, fmt.Errorf("%w: the first partition starts at sector %d", ErrNoRoom, first)
	}
	return Placement{Table: "mbr", CoreSector: 1, Room: first - 1}, nil
}

// GPT header fields used here (UEFI spec 5.3.2).
const (
	gptHeaderSize  = 12
	gptHeaderCRC   = 16
	gptEntriesLBA  = 72
	gptEntryCount  = 80
	gptEntrySize   = 84
	gptMaxEntries  = 1024
	gptMinEntryLen = 128
)

func gptRoom(disk io.ReaderAt) (Placement, error) {
	hdr := make([]byte, sectorSize)
	if _, err := disk.ReadAt(hdr, sectorSize); err != nil {
		return Placement{}, fmt.Errorf("grub: install BIOS: read GPT header: %w", err)
	}
	if string(hdr[:8]) != "EFI PART" {
		return Placement{}, errors.New("grub: install BIOS: protective MBR but no GPT header at sector 1")
	}
	size := binary.LittleEndian.Uint32(hdr[gptHeaderSize:])
	if size < 92 || size > sectorSize {
		return Placement{}, fmt.Errorf("grub: install BIOS: GPT header size %d is out of range", size)
	}
	want := binary.LittleEndian.Uint32(hdr[gptHeaderCRC:])
	h := bytes.Clone(hdr[:size])
	clear(h[gptHeaderCRC : gptHeaderCRC+4])
	if got := crc32.ChecksumIEEE(h); got != want {
		return Placement{}, fmt.Errorf("grub: install BIOS: GPT header CRC is %#x, the header sums to %#x", want, got)
	}
	lba := int64(binary.LittleEndian.Uint64(hdr[gptEntriesLBA:]))
	count := binary.LittleEndian.Uint32(hdr[gptEntryCount:])
	esize := binary.LittleEndian.Uint32(hdr[gptEntrySize:])
	if lba < 2 || count == 0 || count > gptMaxEntries || esize < gptMinEntryLen || esize > 1024 || esize%8 != 0 {
		return Placement{}, fmt.Errorf("grub: install BIOS: GPT entries at LBA %d, %d of %d bytes: out of range", lba, count, esize)
	}
	entries := make([]byte, int64(count)*int64(esize))
	if _, err := disk.ReadAt(entries, lba*sectorSize); err != nil {
		return Placement{}, fmt.Errorf("grub: install BIOS: read GPT entries: %w", err)
	}
	for i := range int64(count) {
		e := entries[i*int64(esize) : (i+1)*int64(esize)]
		if !bytes.Equal(e[:16], biosBootGUID) {
			continue
		}
		first := int64(binary.LittleEndian.Uint64(e[32:]))
		last := int64(binary.LittleEndian.Uint64(e[40:]))
		if first < 2 || last < first {
			return Placement{}, fmt.Errorf("grub: install BIOS: BIOS boot partition %d spans LBA %d..%d", i+1, first, last)
		}
		return Placement{Table: "gpt", CoreSector: first, Room: last - first + 1}, nil
	}
	return Placement{}, errors.New("grub: install BIOS: the GPT disk has no BIOS boot partition (type 21686148-6449-6E6F-744E-656564454649)")
}
