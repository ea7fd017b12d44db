package disk

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/goleudy/goleudy/image/fat"
)

// The data partition is not formatted in the image: it would be the size
// of the image's data partition, not of the card the node runs from, and
// an ext4 filesystem is neither small nor reproducible to make. Instead
// its first 4 KiB say what it is, and the node (init/boot) formats it at
// first boot. The marker also gives the partition a label on MBR disks,
// where partitions have no names.

// Data partition marker.
const (
	// DataMarker starts the first MarkerSize bytes of an unformatted data
	// partition; the rest of them are zero.
	DataMarker = "GOLEUDY-DATA-UNFORMATTED\n"
	MarkerSize = 4096
	// DataLabel is the data partition's label, as a GPT partition name
	// and as the ext4 label the node gives it.
	DataLabel = "GOLEUDY-DATA"
)

// UnformattedData is the data partition's Content: the marker.
func UnformattedData(w io.WriterAt, off, size int64) error {
	if size < MarkerSize {
		return fmt.Errorf("disk: data partition of %d bytes is smaller than its %d-byte marker", size, MarkerSize)
	}
	b := make([]byte, MarkerSize)
	copy(b, DataMarker)
	if _, err := w.WriteAt(b, off); err != nil {
		return fmt.Errorf("disk: write data marker: %w", err)
	}
	return nil
}

// IsDataMarker reports whether b, the start of a partition, is the
// marker: the magic, then zeros to MarkerSize (or to the end of b).
func IsDataMarker(b []byte) bool {
	if !bytes.HasPrefix(b, []byte(DataMarker)) {
		return false
	}
	rest := b[len(DataMarker):min(len(b), MarkerSize)]
	return len(bytes.Trim(rest, "\x00")) == 0
}

// probeLabel reads the label of what a partition holds: a FAT32 volume,
// an ext2/3/4 filesystem, or the data marker. "" if none of them.
func probeLabel(r io.ReaderAt, off, size int64) (string, error) {
	b := make([]byte, min(MarkerSize, size))
	if _, err := r.ReadAt(b, off); err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("read partition start: %w", err)
	}
	if IsDataMarker(b) {
		return DataLabel, nil
	}
	// ext: magic at 1080, label at 1144..1160.
	if len(b) >= 1160 && binary.LittleEndian.Uint16(b[1080:]) == 0xEF53 {
		return string(bytes.TrimRight(b[1144:1160], "\x00")), nil
	}
	if v, err := fat.Open(r, off, size); err == nil {
		return v.Label(), nil
	}
	return "", nil
}
