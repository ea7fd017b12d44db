package fat

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf16"
)

// ErrCorrupt is wrapped by errors about a volume's structure: a broken
// cluster chain, a directory that runs on forever, a file larger than
// its clusters.
var ErrCorrupt = errors.New("corrupt FAT volume")

// Volume is a FAT32 volume opened for reading, and for in-place rewrites
// if what it was opened on is also an io.WriterAt. It is an fs.FS whose
// names, as on FAT, match without case. A Volume reads through to the
// device on every call and is safe for concurrent reads.
type Volume struct {
	r      io.ReaderAt
	off    int64
	g      geometry
	label  string
	serial uint32

	mu      sync.Mutex // guards the FAT sector cache
	cache   [sectorSize]byte
	cacheAt int64
	cached  bool
}

// Open reads the FAT32 volume in the size bytes of r starting at off.
func Open(r io.ReaderAt, off, size int64) (*Volume, error) {
	b := make([]byte, sectorSize)
	if _, err := r.ReadAt(b, off); err != nil {
		return nil, fmt.Errorf("fat: open at %d: read boot sector: %w", off, err)
	}
	g, err := parseBootSector(b, size)
	if err != nil {
		return nil, fmt.Errorf("fat: open at %d: %w: %w", off, ErrCorrupt, err)
	}
	v := &Volume{r: r, off: off, g: g, serial: binary.LittleEndian.Uint32(b[bsVolID:])}
	if b[bsBootSig] == 0x29 {
		v.label = strings.TrimRight(string(b[bsVolLab:bsVolLab+11]), " ")
	}
	if v.label == "NO NAME" {
		v.label = ""
	}
	return v, nil
}

// Label is the volume label from the boot sector ("" for none).
func (v *Volume) Label() string { return v.label }

// Serial is the volume serial number.
func (v *Volume) Serial() uint32 { return v.serial }

// ClusterSize is the size of the volume's clusters in bytes.
func (v *Volume) ClusterSize() int64 { return v.g.clusterSize() }

// Clusters is the number of data clusters.
func (v *Volume) Clusters() uint32 { return v.g.clusters }

// next reads cluster c's FAT entry from the first FAT, a sector at a
// time: following a chain reads each FAT sector once, not once for
// each of the 128 entries it holds.
func (v *Volume) next(c uint32) (uint32, error) {
	pos := v.g.fatOffset(0) + int64(c)*4
	sector := pos / sectorSize * sectorSize
	v.mu.Lock()
	defer v.mu.Unlock()
	if !v.cached || v.cacheAt != sector {
		v.cached = false
		if _, err := v.r.ReadAt(v.cache[:], v.off+sector); err != nil {
			return 0, fmt.Errorf("read FAT entry %d: %w", c, err)
		}
		v.cached, v.cacheAt = true, sector
	}
	return binary.LittleEndian.Uint32(v.cache[pos-sector:]) & entryMask, nil
}

// chain follows the clusters from start, at most limit of them.
func (v *Volume) chain(start uint32, limit uint32) ([]uint32, error) {
	var chain []uint32
	for c := start; ; {
		if !v.g.valid(c) {
			return nil, fmt.Errorf("cluster chain from %d: cluster %d is outside 2..%d: %w", start, c, v.g.clusters+1, ErrCorrupt)
		}
		if uint32(len(chain)) >= limit {
			return nil, fmt.Errorf("cluster chain from %d: longer than %d clusters (a loop?): %w", start, limit, ErrCorrupt)
		}
		chain = append(chain, c)
		n, err := v.next(c)
		if err != nil {
			return nil, err
		}
		if n >= 0x0FFFFFF8 {
			return chain, nil
		}
		c = n
	}
}

// dirent is a directory entry as read.
type dirent struct {
	name    string // the long name, or the short name if there is none
	short   string
	attr    byte
	cluster uint32
	size    uint32
	mtime   time.Time
	pos     int64 // where the short entry is, from the volume's start
}

func (d *dirent) isDir() bool { return d.attr&attrDir != 0 }

// maxDirBytes is FAT's limit on a directory: 65536 entries.
const maxDirBytes = 65536 * dirEntrySize

// readDir reads the directory at cluster.
func (v *Volume) readDir(cluster uint32) ([]dirent, error) {
	limit := uint32(maxDirBytes / v.g.clusterSize())
	chain, err := v.chain(cluster, max(limit, 1))
	if err != nil {
		return nil, fmt.Errorf("directory at cluster %d: %w", cluster, err)
	}
	cs := v.g.clusterSize()
	buf := make([]byte, cs)
	var (
		out []dirent
		lfn lfnState
	)
	for _, c := range chain {
		if _, err := v.r.ReadAt(buf, v.off+v.g.clusterOffset(c)); err != nil {
			return nil, fmt.Errorf("directory at cluster %d: read cluster %d: %w", cluster, c, err)
		}
		for i := int64(0); i < cs; i += dirEntrySize {
			e := buf[i : i+dirEntrySize]
			switch {
			case e[0] == 0:
				return out, nil
			case e[0] == entryFree:
				lfn.reset()
				continue
			case e[dirAttr]&0x3F == attrLFN:
				lfn.add(e)
				continue
			}
			d, ok := v.parseEntry(e, &lfn)
			lfn.reset()
			if ok {
				d.pos = v.g.clusterOffset(c) + i
				out = append(out, d)
			}
		}
	}
	return out, nil
}

// parseEntry turns a short entry (and the LFN entries before it) into a
// dirent; ok is false for the volume label, "." and "..", and names that
// cannot be an fs.FS path element.
func (v *Volume) parseEntry(e []byte, lfn *lfnState) (dirent, bool) {
	var short [11]byte
	copy(short[:], e[:11])
	if short[0] == entryE5 {
		short[0] = 0xE5
	}
	if e[dirAttr]&attrVolumeID != 0 {
		return dirent{}, false
	}
	d := dirent{
		short: displayShort(short), attr: e[dirAttr], cluster: entryCluster(e),
		size:  binary.LittleEndian.Uint32(e[dirSize:]),
		mtime: fromDOSTime(binary.LittleEndian.Uint16(e[dirWrtDate:]), binary.LittleEndian.Uint16(e[dirWrtTime:])),
	}
	d.name = d.short
	if name, ok := lfn.name(lfnChecksum(short)); ok {
		d.name = name
	} else {
		d.name = caseShort(short, e[dirNTRes])
	}
	if d.name == "." || d.name == ".." || d.name == "" || strings.ContainsAny(d.name, "/\x00") {
		return dirent{}, false
	}
	return d, true
}

// caseShort shows a short name in the case Windows NT's flags ask for.
func caseShort(short [11]byte, nt byte) string {
	n := short
	for i := range n {
		if (i < 8 && nt&ntLowerBase != 0 || i >= 8 && nt&ntLowerExt != 0) && n[i] >= 'A' && n[i] <= 'Z' {
			n[i] += 'a' - 'A'
		}
	}
	return displayShort(n)
}

// lfnState collects LFN entries, which come last part first.
type lfnState struct {
	parts [20][13]uint16 // at most 20 entries: 255 units
	n     int            // entries expected; 0: none in progress
	seen  int
	sum   byte
}

func (l *lfnState) reset() { l.n, l.seen = 0, 0 }

func (l *lfnState) add(e []byte) {
	seq := int(e[0] & 0x1F)
	switch {
	case e[0]&lfnLast != 0 && seq >= 1 && seq <= len(l.parts):
		l.n, l.seen, l.sum = seq, 0, e[13]
	case l.n == 0 || seq != l.n-l.seen || e[13] != l.sum:
		l.reset()
		return
	}
	for i, off := range lfnUnitOffset {
		l.parts[seq-1][i] = binary.LittleEndian.Uint16(e[off:])
	}
	l.seen++
}

// name is the long name collected, if it is whole and belongs to the
// short entry whose checksum is sum.
func (l *lfnState) name(sum byte) (string, bool) {
	if l.n == 0 || l.seen != l.n || sum != l.sum {
		return "", false
	}
	var units []uint16
	for _, p := range l.parts[:l.n] {
		for _, u := range p {
			if u == 0 {
				return string(utf16.Decode(units)), true
			}
			units = append(units, u)
		}
	}
	return string(utf16.Decode(units)), true
}

// lookup finds the entry for name, a valid fs.FS path; "." is the root,
// returned as a directory entry with no name.
func (v *Volume) lookup(op, name string) (dirent, error) {
	if !fs.ValidPath(name) {
		return dirent{}, &fs.PathError{Op: op, Path: name, Err: fs.ErrInvalid}
	}
	cur := dirent{attr: attrDir, cluster: v.g.root}
	if name == "." {
		return cur, nil
	}
	for _, elem := range strings.Split(name, "/") {
		if !cur.isDir() {
			return dirent{}, &fs.PathError{Op: op, Path: name, Err: fmt.Errorf("%s is not a directory: %w", cur.name, fs.ErrNotExist)}
		}
		entries, err := v.readDir(cur.cluster)
		if err != nil {
			return dirent{}, &fs.PathError{Op: op, Path: name, Err: err}
		}
		found := false
		for _, e := range entries {
			if strings.EqualFold(e.name, elem) || strings.EqualFold(e.short, elem) {
				cur, found = e, true
				break
			}
		}
		if !found {
			return dirent{}, &fs.PathError{Op: op, Path: name, Err: fs.ErrNotExist}
		}
	}
	if cur.isDir() && !v.g.valid(cur.cluster) {
		return dirent{}, &fs.PathError{Op: op, Path: name, Err: fmt.Errorf("directory at cluster %d: %w", cur.cluster, ErrCorrupt)}
	}
	return cur, nil
}

// fileChain is the clusters holding d's bytes, checked to hold its size.
func (v *Volume) fileChain(d dirent) ([]uint32, error) {
	need := uint32((int64(d.size) + v.g.clusterSize() - 1) / v.g.clusterSize())
	if need == 0 {
		return nil, nil
	}
	if need > v.g.clusters {
		return nil, fmt.Errorf("%d bytes need %d clusters, the volume has %d: %w", d.size, need, v.g.clusters, ErrCorrupt)
	}
	chain, err := v.chain(d.cluster, v.g.clusters)
	if err != nil {
		return nil, err
	}
	if uint32(len(chain)) < need {
		return nil, fmt.Errorf("%d bytes need %d clusters, the chain has %d: %w", d.size, need, len(chain), ErrCorrupt)
	}
	return chain[:need], nil
}

// Open opens a file or directory, for fs.FS.
func (v *Volume) Open(name string) (fs.File, error) {
	d, err := v.lookup("open", name)
	if err != nil {
		return nil, err
	}
	if d.isDir() {
		entries, err := v.readDir(d.cluster)
		if err != nil {
			return nil, &fs.PathError{Op: "open", Path: name, Err: err}
		}
		return &dirFile{info: v.info(d, name), entries: entries, v: v}, nil
	}
	chain, err := v.fileChain(d)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: name, Err: err}
	}
	return &file{v: v, info: v.info(d, name), chain: chain, size: int64(d.size)}, nil
}

// ReadFile reads a whole file, for fs.ReadFileFS.
func (v *Volume) ReadFile(name string) ([]byte, error) {
	f, err := v.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r, ok := f.(*file)
	if !ok {
		return nil, &fs.PathError{Op: "read", Path: name, Err: errors.New("is a directory")}
	}
	b := make([]byte, r.size)
	if _, err := r.ReadAt(b, 0); err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	return b, nil
}

// ReadDir lists a directory sorted by name, for fs.ReadDirFS.
func (v *Volume) ReadDir(name string) ([]fs.DirEntry, error) {
	f, err := v.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	d, ok := f.(*dirFile)
	if !ok {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: errors.New("not a directory")}
	}
	list, err := d.ReadDir(-1)
	sortEntries(list)
	return list, err
}

// Stat describes a file or directory, for fs.StatFS.
func (v *Volume) Stat(name string) (fs.FileInfo, error) {
	d, err := v.lookup("stat", name)
	if err != nil {
		return nil, err
	}
	return v.info(d, name), nil
}

// ShortName is the 8.3 name a file is stored under, as "NAME.EXT".
func (v *Volume) ShortName(name string) (string, error) {
	d, err := v.lookup("stat", name)
	if err != nil {
		return "", err
	}
	return d.short, nil
}

// Rewrite replaces the contents of the file name with data of the same
// length, in the clusters it already has, changing no metadata: no
// timestamps, no FAT, no directory. This is how a boot counter in
// GRUB's environment block is updated, and what GRUB itself does. The
// volume must have been opened on an io.WriterAt.
func (v *Volume) Rewrite(name string, data []byte) error {
	w, ok := v.r.(io.WriterAt)
	if !ok {
		return fmt.Errorf("fat: rewrite %s: the volume was opened on a reader that cannot write", name)
	}
	d, err := v.lookup("rewrite", name)
	if err != nil {
		return fmt.Errorf("fat: %w", err)
	}
	if d.isDir() {
		return fmt.Errorf("fat: rewrite %s: is a directory", name)
	}
	if int64(len(data)) != int64(d.size) {
		return fmt.Errorf("fat: rewrite %s: %d bytes given, the file has %d: only a same-size rewrite is possible in place",
			name, len(data), d.size)
	}
	chain, err := v.fileChain(d)
	if err != nil {
		return fmt.Errorf("fat: rewrite %s: %w", name, err)
	}
	cs := v.g.clusterSize()
	for i, c := range chain {
		part := data[int64(i)*cs : min(int64(len(data)), int64(i+1)*cs)]
		if _, err := w.WriteAt(part, v.off+v.g.clusterOffset(c)); err != nil {
			return fmt.Errorf("fat: rewrite %s: cluster %d: %w", name, c, err)
		}
	}
	return nil
}

func (v *Volume) info(d dirent, name string) *fileInfo {
	base := path.Base(name)
	if d.name != "" {
		base = d.name
	}
	return &fileInfo{name: base, d: d}
}

// fileInfo is fs.FileInfo and fs.DirEntry for a dirent.
type fileInfo struct {
	name string
	d    dirent
}

func (i *fileInfo) Name() string { return i.name }
func (i *fileInfo) Size() int64 {
	if i.d.isDir() {
		return 0
	}
	return int64(i.d.size)
}

// Mode is read-only: a Volume is read and rewritten in place, never
// changed through fs.FS.
func (i *fileInfo) Mode() fs.FileMode {
	if i.d.isDir() {
		return fs.ModeDir | 0o555
	}
	return 0o444
}
func (i *fileInfo) ModTime() time.Time         { return i.d.mtime }
func (i *fileInfo) IsDir() bool                { return i.d.isDir() }
func (i *fileInfo) Sys() any                   { return nil }
func (i *fileInfo) Type() fs.FileMode          { return i.Mode().Type() }
func (i *fileInfo) Info() (fs.FileInfo, error) { return i, nil }
func (i *fileInfo) String() string             { return fs.FormatFileInfo(i) }

// file is an open regular file.
type file struct {
	v     *Volume
	info  *fileInfo
	chain []uint32
	size  int64
	pos   int64
}

func (f *file) Stat() (fs.FileInfo, error) { return f.info, nil }
func (f *file) Close() error               { return nil }

func (f *file) Read(p []byte) (int, error) {
	n, err := f.ReadAt(p, f.pos)
	f.pos += int64(n)
	if err == io.EOF && n > 0 {
		err = nil
	}
	return n, err
}

// ReadAt reads from the file's clusters, each run of consecutive
// clusters (all of a file this package wrote) in one read.
func (f *file) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, &fs.PathError{Op: "read", Path: f.info.name, Err: fs.ErrInvalid}
	}
	cs := f.v.g.clusterSize()
	n := 0
	for n < len(p) && off < f.size {
		i := off / cs
		c := f.chain[i]
		run := int64(1)
		for i+run < int64(len(f.chain)) && f.chain[i+run] == c+uint32(run) && run*cs < int64(len(p)-n) {
			run++
		}
		within := off % cs
		m := min(int64(len(p)-n), run*cs-within, f.size-off)
		if _, err := f.v.r.ReadAt(p[n:n+int(m)], f.v.off+f.v.g.clusterOffset(c)+within); err != nil {
			return n, &fs.PathError{Op: "read", Path: f.info.name, Err: err}
		}
		n += int(m)
		off += m
	}
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// dirFile is an open directory.
type dirFile struct {
	v       *Volume
	info    *fileInfo
	entries []dirent
	pos     int
}

func (d *dirFile) Stat() (fs.FileInfo, error) { return d.info, nil }
func (d *dirFile) Close() error               { return nil }
func (d *dirFile) Read([]byte) (int, error) {
	return 0, &fs.PathError{Op: "read", Path: d.info.name, Err: errors.New("is a directory")}
}

// ReadDir returns entries in the order they are stored.
func (d *dirFile) ReadDir(n int) ([]fs.DirEntry, error) {
	rest := d.entries[d.pos:]
	if n > 0 && len(rest) == 0 {
		return nil, io.EOF
	}
	if n > 0 && n < len(rest) {
		rest = rest[:n]
	}
	d.pos += len(rest)
	out := make([]fs.DirEntry, len(rest))
	for i, e := range rest {
		out[i] = &fileInfo{name: e.name, d: e}
	}
	return out, nil
}

func sortEntries(list []fs.DirEntry) {
	slices.SortStableFunc(list, func(a, b fs.DirEntry) int { return strings.Compare(a.Name(), b.Name()) })
}
