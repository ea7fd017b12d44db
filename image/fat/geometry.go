package fat

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

// A FAT32 volume is reserved sectors (the boot sector, FSInfo and their
// backups), two copies of the file allocation table, then the data area in
// clusters numbered from 2. The cluster count alone decides the FAT type a
// reader sees: fewer than 65525 clusters is FAT16 whatever the boot
// sector says, so small volumes get small clusters.

const (
	sectorSize = 512
	numFATs    = 2
	// minReserved leaves room for the backup boot sector at 6 and its
	// FSInfo at 7, as every FAT32 formatter does.
	minReserved   = 32
	fsInfoSector  = 1
	backupSector  = 6
	rootCluster   = 2
	minClusters32 = 65525
	// maxClusters32 is the largest count FAT32's 28-bit entries allow,
	// short of the reserved values.
	maxClusters32 = 0x0FFFFFF5
	entryEOC      = 0x0FFFFFFF
	entryMask     = 0x0FFFFFFF
	mediaFixed    = 0xF8
)

// geometry is where everything sits in a volume.
type geometry struct {
	bytesPerSector    uint32
	sectorsPerCluster uint32
	reserved          uint32 // sectors
	fats              uint32
	fatSectors        uint32 // per FAT
	sectors           uint32 // total
	clusters          uint32 // data clusters, numbered 2..clusters+1
	root              uint32 // first cluster of the root directory
}

func (g geometry) clusterSize() int64 { return int64(g.bytesPerSector) * int64(g.sectorsPerCluster) }
func (g geometry) fatOffset(i uint32) int64 {
	return int64(g.reserved+i*g.fatSectors) * int64(g.bytesPerSector)
}
func (g geometry) dataStart() uint32 { return g.reserved + g.fats*g.fatSectors }

// clusterOffset is cluster c's byte offset from the start of the volume.
func (g geometry) clusterOffset(c uint32) int64 {
	return (int64(g.dataStart()) + int64(c-2)*int64(g.sectorsPerCluster)) * int64(g.bytesPerSector)
}

// ErrTooSmall is returned for a volume too small to be FAT32 or to hold
// its files.
var ErrTooSmall = errors.New("volume too small")

// clusterSectors picks the cluster size for a volume of n sectors, after
// Microsoft's table for FAT32 (which mkfs.fat follows): 512-byte clusters
// up to 260 MB, then 4, 8, 16 and 32 KiB. Small clusters keep small boot
// and slot partitions above FAT32's minimum cluster count.
func clusterSectors(n int64) uint32 {
	switch {
	case n <= 532480: // 260 MB
		return 1
	case n <= 16777216: // 8 GiB
		return 8
	case n <= 33554432: // 16 GiB
		return 16
	case n <= 67108864: // 32 GiB
		return 32
	default:
		return 64
	}
}

// newGeometry lays out a FAT32 volume of size bytes.
func newGeometry(size int64) (geometry, error) {
	n := size / sectorSize
	if n > math.MaxUint32 {
		return geometry{}, fmt.Errorf("fat: %d bytes is over FAT32's 2 TiB limit", size)
	}
	g := geometry{bytesPerSector: sectorSize, reserved: minReserved, fats: numFATs, sectors: uint32(n), root: rootCluster}
	for spc := clusterSectors(n); ; spc /= 2 {
		g.sectorsPerCluster = spc
		g.fit()
		if g.clusters >= minClusters32 || spc == 1 {
			break
		}
	}
	if g.clusters < minClusters32 {
		minSize := (int64(minReserved) + 2*int64((minClusters32+2)*4+sectorSize-1)/sectorSize + minClusters32) * sectorSize
		return geometry{}, fmt.Errorf("fat: %d bytes holds %d clusters, under FAT32's minimum of %d (at least %d bytes, about 33 MiB): %w",
			size, g.clusters, minClusters32, minSize, ErrTooSmall)
	}
	if g.clusters > maxClusters32 {
		return geometry{}, fmt.Errorf("fat: %d bytes needs %d clusters, over FAT32's %d", size, g.clusters, maxClusters32)
	}
	return g, nil
}

// fit sizes the FATs for the cluster count they leave room for, then
// pads the reserved area so that the data area starts on a cluster
// boundary, as mkfs.fat does, which flash storage prefers.
func (g *geometry) fit() {
	g.reserved = minReserved
	// The smallest FAT that maps every cluster it leaves room for: F
	// sectors hold 128·F entries and take 2·F sectors from the data.
	spc := uint64(g.sectorsPerCluster)
	avail := uint64(g.sectors) - min(uint64(g.sectors), uint64(g.reserved))
	f := (avail + 2*spc + 128*spc + 1) / (128*spc + 2)
	g.fatSectors = uint32(max(f, 1))
	for {
		g.clusters = g.countClusters()
		if (uint64(g.clusters)+2)*4 <= uint64(g.fatSectors)*sectorSize {
			break
		}
		g.fatSectors++
	}
	if r := g.dataStart() % g.sectorsPerCluster; r != 0 {
		g.reserved += g.sectorsPerCluster - r
		g.clusters = g.countClusters()
	}
}

func (g geometry) countClusters() uint32 {
	used := uint64(g.reserved) + uint64(g.fats)*uint64(g.fatSectors)
	if used >= uint64(g.sectors) {
		return 0
	}
	return uint32((uint64(g.sectors) - used) / uint64(g.sectorsPerCluster))
}

// Boot sector (BIOS parameter block) offsets for FAT32.
const (
	bpbOEM           = 3
	bpbBytesPerSec   = 11
	bpbSecPerClus    = 13
	bpbReserved      = 14
	bpbNumFATs       = 16
	bpbRootEntCnt    = 17
	bpbTotSec16      = 19
	bpbMedia         = 21
	bpbFATSz16       = 22
	bpbSecPerTrk     = 24
	bpbNumHeads      = 26
	bpbHiddSec       = 28
	bpbTotSec32      = 32
	bpbFATSz32       = 36
	bpbExtFlags      = 40
	bpbFSVer         = 42
	bpbRootClus      = 44
	bpbFSInfo        = 48
	bpbBkBootSec     = 50
	bsDrvNum         = 64
	bsBootSig        = 66
	bsVolID          = 67
	bsVolLab         = 71
	bsFilSysType     = 82
	bootSignatureOff = 510
)

// bootSector encodes the boot sector. The code area holds no boot code:
// nothing boots from these volumes through their boot sector (GRUB lives
// in the MBR and the BIOS boot partition, UEFI and the Pi firmware read
// files), so it just halts, as mkfs.fat's stub does.
func (g geometry) bootSector(label string, serial, hidden uint32) []byte {
	b := make([]byte, sectorSize)
	copy(b, []byte{0xEB, 0x58, 0x90}) // jmp to the code after the BPB
	copy(b[bpbOEM:], "MSWIN4.1")      // the OEM name firmware handles best
	binary.LittleEndian.PutUint16(b[bpbBytesPerSec:], uint16(g.bytesPerSector))
	b[bpbSecPerClus] = byte(g.sectorsPerCluster)
	binary.LittleEndian.PutUint16(b[bpbReserved:], uint16(g.reserved))
	b[bpbNumFATs] = byte(g.fats)
	b[bpbMedia] = mediaFixed
	binary.LittleEndian.PutUint16(b[bpbSecPerTrk:], 63)
	binary.LittleEndian.PutUint16(b[bpbNumHeads:], 255)
	binary.LittleEndian.PutUint32(b[bpbHiddSec:], hidden)
	binary.LittleEndian.PutUint32(b[bpbTotSec32:], g.sectors)
	binary.LittleEndian.PutUint32(b[bpbFATSz32:], g.fatSectors)
	binary.LittleEndian.PutUint32(b[bpbRootClus:], g.root)
	binary.LittleEndian.PutUint16(b[bpbFSInfo:], fsInfoSector)
	binary.LittleEndian.PutUint16(b[bpbBkBootSec:], backupSector)
	b[bsDrvNum] = 0x80
	b[bsBootSig] = 0x29
	binary.LittleEndian.PutUint32(b[bsVolID:], serial)
	copy(b[bsVolLab:bsVolLab+11], padLabel(label))
	copy(b[bsFilSysType:], "FAT32   ")
	// At 0x5A, where the jump lands: cli; hlt; jmp back to hlt.
	copy(b[0x5A:], []byte{0xFA, 0xF4, 0xEB, 0xFD})
	b[bootSignatureOff], b[bootSignatureOff+1] = 0x55, 0xAA
	return b
}

// fsInfo encodes the FSInfo sector: the free cluster count and where to
// look for the next free one, hints a driver trusts on a clean volume.
func fsInfo(free, next uint32) []byte {
	b := make([]byte, sectorSize)
	binary.LittleEndian.PutUint32(b[0:], 0x41615252)
	binary.LittleEndian.PutUint32(b[484:], 0x61417272)
	binary.LittleEndian.PutUint32(b[488:], free)
	binary.LittleEndian.PutUint32(b[492:], next)
	binary.LittleEndian.PutUint32(b[508:], 0xAA550000)
	return b
}

// padLabel is label as the boot sector and the root directory store it:
// 11 bytes padded with spaces, "NO NAME" when empty.
func padLabel(label string) []byte {
	if label == "" {
		label = "NO NAME"
	}
	b := []byte("           ")
	copy(b, label)
	return b
}

// parseBootSector reads a boot sector back, checking everything the
// reader relies on against the size the volume has.
func parseBootSector(b []byte, size int64) (geometry, error) {
	if len(b) < sectorSize {
		return geometry{}, fmt.Errorf("boot sector: %d bytes, want %d", len(b), sectorSize)
	}
	if b[bootSignatureOff] != 0x55 || b[bootSignatureOff+1] != 0xAA {
		return geometry{}, fmt.Errorf("boot sector: no 0x55AA signature")
	}
	g := geometry{
		bytesPerSector:    uint32(binary.LittleEndian.Uint16(b[bpbBytesPerSec:])),
		sectorsPerCluster: uint32(b[bpbSecPerClus]),
		reserved:          uint32(binary.LittleEndian.Uint16(b[bpbReserved:])),
		fats:              uint32(b[bpbNumFATs]),
		fatSectors:        binary.LittleEndian.Uint32(b[bpbFATSz32:]),
		sectors:           binary.LittleEndian.Uint32(b[bpbTotSec32:]),
		root:              binary.LittleEndian.Uint32(b[bpbRootClus:]),
	}
	switch g.bytesPerSector {
	case 512, 1024, 2048, 4096:
	default:
		return geometry{}, fmt.Errorf("boot sector: %d bytes per sector, want 512, 1024, 2048 or 4096", g.bytesPerSector)
	}
	if spc := g.sectorsPerCluster; spc == 0 || spc&(spc-1) != 0 || spc > 128 {
		return geometry{}, fmt.Errorf("boot sector: %d sectors per cluster, want a power of 2 up to 128", spc)
	}
	if binary.LittleEndian.Uint16(b[bpbRootEntCnt:]) != 0 || binary.LittleEndian.Uint16(b[bpbFATSz16:]) != 0 || g.fatSectors == 0 {
		return geometry{}, fmt.Errorf("boot sector: not FAT32 (it has a FAT12/16 root directory or FAT size)")
	}
	if ts16 := binary.LittleEndian.Uint16(b[bpbTotSec16:]); g.sectors == 0 {
		g.sectors = uint32(ts16)
	}
	if g.reserved == 0 || g.fats == 0 {
		return geometry{}, fmt.Errorf("boot sector: %d reserved sectors and %d FATs, want at least 1 of each", g.reserved, g.fats)
	}
	if vol := int64(g.sectors) * int64(g.bytesPerSector); vol > size {
		return geometry{}, fmt.Errorf("boot sector: %d sectors (%d bytes) do not fit in %d bytes", g.sectors, vol, size)
	}
	if uint64(g.reserved)+uint64(g.fats)*uint64(g.fatSectors) >= uint64(g.sectors) {
		return geometry{}, fmt.Errorf("boot sector: reserved sectors and FATs (%d + %d×%d) fill the %d-sector volume",
			g.reserved, g.fats, g.fatSectors, g.sectors)
	}
	g.clusters = g.countClusters()
	if g.clusters == 0 || g.clusters > maxClusters32 {
		return geometry{}, fmt.Errorf("boot sector: %d clusters, want 1..%d", g.clusters, maxClusters32)
	}
	if need := (uint64(g.clusters) + 2) * 4; need > uint64(g.fatSectors)*uint64(g.bytesPerSector) {
		return geometry{}, fmt.Errorf("boot sector: a FAT of %d sectors cannot map %d clusters", g.fatSectors, g.clusters)
	}
	if !g.valid(g.root) {
		return geometry{}, fmt.Errorf("boot sector: root directory cluster %d is outside 2..%d", g.root, g.clusters+1)
	}
	return g, nil
}

// valid reports whether c names a data cluster.
func (g geometry) valid(c uint32) bool { return c >= 2 && c-2 < g.clusters }
