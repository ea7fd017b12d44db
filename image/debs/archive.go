package debs

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// A .deb is a Unix ar archive: the magic line, then members each behind a
// 60-byte text header (name, mtime, uid, gid, mode, size, "`\n"), their
// data padded to an even length. dpkg writes System V names, which may end
// in "/"; BSD long names ("#1/N") are not used in .debs and are refused.

const (
	arMagic     = "!<arch>\n"
	arHeaderLen = 60
	// arMaxMember bounds a member's declared size, so a corrupt header
	// cannot make a reader wait for terabytes.
	arMaxMember = 1 << 40
)

// arHeader is one member's header.
type arHeader struct {
	Name string
	Size int64
}

// arReader reads an ar archive member by member, like archive/tar.
type arReader struct {
	r      *bufio.Reader
	cur    io.Reader // the current member's data, or nil
	remain int64     // unread bytes of the current member, padding included
	off    int64     // offset of the next header, for error messages
}

// newARReader checks the magic and returns a reader positioned before
// the first member.
func newARReader(r io.Reader) (*arReader, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	magic := make([]byte, len(arMagic))
	if _, err := io.ReadFull(br, magic); err != nil {
		return nil, fmt.Errorf("%w: ar: reading magic: %v", ErrFormat, err)
	}
	if string(magic) != arMagic {
		return nil, fmt.Errorf("%w: ar: bad magic %q, want %q", ErrFormat, magic, arMagic)
	}
	return &arReader{r: br, off: int64(len(arMagic))}, nil
}

// Next skips what is left of the current member and reads the next
// header. It returns io.EOF after the last member.
func (a *arReader) Next() (arHeader, error) {
	if a.remain > 0 {
		n, err := io.CopyN(io.Discard, a.r, a.remain)
		a.off += n
		if err != nil {
			return arHeader{}, fmt.Errorf("%w: ar: member before offset %d truncated: %v", ErrFormat, a.off, noEOF(err))
		}
	}
	a.cur, a.remain = nil, 0
	buf := make([]byte, arHeaderLen)
	n, err := io.ReadFull(a.r, buf)
	if n == 0 && err == io.EOF {
		return arHeader{}, io.EOF
	}
	if err != nil {
		return arHeader{}, fmt.Errorf("%w: ar: header at offset %d truncated", ErrFormat, a.off)
	}
	h, err := parseARHeader(buf)
	if err != nil {
		return arHeader{}, fmt.Errorf("%w: ar: header at offset %d: %v", ErrFormat, a.off, err)
	}
	a.off += arHeaderLen
	a.remain = h.Size + h.Size%2
	a.cur = &arMember{a: a, left: h.Size}
	return h, nil
}

// Read reads the current member's data.
func (a *arReader) Read(p []byte) (int, error) {
	if a.cur == nil {
		return 0, io.EOF
	}
	return a.cur.Read(p)
}

// arMember limits reads to one member and keeps the reader's counters.
type arMember struct {
	a    *arReader
	left int64
}

func (m *arMember) Read(p []byte) (int, error) {
	if m.left <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > m.left {
		p = p[:m.left]
	}
	n, err := m.a.r.Read(p)
	m.left -= int64(n)
	m.a.remain -= int64(n)
	m.a.off += int64(n)
	if err == io.EOF && m.left > 0 {
		err = fmt.Errorf("%w: ar: member truncated at offset %d", ErrFormat, m.a.off)
	}
	return n, err
}

// parseARHeader parses a 60-byte member header.
func parseARHeader(b []byte) (arHeader, error) {
	if !bytes.Equal(b[58:60], []byte("`\n")) {
		return arHeader{}, fmt.Errorf("bad terminator %q", b[58:60])
	}
	name := strings.TrimRight(string(b[0:16]), " ")
	if strings.HasPrefix(name, "#1/") || name == "/" || name == "//" {
		return arHeader{}, fmt.Errorf("unsupported member name %q (BSD long name or symbol table)", name)
	}
	name = strings.TrimSuffix(name, "/")
	if name == "" {
		return arHeader{}, fmt.Errorf("empty member name")
	}
	for _, c := range []byte(name) {
		if c < 0x21 || c > 0x7e || c == '/' {
			return arHeader{}, fmt.Errorf("member name %q has a bad character", name)
		}
	}
	sizeText := strings.TrimRight(string(b[48:58]), " ")
	size, err := strconv.ParseInt(sizeText, 10, 64)
	if err != nil || size < 0 || size > arMaxMember {
		return arHeader{}, fmt.Errorf("member %q: bad size %q", name, sizeText)
	}
	return arHeader{Name: name, Size: size}, nil
}

// noEOF turns an early EOF into io.ErrUnexpectedEOF.
func noEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}
