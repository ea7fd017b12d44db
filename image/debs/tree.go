package debs

import (
	"archive/tar"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/goleudy/goleudy/boards"
)

// Decompressing a kernel package's data.tar.xz in Go takes seconds, and
// minutes under the race detector, and every build stage and test that
// reads modules would otherwise pay it again. So a package is unpacked
// once into the cache, beside a manifest of every file's size and sha256
// taken from the verified .deb as it was unpacked, and each read through a
// Tree is checked against that manifest.

// Entry is one file of an unpacked package.
type Entry struct {
	Name    string      `json:"name"`             // path in the package, as Extract names it
	Type    string      `json:"type"`             // "file", "dir", "symlink" or "link" (hard link)
	Mode    fs.FileMode `json:"mode"`             // permission bits
	Size    int64       `json:"size,omitempty"`   // regular files
	SHA256  string      `json:"sha256,omitempty"` // regular files
	Link    string      `json:"link,omitempty"`   // symlink target as written; hard link target path
	ModTime int64       `json:"mtime"`            // Unix seconds
}

// Entry types.
const (
	TypeFile    = "file"
	TypeDir     = "dir"
	TypeSymlink = "symlink"
	TypeLink    = "link"
)

// manifest is written beside the unpacked files.
type manifest struct {
	Package boards.Package `json:"package"`
	Entries []Entry        `json:"entries"`
}

// Tree is a package unpacked in the cache.
type Tree struct {
	Package boards.Package
	Dir     string // the package's files, as dpkg would install them under /
	entries map[string]Entry
}

// Unpacked returns the package unpacked in the cache, fetching and
// unpacking it first if need be (see Fetch). The .deb is checked against
// its pin on every call; files are checked when read through the Tree.
func (f *Fetcher) Unpacked(ctx context.Context, p boards.Package) (*Tree, error) {
	deb, err := f.Fetch(ctx, p)
	if err != nil {
		return nil, err
	}
	base := filepath.Join(f.Cache, "unpacked")
	dir := filepath.Join(base, p.Base())
	if t, err := openTree(dir, p); err == nil {
		return t, nil
	}
	if err := os.MkdirAll(base, 0o755); err != nil {
		return nil, fmt.Errorf("debs: unpack %s: %w", p, err)
	}
	unlock, err := lockFile(filepath.Join(base, "."+p.Base()+".lock"))
	if err != nil {
		return nil, fmt.Errorf("debs: unpack %s: %w", p, err)
	}
	defer unlock()
	// Another process may have unpacked it while this one waited.
	if t, err := openTree(dir, p); err == nil {
		return t, nil
	}
	start := time.Now()
	tmp, err := os.MkdirTemp(base, ".unpack-"+p.Base()+"-*")
	if err != nil {
		return nil, fmt.Errorf("debs: unpack %s: %w", p, err)
	}
	defer os.RemoveAll(tmp)
	entries, err := unpack(deb, filepath.Join(tmp, "root"))
	if err != nil {
		return nil, fmt.Errorf("debs: unpack %s: %w", p, err)
	}
	data, err := json.Marshal(manifest{Package: p, Entries: entries})
	if err != nil {
		return nil, fmt.Errorf("debs: unpack %s: %w", p, err)
	}
	if err := os.WriteFile(filepath.Join(tmp, "manifest.json"), data, 0o644); err != nil {
		return nil, fmt.Errorf("debs: unpack %s: %w", p, err)
	}
	if err := os.RemoveAll(dir); err != nil {
		return nil, fmt.Errorf("debs: unpack %s: %w", p, err)
	}
	if err := os.Rename(tmp, dir); err != nil {
		return nil, fmt.Errorf("debs: unpack %s: %w", p, err)
	}
	f.log().Info("unpacked package", "package", p.String(), "files", len(entries), "took", time.Since(start).Round(time.Millisecond))
	return openTree(dir, p)
}

// openTree reads an unpacked package's manifest; it must be for exactly
// this pin.
func openTree(dir string, p boards.Package) (*Tree, error) {
	data, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
	if err != nil {
		return nil, err
	}
	var m manifest
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("%s: %w", dir, err)
	}
	if m.Package != p {
		return nil, fmt.Errorf("%s: unpacked from %s, not %s", dir, m.Package, p)
	}
	t := &Tree{Package: p, Dir: filepath.Join(dir, "root"), entries: make(map[string]Entry, len(m.Entries))}
	for _, e := range m.Entries {
		t.entries[e.Name] = e
	}
	return t, nil
}

// unpack extracts the .deb into dir and returns its manifest entries.
func unpack(deb, dir string) ([]Entry, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, err
	}
	defer root.Close()
	var entries []Entry
	err = Extract(deb, func(name string, hdr *tar.Header, r io.Reader) error {
		e := Entry{Name: name, Mode: fs.FileMode(hdr.Mode) & fs.ModePerm, ModTime: hdr.ModTime.Unix()}
		var (
			h  hash.Hash
			cr *countReader
		)
		switch hdr.Typeflag {
		case tar.TypeReg:
			h = sha256.New()
			cr = &countReader{r: io.TeeReader(r, h)}
			e.Type, r = TypeFile, cr
		case tar.TypeDir:
			e.Type = TypeDir
		case tar.TypeSymlink:
			e.Type, e.Link = TypeSymlink, hdr.Linkname
		case tar.TypeLink:
			target, err := entryName(hdr.Linkname)
			if err != nil {
				return err
			}
			e.Type, e.Link = TypeLink, target
		default:
			return nil // devices and fifos need root; packages for an image have none
		}
		if err := extractEntry(root, name, hdr, r); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		if cr != nil {
			e.Size, e.SHA256 = cr.n, hex.EncodeToString(h.Sum(nil))
		}
		entries = append(entries, e)
		return nil
	})
	return entries, err
}

// countReader counts what passes through it.
type countReader struct {
	r io.Reader
	n int64
}

func (c *countReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// Entries lists the package's files, sorted by name.
func (t *Tree) Entries() []Entry {
	out := make([]Entry, 0, len(t.entries))
	for _, e := range t.entries {
		out = append(out, e)
	}
	slices.SortFunc(out, func(a, b Entry) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// Lookup returns the manifest entry of a path, without following links.
func (t *Tree) Lookup(name string) (Entry, bool) {
	e, ok := t.entries[wantName(name)]
	return e, ok
}

// Path is where a file of the package is on disk. Reading it there skips
// the manifest check that ReadFile makes.
func (t *Tree) Path(name string) string {
	return filepath.Join(t.Dir, filepath.FromSlash(wantName(name)))
}

// Resolve follows symlinks and hard links inside the package to the
// regular file or directory a path names. A link that leaves the package
// or a chain longer than eight links is an error; a name the package does
// not hold wraps ErrMissingFile.
func (t *Tree) Resolve(name string) (Entry, error) {
	name = wantName(name)
	for hop := 0; hop <= maxLinkHops; hop++ {
		e, ok := t.entries[name]
		if !ok {
			// A parent directory may be the symlink (lib -> usr/lib).
			if r, ok := t.resolveParent(name); ok {
				name = r
				continue
			}
			return Entry{}, fmt.Errorf("debs: %s: %w: %s", t.Package.Base(), ErrMissingFile, name)
		}
		switch e.Type {
		case TypeSymlink:
			target := e.Link
			if !strings.HasPrefix(target, "/") {
				target = path.Join(path.Dir(name), target)
			}
			name = wantName(target)
			if name == ".." || strings.HasPrefix(name, "../") {
				return Entry{}, fmt.Errorf("debs: %s: %w: %s links outside the package", t.Package.Base(), ErrUnsafePath, e.Name)
			}
		case TypeLink:
			name = e.Link
		default:
			return e, nil
		}
	}
	return Entry{}, fmt.Errorf("debs: %s: %s: too many links", t.Package.Base(), name)
}

// resolveParent rewrites name through the first of its parent directories
// that is a symlink.
func (t *Tree) resolveParent(name string) (string, bool) {
	parts := strings.Split(name, "/")
	for i := 1; i < len(parts); i++ {
		dir := strings.Join(parts[:i], "/")
		e, ok := t.entries[dir]
		if !ok || e.Type != TypeSymlink {
			continue
		}
		target := e.Link
		if !strings.HasPrefix(target, "/") {
			target = path.Join(path.Dir(dir), target)
		}
		return wantName(path.Join(target, strings.Join(parts[i:], "/"))), true
	}
	return "", false
}

// ReadFile returns a file's content after checking it against the
// manifest, following links inside the package.
func (t *Tree) ReadFile(name string) ([]byte, error) {
	e, err := t.Resolve(name)
	if err != nil {
		return nil, err
	}
	if e.Type != TypeFile {
		return nil, fmt.Errorf("debs: %s: %s is a %s, not a file", t.Package.Base(), name, e.Type)
	}
	data, err := os.ReadFile(t.Path(e.Name))
	if err != nil {
		return nil, fmt.Errorf("debs: %s: %w", t.Package.Base(), err)
	}
	sum := sha256.Sum256(data)
	if got := hex.EncodeToString(sum[:]); int64(len(data)) != e.Size || got != e.SHA256 {
		return nil, fmt.Errorf("debs: %s: %w: unpacked %s has sha256 %s (%d bytes), the package has %s (%d bytes); delete %s",
			t.Package.Base(), ErrChecksum, e.Name, got, len(data), e.SHA256, e.Size, filepath.Dir(t.Dir))
	}
	return data, nil
}

// errNotDir is a Files argument that is not a directory of the package.
var errNotDir = errors.New("not a directory")

// Files lists the regular files at or below dir in the package, sorted.
func (t *Tree) Files(dir string) ([]Entry, error) {
	dir = wantName(dir)
	if e, ok := t.entries[dir]; !ok || e.Type != TypeDir {
		return nil, fmt.Errorf("debs: %s: %s: %w", t.Package.Base(), dir, errNotDir)
	}
	var out []Entry
	for _, e := range t.Entries() {
		if e.Type == TypeFile && strings.HasPrefix(e.Name, dir+"/") {
			out = append(out, e)
		}
	}
	return out, nil
}
