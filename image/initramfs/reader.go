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

	"github.com/u-root/u-root/pkg/cpio"
)

// Entry is one entry of an archive read back by Read.
type Entry struct {
	Path  string      // without the leading "/", cleaned as cpio.Normalize does
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

// The newc layout Read needs to check what u-root's reader does not: a
// 110-byte ASCII header ("070701" and thirteen 8-digit hex fields, the
// twelfth the name's size with its NUL), then the name, each padded to 4
// bytes.
const (
	headerSize    = 110
	nameSizeField = 6 + 8*11
	maxNameSize   = 4096 // PATH_MAX, with the NUL
)

// Read parses a newc cpio archive, gzip-compressed or not, with u-root's
// reader, up to its TRAILER!!! entry. Anything after the trailer (the
// kernel allows concatenated archives) is not read.
func Read(r io.Reader) ([]Entry, error) {
	br := bufio.NewReaderSize(r, 2*maxNameSize)
	if head, err := br.Peek(2); err == nil && head[0] == 0x1f && head[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("initramfs: read: gzip: %w (%w)", ErrFormat, err)
		}
		defer zr.Close()
		zr.Multistream(false)
		br = bufio.NewReaderSize(zr, 2*maxNameSize)
	}
	s := &stream{r: br}
	rr := cpio.Newc.Reader(s)
	var (
		entries []Entry
		next    int64 // offset of the next header in the uncompressed archive
		total   int64
	)
	for {
		if err := s.checkHeader(next); err != nil {
			return entries, err
		}
		rec, err := rr.ReadRecord()
		if errors.Is(err, io.EOF) {
			// checkHeader saw a whole header, so this is the
			// trailer, which cpio.EOFReader reports as io.EOF.
			return entries, nil
		}
		if err != nil {
			return entries, fmt.Errorf("initramfs: read: header at %d: %w (%w)", next, ErrFormat, err)
		}
		size := int64(rec.FileSize)
		if size > maxRead-total {
			return entries, fmt.Errorf("initramfs: read: header at %d: file size %d exceeds what is left of the 1 GiB read limit: %w", next, size, ErrFormat)
		}
		var data bytes.Buffer
		if _, err := data.ReadFrom(io.NewSectionReader(rec, 0, size)); err != nil {
			return entries, fmt.Errorf("initramfs: read: data of %q (%d bytes) at %d: %w (%w)", rec.Name, size, rec.FilePos, ErrFormat, err)
		}
		total += size
		next = (rec.FilePos + size + 3) &^ 3
		info := cpio.LSInfoFromRecord(cpio.StaticRecord(data.Bytes(), rec.Info))
		mode := info.Mode
		if !knownType(rec.Mode) {
			mode |= fs.ModeIrregular
		}
		entries = append(entries, Entry{
			Path: rec.Name, Mode: mode, UID: uint32(rec.UID), GID: uint32(rec.GID), Inode: uint32(rec.Ino),
			NLink: uint32(rec.NLink), MTime: info.MTime, Data: data.Bytes(),
		})
	}
}

// knownType reports whether m's type bits are one Linux defines; u-root
// reads any other as a regular file, which Read must not claim it is.
func knownType(m uint64) bool {
	switch m & cpio.S_IFMT {
	case cpio.S_IFREG, cpio.S_IFDIR, cpio.S_IFLNK, cpio.S_IFCHR, cpio.S_IFBLK, cpio.S_IFIFO, cpio.S_IFSOCK:
		return true
	}
	return false
}

// stream lets u-root's reader, which takes an io.ReaderAt, read a
// stream such as a gzip reader front to back, without holding the whole
// archive. Read walks the archive in order, so each read starts at or
// after the end of the one before; what lies between (padding) is
// skipped.
type stream struct {
	r   *bufio.Reader
	pos int64
}

func (s *stream) ReadAt(p []byte, off int64) (int, error) {
	if err := s.skipTo(off); err != nil {
		return 0, err
	}
	n, err := io.ReadFull(s.r, p)
	s.pos += int64(n)
	return n, noEOF(err)
}

func (s *stream) skipTo(off int64) error {
	if off < s.pos {
		return fmt.Errorf("read at %d, behind %d: the archive is read only forwards", off, s.pos)
	}
	n, err := io.CopyN(io.Discard, s.r, off-s.pos)
	s.pos += n
	return noEOF(err)
}

// checkHeader looks at the header at off before u-root's reader takes
// it, for what that reader does not check: that a whole header is there
// (it takes a clean end of input for the end of the archive), that the
// name's size is sane (it allocates whatever the header says) and that
// the name is one NUL-terminated string (it drops the last byte unseen).
// The magic and the hex fields are left to u-root.
func (s *stream) checkHeader(off int64) error {
	if err := s.skipTo(off); err != nil {
		return fmt.Errorf("initramfs: read: padding before %d: %w (%w)", off, ErrFormat, err)
	}
	h, err := s.r.Peek(headerSize)
	if err != nil {
		return fmt.Errorf("initramfs: read: header at %d: %w (%w)", off, ErrFormat, noEOF(err))
	}
	field := h[nameSizeField : nameSizeField+8]
	size, err := strconv.ParseUint(string(field), 16, 32)
	if err != nil {
		return nil // u-root's reader names the bad hex
	}
	if size < 2 || size > maxNameSize {
		return fmt.Errorf("initramfs: read: header at %d: name size %d is not 2..%d: %w", off, size, maxNameSize, ErrFormat)
	}
	b, err := s.r.Peek(headerSize + int(size))
	if err != nil {
		return fmt.Errorf("initramfs: read: name at %d: %w (%w)", off+headerSize, ErrFormat, noEOF(err))
	}
	name := b[headerSize:]
	if name[size-1] != 0 || bytes.IndexByte(name[:size-1], 0) >= 0 {
		return fmt.Errorf("initramfs: read: name at %d is not one NUL-terminated string: %w", off+headerSize, ErrFormat)
	}
	return nil
}

// noEOF makes a truncated archive's io.EOF an io.ErrUnexpectedEOF: the
// trailer, not the end of input, ends an archive.
func noEOF(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}
