package grub_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/goleudy/goleudy/image/grub"
)

// memDisk is a disk in memory.
type memDisk []byte

func (d memDisk) ReadAt(p []byte, off int64) (int, error) {
	if off >= int64(len(d)) {
		return 0, errors.New("read past the end")
	}
	n := copy(p, d[off:])
	if n < len(p) {
		return n, errors.New("short read")
	}
	return n, nil
}

func (d memDisk) WriteAt(p []byte, off int64) (int, error) {
	if off+int64(len(p)) > int64(len(d)) {
		return 0, errors.New("write past the end")
	}
	return copy(d[off:], p), nil
}

// fakeImages are shaped like GRUB's: boot.img with its signature, and a
// core.img whose first sector ends in diskboot's blocklist.
func fakeImages(sectors int) grub.BIOSImages {
	boot := make([]byte, 512)
	for i := range boot {
		boot[i] = 0xb0
	}
	boot[0x1fe], boot[0x1ff] = 0x55, 0xaa
	core := make([]byte, sectors*512-100)
	for i := range core {
		core[i] = 0xc0
	}
	clear(core[0x1e8:0x200])
	binary.LittleEndian.PutUint64(core[0x1f4:], 2)
	binary.LittleEndian.PutUint16(core[0x1fc:], uint16(sectors-1))
	binary.LittleEndian.PutUint16(core[0x1fe:], 0x820)
	return grub.BIOSImages{Boot: boot, Core: core}
}

func mbrDisk(firstStart uint32) memDisk {
	d := make(memDisk, 4<<20)
	for i := 0x03; i < 0x5a; i++ {
		d[i] = 0xbb // a BPB to keep
	}
	copy(d[0x1b8:], []byte{0x45, 0x4c, 0x4f, 0x47}) // disk signature
	e := d[0x1be:]
	e[4] = 0x0c
	binary.LittleEndian.PutUint32(e[8:], firstStart)
	binary.LittleEndian.PutUint32(e[12:], 4096)
	e = d[0x1ce:]
	e[4] = 0x83
	binary.LittleEndian.PutUint32(e[8:], firstStart+4096)
	binary.LittleEndian.PutUint32(e[12:], 100)
	d[0x1fe], d[0x1ff] = 0x55, 0xaa
	return d
}

func TestInstallBIOSMBR(t *testing.T) {
	d := mbrDisk(2048)
	before := bytes.Clone(d[:512])
	img := fakeImages(10)
	pl, err := grub.InstallBIOS(d, img)
	if err != nil {
		t.Fatal(err)
	}
	if pl != (grub.Placement{Table: "mbr", CoreSector: 1, CoreSectors: 10, Room: 2047}) {
		t.Fatalf("placement %+v", pl)
	}
	mbr := d[:512]
	if got := binary.LittleEndian.Uint64(mbr[0x5c:]); got != 1 {
		t.Errorf("kernel sector %d, want 1", got)
	}
	if mbr[0x64] != 0xff || mbr[0x66] != 0x90 || mbr[0x67] != 0x90 {
		t.Errorf("boot drive %#x, drive check % x", mbr[0x64], mbr[0x66:0x68])
	}
	if !bytes.Equal(mbr[0x03:0x5a], before[0x03:0x5a]) {
		t.Error("BPB not kept")
	}
	if !bytes.Equal(mbr[0x1b8:0x200], before[0x1b8:0x200]) {
		t.Error("disk signature or partition table not kept")
	}
	if !bytes.Equal(mbr[0x68:0x1b8], img.Boot[0x68:0x1b8]) || mbr[0] != 0xb0 {
		t.Error("boot code not written")
	}
	core := d[512 : 512+10*512]
	if got := binary.LittleEndian.Uint64(core[0x1f4:]); got != 2 {
		t.Errorf("blocklist start %d, want 2", got)
	}
	if !bytes.Equal(core[0x200:len(img.Core)], img.Core[0x200:]) {
		t.Error("core.img body not written")
	}
	if !bytes.Equal(core[len(img.Core):], make([]byte, 10*512-len(img.Core))) {
		t.Error("core.img's last sector not padded with zeros")
	}
}

func TestInstallBIOSErrors(t *testing.T) {
	img := fakeImages(10)
	for _, tc := range []struct {
		name string
		disk memDisk
		img  grub.BIOSImages
		want string
	}{
		{"no table", make(memDisk, 1<<20), img, "no partition table"},
		{"no partitions", func() memDisk { d := make(memDisk, 1<<20); d[0x1fe], d[0x1ff] = 0x55, 0xaa; return d }(), img, "no partitions"},
		{"gap too small", mbrDisk(8), img, "it takes 10 sectors, the mbr disk leaves 7"},
		{"protective MBR without GPT", func() memDisk { d := mbrDisk(2048); d[0x1be+4] = 0xee; return d }(), img, "no GPT header"},
		{"short boot.img", mbrDisk(2048), grub.BIOSImages{Boot: img.Boot[:400], Core: img.Core}, "boot.img is 400 bytes"},
		{"not a core.img", mbrDisk(2048), grub.BIOSImages{Boot: img.Boot, Core: make([]byte, 2048)}, "blocklist segment"},
		{"wrong blocklist length", mbrDisk(2048), func() grub.BIOSImages {
			i := fakeImages(10)
			i.Core = append(i.Core, make([]byte, 1024)...)
			return i
		}(), "covers 9 sectors, the image has 11"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := bytes.Clone(tc.disk)
			_, err := grub.InstallBIOS(tc.disk, tc.img)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("InstallBIOS = %v, want an error with %q", err, tc.want)
			}
			if !bytes.Equal(before, tc.disk) {
				t.Fatal("a refused install wrote to the disk")
			}
		})
	}
	if _, err := grub.InstallBIOS(mbrDisk(8), img); !errors.Is(err, grub.ErrNoRoom) {
		t.Fatalf("want ErrNoRoom, got %v", err)
	}
}

// TestInstallBIOSGPT uses a GPT written by Debian's sfdisk.
func TestInstallBIOSGPT(t *testing.T) {
	d := makeDisk(t, "gpt", nil)
	raw, err := os.ReadFile(d.path)
	if err != nil {
		t.Fatal(err)
	}
	disk := memDisk(raw)
	pl, err := grub.InstallBIOS(disk, fakeImages(100))
	if err != nil {
		t.Fatal(err)
	}
	if pl != (grub.Placement{Table: "gpt", CoreSector: biosStart, CoreSectors: 100, Room: biosSectors}) {
		t.Fatalf("placement %+v", pl)
	}
	if got := binary.LittleEndian.Uint64(disk[0x5c:]); got != biosStart {
		t.Errorf("kernel sector %d, want %d", got, biosStart)
	}
	if got := binary.LittleEndian.Uint64(disk[biosStart*512+0x1f4:]); got != biosStart+1 {
		t.Errorf("blocklist start %d, want %d", got, biosStart+1)
	}
	if string(disk[512:520]) != "EFI PART" || disk[0x1be+4] != 0xee {
		t.Error("GPT header or protective MBR damaged")
	}
	if _, err := grub.InstallBIOS(disk, fakeImages(3000)); !errors.Is(err, grub.ErrNoRoom) {
		t.Fatalf("core.img bigger than the BIOS boot partition: %v", err)
	}
	// A corrupt header is refused.
	disk[512+40] ^= 0xff
	if _, err := grub.InstallBIOS(disk, fakeImages(100)); err == nil || !strings.Contains(err.Error(), "CRC") {
		t.Fatalf("corrupt GPT header: %v", err)
	}

	m := makeDisk(t, "mbr", nil)
	raw, err = os.ReadFile(m.path)
	if err != nil {
		t.Fatal(err)
	}
	if pl, err := grub.InstallBIOS(memDisk(raw), fakeImages(100)); err != nil || pl.Room != bootStart-1 {
		t.Fatalf("sfdisk MBR: %+v, %v", pl, err)
	}
}

func FuzzInstallBIOS(f *testing.F) {
	f.Add(bytes.Clone(mbrDisk(2048)[:3*512]))
	gpt := make([]byte, 3*512)
	gpt[0x1be+4], gpt[0x1fe], gpt[0x1ff] = 0xee, 0x55, 0xaa
	copy(gpt[512:], "EFI PART")
	f.Add(gpt)
	img := fakeImages(4)
	f.Fuzz(func(t *testing.T, head []byte) {
		disk := make(memDisk, 64*512)
		copy(disk, head)
		pl, err := grub.InstallBIOS(disk, img)
		if err != nil {
			return
		}
		if pl.CoreSector < 1 || pl.CoreSectors > pl.Room || pl.CoreSector+pl.CoreSectors > 64 {
			t.Fatalf("placement %+v outside the room or the disk", pl)
		}
	})
}
