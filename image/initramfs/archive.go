package initramfs

import (
	"bufio"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/u-root/u-root/pkg/cpio"
)

// ErrExists is returned when a path is added twice, or added under a path
// that is not a directory.
var ErrExists = errors.New("already in the archive")

// Archive is an initramfs being built: a tree of directories, regular
// files and symlinks, all owned by root. Parent directories are implied
// (mode 0755) unless added explicitly. The zero value is not usable; call
// [New].
type Archive struct {
	mtime   time.Time
	entries map[string]*entry
}

type entry struct {
	mode   uint32 // cpio mode: type and permission bits
	data   []byte // file contents or symlink target
	direct bool   // a directory added explicitly, not only implied
}

// modePerm is the part of a cpio mode below the type: permission,
// setuid, setgid and sticky bits. The type bits are cpio.S_IF*.
const modePerm = 0o7777

// New returns an empty archive whose every entry has mtime, usually
// SOURCE_DATE_EPOCH. newc stores seconds since 1970 in 32 bits, so mtime
// must fall in 1970..2106.
func New(mtime time.Time) (*Archive, error) {
	if s := mtime.Unix(); s < 0 || s > math.MaxUint32 {
		return nil, fmt.Errorf("initramfs: mtime %s does not fit newc's 32-bit seconds since 1970", mtime.UTC().Format(time.RFC3339))
	}
	return &Archive{mtime: mtime, entries: map[string]*entry{}}, nil
}

// cleanPath turns "/lib/modules/x.ko" or "lib/modules/x.ko" into the
// archive's form, "lib/modules/x.ko", refusing anything that could
// escape the root or is not a plain path.
func cleanPath(p string) (string, error) {
	rel := strings.TrimPrefix(p, "/")
	if rel == "" || !fs.ValidPath(rel) || rel == "." || strings.Contains(rel, "\x00") {
		return "", fmt.Errorf("initramfs: path %q: must name a file below / with no '.', '..' or empty elements", p)
	}
	if len(rel) > 4095 {
		return "", fmt.Errorf("initramfs: path %q: longer than PATH_MAX", p[:64]+"...")
	}
	return rel, nil
}

func permBits(p string, mode fs.FileMode) (uint32, error) {
	if mode.Type() != 0 && !mode.IsDir() {
		return 0, fmt.Errorf("initramfs: %s: mode %s: only permission, setuid, setgid and sticky bits are allowed", p, mode)
	}
	bits := uint32(mode.Perm())
	if mode&fs.ModeSetuid != 0 {
		bits |= 0o4000
	}
	if mode&fs.ModeSetgid != 0 {
		bits |= 0o2000
	}
	if mode&fs.ModeSticky != 0 {
		bits |= 0o1000
	}
	return bits, nil
}

// add records e at p after making its parents, failing if p is taken.
func (a *Archive) add(p string, e *entry) error {
	if err := a.parents(p); err != nil {
		return err
	}
	if old, ok := a.entries[p]; ok {
		if old.mode&cpio.S_IFMT == cpio.S_IFDIR && e.mode&cpio.S_IFMT == cpio.S_IFDIR && !old.direct {
			// An implied directory, now given its mode.
			a.entries[p] = e
			return nil
		}
		return fmt.Errorf("initramfs: add /%s: %w", p, ErrExists)
	}
	a.entries[p] = e
	return nil
}

// parents implies every missing ancestor of p as a 0755 directory.
func (a *Archive) parents(p string) error {
	dir := path.Dir(p)
	if dir == "." {
		return nil
	}
	if e, ok := a.entries[dir]; ok {
		if e.mode&cpio.S_IFMT != cpio.S_IFDIR {
			return fmt.Errorf("initramfs: add /%s: parent /%s is not a directory: %w", p, dir, ErrExists)
		}
		return nil
	}
	if err := a.parents(dir); err != nil {
		return err
	}
	a.entries[dir] = &entry{mode: cpio.S_IFDIR | 0o755}
	return nil
}

// AddFile adds a regular file. Only permission bits (with setuid, setgid
// and sticky) may be set in mode. The archive keeps data; the caller must
// not change it afterwards.
func (a *Archive) AddFile(p string, mode fs.FileMode, data []byte) error {
	rel, err := cleanPath(p)
	if err != nil {
		return err
	}
	if mode.IsDir() {
		return fmt.Errorf("initramfs: add /%s: file mode %s is a directory", rel, mode)
	}
	bits, err := permBits(rel, mode)
	if err != nil {
		return err
	}
	if int64(len(data)) > math.MaxUint32 {
		return fmt.Errorf("initramfs: add /%s: %d bytes is over newc's 4 GiB file limit", rel, len(data))
	}
	return a.add(rel, &entry{mode: cpio.S_IFREG | bits, data: data})
}

// AddDir adds a directory with mode's permission bits. Adding one that is
// so far only implied by its children sets its mode.
func (a *Archive) AddDir(p string, mode fs.FileMode) error {
	rel, err := cleanPath(p)
	if err != nil {
		return err
	}
	bits, err := permBits(rel, mode)
	if err != nil {
		return err
	}
	return a.add(rel, &entry{mode: cpio.S_IFDIR | bits, direct: true})
}

// AddSymlink adds a symlink at p pointing to target, which is stored as
// given: absolute targets resolve inside the initramfs at boot.
func (a *Archive) AddSymlink(p, target string) error {
	rel, err := cleanPath(p)
	if err != nil {
		return err
	}
	if target == "" || strings.Contains(target, "\x00") || len(target) > 4095 {
		return fmt.Errorf("initramfs: add /%s: symlink target %q: must be 1..4095 bytes with no NUL", rel, target)
	}
	return a.add(rel, &entry{mode: cpio.S_IFLNK | 0o777, data: []byte(target)})
}

// Paths returns the archive's paths, without the leading "/", in the order
// WriteTo writes them.
func (a *Archive) Paths() []string {
	paths := make([]string, 0, len(a.entries))
	for p := range a.entries {
		paths = append(paths, p)
	}
	// Byte order puts every directory before what it holds, which is
	// what cpio -i and the kernel's unpacker need.
	slices.Sort(paths)
	return paths
}

// WriteTo writes the archive as an uncompressed newc cpio with u-root's
// writer: entries sorted by path, inode numbers 1, 2, ... in that order,
// uid and gid 0, every mtime the archive's, then the TRAILER!!! entry.
func (a *Archive) WriteTo(w io.Writer) (int64, error) {
	cw := &countWriter{w: w}
	bw := bufio.NewWriterSize(cw, 1<<16)
	rw := cpio.Newc.Writer(bw)
	for i, p := range a.Paths() {
		if err := rw.WriteRecord(a.record(p, uint64(i+1))); err != nil {
			return cw.n, fmt.Errorf("initramfs: write cpio: /%s: %w", p, err)
		}
	}
	if err := cpio.WriteTrailer(rw); err != nil {
		return cw.n, fmt.Errorf("initramfs: write cpio: trailer: %w", err)
	}
	if err := bw.Flush(); err != nil {
		return cw.n, fmt.Errorf("initramfs: write cpio: %w", err)
	}
	return cw.n, nil
}

// record is p's cpio record. MakeReproducible clears what could come
// from a host (owners, device numbers, time); the inode number and the
// one mtime are then set from the archive alone.
func (a *Archive) record(p string, ino uint64) cpio.Record {
	e := a.entries[p]
	var r cpio.Record
	switch e.mode & cpio.S_IFMT {
	case cpio.S_IFDIR:
		r = cpio.Directory(p, uint64(e.mode&modePerm))
		r.NLink = 2
	case cpio.S_IFLNK:
		r = cpio.Symlink(p, string(e.data))
		r.NLink = 1
	default:
		// StaticRecord, not StaticFile: the same record without
		// copying a module's bytes into a string first.
		r = cpio.StaticRecord(e.data, cpio.Info{Name: p, Mode: uint64(e.mode)})
		r.NLink = 1
	}
	r = cpio.MakeReproducible(r)
	r.Ino = ino
	r.MTime = uint64(a.mtime.Unix())
	return r
}

// WriteGzip writes the archive gzip-compressed at the best level, with a
// header that carries no file name, the archive's mtime and a fixed OS
// byte (Unix), so that it depends on nothing but the archive.
func (a *Archive) WriteGzip(w io.Writer) error {
	zw, err := gzip.NewWriterLevel(w, gzip.BestCompression)
	if err != nil {
		return fmt.Errorf("initramfs: gzip: %w", err)
	}
	zw.Header = gzip.Header{ModTime: a.mtime, OS: gzipOSUnix}
	if _, err := a.WriteTo(zw); err != nil {
		return err
	}
	if err := zw.Close(); err != nil {
		return fmt.Errorf("initramfs: gzip: %w", err)
	}
	return nil
}

// gzipOSUnix is the header's OS byte for Unix (RFC 1952), what gzip(1)
// writes on Linux.
const gzipOSUnix = 3

// countWriter counts the bytes that reach the caller's writer, for
// WriteTo's result.
type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}
