package initramfs

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strconv"
	"time"
)

// The newc format: each entry is a 110-byte ASCII header ("070701" and
// thirteen 8-digit hex fields), the NUL-terminated name padded to a
// multiple of 4 bytes, then the data padded likewise. The archive ends
// with an entry named TRAILER!!!.

const (
	magic      = "070701"
	headerSize = 110
	trailer    = "TRAILER!!!"
)

// header holds the fields this package sets; the rest (uid, gid, device
// numbers, check) are always 0.
type header struct {
	ino, mode, nlink, mtime uint32
}

func pad4(n int64) int64 { return (4 - n%4) % 4 }

var zeros [4]byte

func writeEntry(w *countWriter, h header, name string, data []byte) {
	var b [headerSize]byte
	copy(b[:], magic)
	fields := [13]uint32{h.ino, h.mode, 0, 0, h.nlink, h.mtime, uint32(len(data)), 0, 0, 0, 0, uint32(len(name) + 1), 0}
	for i, v := range fields {
		hex8(b[6+8*i:], v)
	}
	w.Write(b[:])
	io.WriteString(w, name)
	w.Write(zeros[:1])
	w.Write(zeros[:pad4(headerSize+int64(len(name))+1)])
	w.Write(data)
	w.Write(zeros[:pad4(int64(len(data)))])
}

func hex8(b []byte, v uint32) {
	const digits = "0123456789abcdef"
	for i := 7; i >= 0; i-- {
		b[i] = digits[v&0xf]
		v >>= 4
	}
}

// Entry is one entry of an archive read back by Read.
type Entry struct {
	Path  string      // without the leading "/"
	Mode  fs.FileMode // type and permission bits
	UID   uint32
	GID   uint32
	Inode uint32
	NLink uint32
	MTime time.Time
	Data  []byte // file contents or symlink target
}

// ErrFormat is wrapped by every error Read returns for a malformed
// archive.
var ErrFormat = errors.New("not a valid newc cpio archive")

// maxRead caps the total data Read will hold, so a corrupt size field
// cannot ask for more memory than an initramfs could ever need.
const maxRead = 1 << 30

// Read parses a newc cpio archive, gzip-compressed or not, up to its
// TRAILER!!! entry. Anything after the trailer (the kernel allows
// concatenated archives) is not read.
func Read(r io.Reader) ([]Entry, error) {
	br := bufio.NewReader(r)
	if head, err := br.Peek(2); err == nil && head[0] == 0x1f && head[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("initramfs: read: gzip: %w", err)
		}
		defer zr.Close()
		zr.Multistream(false)
		br = bufio.NewReader(zr)
	}
	var (
		entries []Entry
		off     int64 // offset in the uncompressed archive, for errors
		total   int64
	)
	for {
		e, n, err := readEntry(br, off, maxRead-total)
		if err != nil {
			return entries, err
		}
		off += n
		total += int64(len(e.Data))
		if e.Path == trailer {
			return entries, nil
		}
		entries = append(entries, e)
	}
}

// readEntry reads the entry at off; n is the bytes it took.
func readEntry(r io.Reader, off, budget int64) (Entry, int64, error) {
	var h [headerSize]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return Entry{}, 0, fmt.Errorf("initramfs: read: header at %d: %w (%w)", off, ErrFormat, noEOF(err))
	}
	if string(h[:6]) != magic {
		return Entry{}, 0, fmt.Errorf("initramfs: read: header at %d: magic %q, want %q: %w", off, h[:6], magic, ErrFormat)
	}
	var f [13]uint32
	for i := range f {
		v, err := strconv.ParseUint(string(h[6+8*i:14+8*i]), 16, 32)
		if err != nil {
			return Entry{}, 0, fmt.Errorf("initramfs: read: header at %d: field %d %q is not hex: %w", off, i, h[6+8*i:14+8*i], ErrFormat)
		}
		f[i] = uint32(v)
	}
	size, namesize := int64(f[6]), int64(f[11])
	if namesize < 2 || namesize > 4096 {
		return Entry{}, 0, fmt.Errorf("initramfs: read: header at %d: name size %d is not 2..4096: %w", off, namesize, ErrFormat)
	}
	if size > budget {
		return Entry{}, 0, fmt.Errorf("initramfs: read: header at %d: file size %d exceeds what is left of the 1 GiB read limit: %w", off, size, ErrFormat)
	}
	name := make([]byte, namesize+pad4(headerSize+namesize))
	if _, err := io.ReadFull(r, name); err != nil {
		return Entry{}, 0, fmt.Errorf("initramfs: read: name at %d: %w (%w)", off, ErrFormat, noEOF(err))
	}
	if name[namesize-1] != 0 || bytes.IndexByte(name[:namesize-1], 0) >= 0 {
		return Entry{}, 0, fmt.Errorf("initramfs: read: name at %d is not one NUL-terminated string: %w", off, ErrFormat)
	}
	var data bytes.Buffer
	if _, err := io.CopyN(&data, r, size); err != nil {
		return Entry{}, 0, fmt.Errorf("initramfs: read: data of %q (%d bytes) at %d: %w (%w)", name[:namesize-1], size, off, ErrFormat, noEOF(err))
	}
	if _, err := io.ReadFull(r, make([]byte, pad4(size))); err != nil {
		return Entry{}, 0, fmt.Errorf("initramfs: read: padding after %q: %w (%w)", name[:namesize-1], ErrFormat, noEOF(err))
	}
	e := Entry{
		Path: string(name[:namesize-1]), Mode: fileMode(f[1]), UID: f[2], GID: f[3], Inode: f[0],
		NLink: f[4], MTime: time.Unix(int64(f[5]), 0).UTC(), Data: data.Bytes(),
	}
	return e, headerSize + int64(len(name)) + size + pad4(size), nil
}

// noEOF makes a truncated archive's io.EOF an io.ErrUnexpectedEOF: the
// trailer, not the end of input, ends an archive.
func noEOF(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

// fileMode converts cpio mode bits to an fs.FileMode.
func fileMode(m uint32) fs.FileMode {
	mode := fs.FileMode(m & 0o777)
	if m&0o4000 != 0 {
		mode |= fs.ModeSetuid
	}
	if m&0o2000 != 0 {
		mode |= fs.ModeSetgid
	}
	if m&0o1000 != 0 {
		mode |= fs.ModeSticky
	}
	switch m & modeType {
	case modeDir:
		mode |= fs.ModeDir
	case modeSymlink:
		mode |= fs.ModeSymlink
	case modeRegular:
	case 0o020000:
		mode |= fs.ModeDevice | fs.ModeCharDevice
	case 0o060000:
		mode |= fs.ModeDevice
	case 0o010000:
		mode |= fs.ModeNamedPipe
	case 0o140000:
		mode |= fs.ModeSocket
	default:
		mode |= fs.ModeIrregular
	}
	return mode
}
