package update

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/goleudy/goleudy/image/bundle"
	"github.com/goleudy/goleudy/image/fat"
	"github.com/goleudy/goleudy/image/grub"
)

// Device is where a slot lives: a partition's block device (Offset 0), or
// in tests a region of a disk image file.
type Device struct {
	Path         string
	Offset, Size int64
}

func (d Device) String() string {
	if d.Offset == 0 {
		return d.Path
	}
	return fmt.Sprintf("%s@%d", d.Path, d.Offset)
}

// slotLabel is the FAT label GRUB finds a slot's partition by.
func slotLabel(s grub.Slot) string {
	if s == grub.B {
		return grub.DefaultLabelB
	}
	return grub.DefaultLabelA
}

// writeSlot writes the image of the verified staged bundle into slot's
// device, hashing as it goes; syncs; reads it back from the device (not
// the page cache) and hashes it again; and gives the volume the slot's
// label. Any mismatch is an error, and the slot stays marked bad.
func writeSlot(staged string, h bundle.Header, m bundle.Manifest, dev Device, slot grub.Slot, p progress) error {
	if m.Size > dev.Size {
		return refusef("the image is %d bytes, slot %s (%s) holds %d", m.Size, slot, dev, dev.Size)
	}
	src, err := os.Open(staged)
	if err != nil {
		return fmt.Errorf("write slot %s: %w", slot, err)
	}
	defer src.Close()
	f, err := os.OpenFile(dev.Path, os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("write slot %s: %w", slot, err)
	}
	defer f.Close()
	w := &progressWriter{w: io.NewOffsetWriter(f, dev.Offset), total: m.Size, p: p}
	if err := bundle.CopyImage(w, io.NewSectionReader(src, h.Offset, m.Size), m); err != nil {
		if errors.Is(err, bundle.ErrHash) {
			return fmt.Errorf("write slot %s: the staged bundle changed under the agent: %w", slot, err)
		}
		return fmt.Errorf("write slot %s (%s): %w", slot, dev, err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("write slot %s (%s): sync: %w", slot, dev, err)
	}
	dropCache(f, dev.Offset, m.Size)
	if err := bundle.CopyImage(io.Discard, io.NewSectionReader(f, dev.Offset, m.Size), m); err != nil {
		return fmt.Errorf("write slot %s (%s): reading back: %w", slot, dev, err)
	}
	if err := fat.Relabel(f, dev.Offset, dev.Size, slotLabel(slot)); err != nil {
		return fmt.Errorf("write slot %s (%s): %w", slot, dev, err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("write slot %s (%s): sync: %w", slot, dev, err)
	}
	return nil
}

// checkStaged hashes the image in the staged bundle.
func checkStaged(staged string, h bundle.Header, m bundle.Manifest) error {
	f, err := os.Open(staged)
	if err != nil {
		return fmt.Errorf("staged bundle: %w", err)
	}
	defer f.Close()
	if err := bundle.CopyImage(io.Discard, io.NewSectionReader(f, h.Offset, m.Size), m); err != nil {
		if errors.Is(err, bundle.ErrHash) {
			return refusef("%v", err)
		}
		return fmt.Errorf("staged bundle: %w", err)
	}
	return nil
}

// stagedHeader reads the header of the staged bundle, so that an update
// cut short after its download resumes without the server.
func stagedHeader(staged string) (bundle.Header, error) {
	f, err := os.Open(staged)
	if err != nil {
		return bundle.Header{}, err
	}
	defer f.Close()
	return bundle.ReadHeader(f)
}
