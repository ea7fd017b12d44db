package fat

import (
	"fmt"
	"io"
)

// ReadWriterAt is a device or file a volume can be changed on.
type ReadWriterAt interface {
	io.ReaderAt
	io.WriterAt
}

// Relabel gives the FAT32 volume at off a new label, where every reader
// looks for it: the boot sector, its backup, and the volume-label entry
// of the root directory (added if the root has a free entry and none).
//
// An update writes one slot image, made as slot A, into whichever slot
// is inactive, and GRUB finds a slot's partition by its label; so the
// node renames the volume for the partition it now lives on. Nothing but
// the label changes.
func Relabel(rw ReadWriterAt, off, size int64, label string) error {
	if err := checkLabel(label); err != nil {
		return fmt.Errorf("fat: relabel: %w", err)
	}
	v, err := Open(rw, off, size)
	if err != nil {
		return fmt.Errorf("fat: relabel: %w", err)
	}
	padded := padLabel(label)
	sec := make([]byte, sectorSize)
	for _, s := range []int64{0, backupSector} {
		at := off + s*sectorSize
		if _, err := rw.ReadAt(sec, at); err != nil {
			return fmt.Errorf("fat: relabel: read sector %d: %w", s, err)
		}
		if sec[bsBootSig] != 0x29 {
			return fmt.Errorf("fat: relabel: sector %d has no extended boot signature to hold a label", s)
		}
		copy(sec[bsVolLab:bsVolLab+11], padded)
		if _, err := rw.WriteAt(sec, at); err != nil {
			return fmt.Errorf("fat: relabel: write sector %d: %w", s, err)
		}
	}
	// The root directory's first cluster: the label entry, if any, is
	// there (the builder puts it first), else the first free entry.
	cs := v.g.clusterSize()
	root := make([]byte, cs)
	at := off + v.g.clusterOffset(v.g.root)
	if _, err := rw.ReadAt(root, at); err != nil {
		return fmt.Errorf("fat: relabel: read the root directory: %w", err)
	}
	free := int64(-1)
	for i := int64(0); i < cs; i += dirEntrySize {
		e := root[i : i+dirEntrySize]
		switch {
		case e[0] == 0 || e[0] == entryFree:
			if free < 0 {
				free = i
			}
			if e[0] == 0 {
				i = cs // the end of the directory
			}
			continue
		case e[dirAttr]&0x3F == attrLFN || e[dirAttr]&attrVolumeID == 0:
			continue
		}
		copy(e[:11], padded)
		_, err := rw.WriteAt(e, at+i)
		if err != nil {
			return fmt.Errorf("fat: relabel: write the root directory: %w", err)
		}
		return nil
	}
	if free < 0 {
		return nil // a full first cluster: the boot sector's label stands alone
	}
	var name [11]byte
	copy(name[:], padded)
	e := shortEntry(name, attrVolumeID, 0, 0, fromDOSTime(0x21, 0)) // 1980-01-01, like the builder's zero time
	if _, err := rw.WriteAt(e[:], at+free); err != nil {
		return fmt.Errorf("fat: relabel: write the root directory: %w", err)
	}
	return nil
}
