package fat

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"time"
)

// ErrExists is returned when a path is added twice (FAT names compare
// without case), or under a path that is a file.
var ErrExists = errors.New("already in the filesystem")

// Options describe a volume.
type Options struct {
	// Label is the volume label: up to 11 bytes of A-Z, 0-9, space and
	// $%'-_@~`!(){}^#&. Empty means none ("NO NAME").
	Label string
	// Time is every timestamp on the volume, usually SOURCE_DATE_EPOCH,
	// taken as UTC and clamped to FAT's 1980..2107.
	Time time.Time
	// Serial is the volume serial number. Zero derives one from the
	// label, the size, the time and every path and byte on the volume.
	Serial uint32
}

// Builder collects directories and files for a FAT32 volume and writes
// it. The zero value is not usable; call [New].
type Builder struct {
	opts Options
	root *node
}

// node is a file or directory in the tree being built.
type node struct {
	name     string
	dir      bool
	data     []byte
	children []*node // directories only, kept sorted by name

	// Set while writing.
	short   [11]byte
	lfn     bool
	cluster uint32 // first cluster; 0 for an empty file
	count   uint32 // clusters
	entries []byte // encoded directory content (directories only)
}

// New returns an empty volume description.
func New(opts Options) (*Builder, error) {
	if err := checkLabel(opts.Label); err != nil {
		return nil, fmt.Errorf("fat: %w", err)
	}
	return &Builder{opts: opts, root: &node{dir: true}}, nil
}

// split checks path and returns its elements; "/a/b" and "a/b" are the
// same path.
func split(path string) ([]string, error) {
	elems := strings.Split(strings.Trim(path, "/"), "/")
	if strings.Trim(path, "/") == "" {
		return nil, fmt.Errorf("path %q names the root", path)
	}
	for _, e := range elems {
		if err := checkName(e); err != nil {
			return nil, fmt.Errorf("path %q: %w", path, err)
		}
	}
	return elems, nil
}

// lookup finds name among dir's children, without case.
func (n *node) lookup(name string) *node {
	for _, c := range n.children {
		if strings.EqualFold(c.name, name) {
			return c
		}
	}
	return nil
}

func (n *node) insert(c *node) {
	i, _ := slices.BinarySearchFunc(n.children, c.name, func(a *node, name string) int { return strings.Compare(a.name, name) })
	n.children = slices.Insert(n.children, i, c)
}

// mkdirAll makes the directories elems names, returning the last.
func (b *Builder) mkdirAll(path string, elems []string) (*node, error) {
	dir := b.root
	for i, e := range elems {
		c := dir.lookup(e)
		switch {
		case c == nil:
			c = &node{name: e, dir: true}
			dir.insert(c)
		case !c.dir:
			return nil, fmt.Errorf("fat: %s: /%s is a file: %w", path, strings.Join(elems[:i+1], "/"), ErrExists)
		}
		dir = c
	}
	return dir, nil
}

// Mkdir makes a directory and any missing parents. Making one that exists
// is not an error.
func (b *Builder) Mkdir(path string) error {
	elems, err := split(path)
	if err != nil {
		return fmt.Errorf("fat: mkdir: %w", err)
	}
	_, err = b.mkdirAll(path, elems)
	return err
}

// AddFile adds a file with its parents. The builder keeps data; the caller
// must not change it before Write.
func (b *Builder) AddFile(path string, data []byte) error {
	elems, err := split(path)
	if err != nil {
		return fmt.Errorf("fat: add file: %w", err)
	}
	if int64(len(data)) > math.MaxUint32 {
		return fmt.Errorf("fat: add file %s: %d bytes is over FAT's 4 GiB file limit", path, len(data))
	}
	dir, err := b.mkdirAll(path, elems[:len(elems)-1])
	if err != nil {
		return err
	}
	name := elems[len(elems)-1]
	if c := dir.lookup(name); c != nil {
		return fmt.Errorf("fat: add file %s: %q: %w", path, c.name, ErrExists)
	}
	dir.insert(&node{name: name, data: data})
	return nil
}

// Write writes the volume into the size bytes of w starting at off:
// typically a partition of a disk image (see image/disk's Content), so
// off, a multiple of 512, is also recorded as the volume's hidden
// sectors, the partition's start. Everything the volume's metadata
// covers is written, free clusters are not: on a new sparse image file
// they read as zeros.
func (b *Builder) Write(w io.WriterAt, off, size int64) error {
	if off < 0 || size < 0 {
		return fmt.Errorf("fat: write at %d, %d bytes: negative", off, size)
	}
	g, err := newGeometry(size)
	if err != nil {
		return err
	}
	hidden := uint32(0)
	if off%sectorSize == 0 && off/sectorSize <= math.MaxUint32 {
		hidden = uint32(off / sectorSize)
	}
	return b.write(w, off, size, g, hidden)
}

// write writes the volume with geometry g.
func (b *Builder) write(w io.WriterAt, off, size int64, g geometry, hidden uint32) error {
	// Lay out: name every entry, size every directory, then hand out
	// clusters in a fixed order, each file and directory contiguous.
	nodes, err := b.layout(g)
	if err != nil {
		return err
	}
	serial := b.opts.Serial
	if serial == 0 {
		serial = b.serial(size)
	}
	vw := &volumeWriter{w: w, off: off}
	free := g.clusters - (nodes.next - 2)
	next := nodes.next
	if free == 0 {
		next = 0xFFFFFFFF // no hint
	}
	reserved := make([]byte, int64(g.reserved)*sectorSize)
	boot := g.bootSector(b.opts.Label, serial, hidden)
	info := fsInfo(free, next)
	for _, s := range []int64{0, backupSector} {
		copy(reserved[s*sectorSize:], boot)
		copy(reserved[(s+fsInfoSector)*sectorSize:], info)
	}
	vw.write("reserved sectors", reserved, 0)
	b.writeFATs(vw, g, nodes)
	for _, n := range nodes.list {
		content := n.data
		if n.dir {
			content = n.entries
		}
		if n.count == 0 {
			continue
		}
		// The file, then zeros to the end of its last cluster, so the
		// slack is the same whatever the device held before.
		at := g.clusterOffset(n.cluster)
		vw.write(n.name, content, at)
		if pad := int64(n.count)*g.clusterSize() - int64(len(content)); pad > 0 {
			vw.write(n.name, make([]byte, pad), at+int64(len(content)))
		}
	}
	if vw.err != nil {
		return fmt.Errorf("fat: write %q at %d: %w", b.opts.Label, off, vw.err)
	}
	return nil
}

// allocation is the layout's result: every node with clusters, in
// cluster order, and the first free cluster.
type allocation struct {
	list []*node
	next uint32
}

func (b *Builder) layout(g geometry) (allocation, error) {
	a := allocation{next: rootCluster}
	var walk func(dir, parent *node, path string) error
	walk = func(dir, parent *node, path string) error {
		if err := b.nameChildren(dir); err != nil {
			return fmt.Errorf("fat: %s: %w", path, err)
		}
		slots := len(dir.children)
		for _, c := range dir.children {
			if c.lfn {
				slots += lfnCount(c.name)
			}
		}
		if dir == b.root {
			if b.opts.Label != "" {
				slots++
			}
		} else {
			slots += 2 // "." and ".."
		}
		if slots > 65536 {
			return fmt.Errorf("fat: directory %s: %d entries, over FAT's 65536", path, slots)
		}
		dir.count = uint32(max(1, (int64(slots)*dirEntrySize+g.clusterSize()-1)/g.clusterSize()))
		if err := a.take(g, dir); err != nil {
			return fmt.Errorf("fat: directory %s: %w", path, err)
		}
		for _, c := range dir.children {
			if c.dir {
				continue
			}
			c.count = uint32((int64(len(c.data)) + g.clusterSize() - 1) / g.clusterSize())
			if err := a.take(g, c); err != nil {
				return fmt.Errorf("fat: file %s/%s (%d bytes): %w", path, c.name, len(c.data), err)
			}
		}
		for _, c := range dir.children {
			if c.dir {
				if err := walk(c, dir, path+"/"+c.name); err != nil {
					return err
				}
			}
		}
		dir.entries = b.encodeDir(dir, parent)
		return nil
	}
	if err := walk(b.root, nil, ""); err != nil {
		return allocation{}, err
	}
	return a, nil
}

// take gives n its clusters, the next free ones.
func (a *allocation) take(g geometry, n *node) error {
	if n.count == 0 {
		n.cluster = 0
		return nil
	}
	if uint64(a.next-2)+uint64(n.count) > uint64(g.clusters) {
		return fmt.Errorf("needs %d more clusters of %d bytes, only %d of %d are left: %w",
			n.count, g.clusterSize(), g.clusters-(a.next-2), g.clusters, ErrTooSmall)
	}
	n.cluster = a.next
	a.next += n.count
	a.list = append(a.list, n)
	return nil
}

// nameChildren gives dir's children their short names, in sorted order.
func (b *Builder) nameChildren(dir *node) error {
	namer := newShortNamer()
	for _, c := range dir.children {
		short, lfn, err := namer.name(c.name)
		if err != nil {
			return err
		}
		c.short, c.lfn = short, lfn
	}
	return nil
}

// encodeDir encodes dir's entries once every child has its cluster.
func (b *Builder) encodeDir(dir, parent *node) []byte {
	t := b.opts.Time
	var out []byte
	if parent == nil {
		if b.opts.Label != "" {
			var label [11]byte
			copy(label[:], padLabel(b.opts.Label))
			e := shortEntry(label, attrVolumeID, 0, 0, t)
			out = append(out, e[:]...)
		}
	} else {
		dot := shortEntry(shortEntryName(".", ""), attrDir, dir.cluster, 0, t)
		// ".." of a directory in the root points at cluster 0, not at the
		// root's cluster: the specification says so and fsck.fat checks.
		up := uint32(0)
		if parent != b.root {
			up = parent.cluster
		}
		dotdot := shortEntry(shortEntryName("..", ""), attrDir, up, 0, t)
		out = append(append(out, dot[:]...), dotdot[:]...)
	}
	for _, c := range dir.children {
		if c.lfn {
			for _, e := range lfnEntries(c.name, c.short) {
				out = append(out, e[:]...)
			}
		}
		attr, size := byte(attrArchive), uint32(len(c.data))
		if c.dir {
			attr, size = attrDir, 0
		}
		e := shortEntry(c.short, attr, c.cluster, size, t)
		out = append(out, e[:]...)
	}
	return out
}

// writeFATs writes both FATs: entries 0 and 1 (media byte, clean
// shutdown), each allocation a contiguous chain, the rest free.
func (b *Builder) writeFATs(vw *volumeWriter, g geometry, a allocation) {
	used := make([]uint32, a.next)
	used[0] = 0x0FFFFF00 | mediaFixed
	used[1] = entryEOC
	for _, n := range a.list {
		for c := n.cluster; c < n.cluster+n.count-1; c++ {
			used[c] = c + 1
		}
		used[n.cluster+n.count-1] = entryEOC
	}
	const chunk = 1 << 16
	buf := make([]byte, chunk)
	fatBytes := int64(g.fatSectors) * sectorSize
	for f := range g.fats {
		for pos := int64(0); pos < fatBytes; pos += chunk {
			clear(buf)
			for i := int64(0); i < chunk/4; i++ {
				if e := pos/4 + i; e < int64(len(used)) {
					binary.LittleEndian.PutUint32(buf[i*4:], used[e])
				}
			}
			vw.write("FAT", buf[:min(chunk, fatBytes-pos)], g.fatOffset(f)+pos)
		}
	}
}

// serial derives the volume serial from everything on the volume, so
// that two volumes an image holds (slots A and B) differ, and rebuilding
// one gives the same.
func (b *Builder) serial(size int64) uint32 {
	h := sha256.New()
	fmt.Fprintf(h, "goleudy fat32\x00%s\x00%d\x00%d\x00", b.opts.Label, size, b.opts.Time.Unix())
	var walk func(n *node, path string)
	walk = func(n *node, path string) {
		for _, c := range n.children {
			p := path + "/" + c.name
			if c.dir {
				fmt.Fprintf(h, "d %s\x00", p)
				walk(c, p)
				continue
			}
			fmt.Fprintf(h, "f %s %d\x00", p, len(c.data))
			h.Write(c.data)
		}
	}
	walk(b.root, "")
	s := binary.LittleEndian.Uint32(h.Sum(nil))
	if s == 0 {
		s = 1
	}
	return s
}

// volumeWriter writes at offsets within a volume, keeping the first error.
type volumeWriter struct {
	w   io.WriterAt
	off int64
	err error
}

func (v *volumeWriter) write(what string, b []byte, at int64) {
	if v.err != nil {
		return
	}
	if _, err := v.w.WriteAt(b, v.off+at); err != nil {
		v.err = fmt.Errorf("%s (%d bytes at %d): %w", what, len(b), at, err)
	}
}
