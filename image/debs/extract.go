package debs

import (
	"archive/tar"
	"compress/bzip2"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"
	"github.com/ulikunitz/xz/lzma"
)

// Extract calls fn for every entry of the package's data archive, in
// archive order. name is the entry's path cleaned of dpkg's leading "./"
// (usr/lib/..., lib/modules/...); the root entry "." is not passed. r reads
// a regular file's content. fn may return fs.SkipAll to stop early; any
// other error stops the walk and is returned. An entry whose path would
// leave the package root is an error wrapping ErrUnsafePath.
func Extract(deb string, fn func(name string, hdr *tar.Header, r io.Reader) error) error {
	f, err := os.Open(deb)
	if err != nil {
		return fmt.Errorf("debs: extract: %w", err)
	}
	defer f.Close()
	if err := extract(f, fn); err != nil {
		return fmt.Errorf("debs: extract %s: %w", deb, err)
	}
	return nil
}

// extract walks the data archive of the .deb that r reads.
func extract(r io.Reader, fn func(name string, hdr *tar.Header, r io.Reader) error) error {
	ar, err := newARReader(r)
	if err != nil {
		return err
	}
	for i := 0; ; i++ {
		h, err := ar.Next()
		if err == io.EOF {
			return fmt.Errorf("%w: no data.tar member", ErrFormat)
		}
		if err != nil {
			return err
		}
		if i == 0 {
			if err := checkDebianBinary(h, ar); err != nil {
				return err
			}
			continue
		}
		if h.Name != "data.tar" && !strings.HasPrefix(h.Name, "data.tar.") {
			continue
		}
		return walkData(h.Name, ar, fn)
	}
}

// checkDebianBinary checks that the first member declares format 2.x.
func checkDebianBinary(h arHeader, r io.Reader) error {
	if h.Name != "debian-binary" {
		return fmt.Errorf("%w: first member is %q, not debian-binary", ErrFormat, h.Name)
	}
	b, err := io.ReadAll(io.LimitReader(r, 64))
	if err != nil {
		return fmt.Errorf("%w: debian-binary: %v", ErrFormat, err)
	}
	if !strings.HasPrefix(string(b), "2.") {
		return fmt.Errorf("%w: debian-binary says format %q, want 2.x", ErrFormat, strings.TrimSpace(string(b)))
	}
	return nil
}

// walkData decompresses the data member by its name's suffix and walks
// its tar archive.
func walkData(member string, r io.Reader, fn func(string, *tar.Header, io.Reader) error) error {
	dr, closeFn, err := decompressor(member, r)
	if err != nil {
		return err
	}
	defer closeFn()
	tr := tar.NewReader(dr)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%w: %s: %v", ErrFormat, member, err)
		}
		name, err := entryName(hdr.Name)
		if err != nil {
			return err
		}
		if name == "." {
			continue
		}
		if err := fn(name, hdr, tr); err != nil {
			if errors.Is(err, fs.SkipAll) {
				return nil
			}
			return err
		}
	}
}

// decompressor picks the decoder for data.tar[.EXT].
func decompressor(member string, r io.Reader) (io.Reader, func(), error) {
	nop := func() {}
	var (
		dr  io.Reader
		err error
	)
	switch ext := strings.TrimPrefix(member, "data.tar"); ext {
	case "":
		return r, nop, nil
	case ".gz":
		var z *gzip.Reader
		if z, err = gzip.NewReader(r); err == nil {
			return z, func() { z.Close() }, nil
		}
	case ".xz":
		dr, err = xz.NewReader(r)
	case ".lzma":
		dr, err = lzma.NewReader(r)
	case ".bz2":
		dr = bzip2.NewReader(r)
	case ".zst":
		// One decoder goroutine, closed when the walk ends.
		var z *zstd.Decoder
		if z, err = zstd.NewReader(r, zstd.WithDecoderConcurrency(1), zstd.WithDecoderLowmem(true)); err == nil {
			return z, z.Close, nil
		}
	default:
		return nil, nop, fmt.Errorf("%w: %s: unknown compression %q", ErrFormat, member, ext)
	}
	if err != nil {
		return nil, nop, fmt.Errorf("%w: %s: %v", ErrFormat, member, err)
	}
	return dr, nop, nil
}

// entryName cleans a tar entry's name to a relative slash path, or
// refuses one that is absolute or climbs out with "..".
func entryName(raw string) (string, error) {
	name := path.Clean(strings.TrimPrefix(raw, "./"))
	if strings.HasPrefix(raw, "/") || name == ".." || strings.HasPrefix(name, "../") {
		return "", fmt.Errorf("%w: %q", ErrUnsafePath, raw)
	}
	return name, nil
}

// wantName normalizes a path a caller asks for the way entryName does.
func wantName(p string) string {
	return path.Clean(strings.TrimPrefix(strings.TrimPrefix(p, "./"), "/"))
}

// maxLinkHops bounds symlink chains ExtractFiles follows inside a package.
const maxLinkHops = 8

// ExtractFiles returns the content of the named files (paths as Extract
// names them). A name that is a symlink or hard link inside the package is
// followed to its target within the package. A name the package does not
// hold is an error wrapping ErrMissingFile that lists every one missing.
func ExtractFiles(deb string, want map[string]bool) (map[string][]byte, error) {
	out := make(map[string][]byte, len(want))
	// alias[asked] is the archive path whose content answers it.
	alias := map[string]string{}
	pending := map[string]bool{}
	for w := range want {
		n := wantName(w)
		alias[w] = n
		pending[n] = true
	}
	got := map[string][]byte{}
	for hop := 0; len(pending) > 0 && hop <= maxLinkHops; hop++ {
		links := map[string]string{}
		err := Extract(deb, func(name string, hdr *tar.Header, r io.Reader) error {
			if !pending[name] {
				return nil
			}
			switch hdr.Typeflag {
			case tar.TypeReg:
				b, err := io.ReadAll(r)
				if err != nil {
					return fmt.Errorf("%w: %s: %v", ErrFormat, name, err)
				}
				got[name] = b
			case tar.TypeSymlink:
				t := hdr.Linkname
				if !strings.HasPrefix(t, "/") {
					t = path.Join(path.Dir(name), t)
				}
				links[name] = wantName(t)
			case tar.TypeLink:
				links[name] = wantName(hdr.Linkname)
			default:
				return nil
			}
			delete(pending, name)
			if len(pending) == 0 {
				return fs.SkipAll
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		if len(links) == 0 {
			break
		}
		// Point every name that reached a link at the link's target and
		// look for the targets not yet read.
		for asked, at := range alias {
			if t, ok := links[at]; ok {
				alias[asked] = t
				if _, done := got[t]; !done {
					pending[t] = true
				}
			}
		}
	}
	var missing []string
	for asked, at := range alias {
		b, ok := got[at]
		if !ok {
			missing = append(missing, asked)
			continue
		}
		out[asked] = b
	}
	if len(missing) > 0 {
		slices.Sort(missing)
		return out, fmt.Errorf("debs: %s: %w: %s", filepath.Base(deb), ErrMissingFile, strings.Join(missing, ", "))
	}
	return out, nil
}

// ExtractTo unpacks the package's data archive into dir, creating it:
// directories, regular files (with their permission bits and mtimes),
// symlinks and hard links; device nodes and fifos, which need root, are
// left out. Every entry is created through an os.Root on dir, so neither
// an entry's path nor a symlink the package made earlier can write outside
// dir; such an entry is an error wrapping ErrUnsafePath.
func ExtractTo(deb, dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("debs: extract %s: %w", deb, err)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return fmt.Errorf("debs: extract %s: %w", deb, err)
	}
	defer root.Close()
	return Extract(deb, func(name string, hdr *tar.Header, r io.Reader) error {
		if err := extractEntry(root, name, hdr, r); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		return nil
	})
}

// extractEntry creates one entry under root. os.Root refuses a path that
// would leave it, through ".." or a symlink, with an error it does not
// export; that is reported as ErrUnsafePath.
func extractEntry(root *os.Root, name string, hdr *tar.Header, r io.Reader) error {
	err := createEntry(root, name, hdr, r)
	if err != nil && strings.Contains(err.Error(), "path escapes from parent") {
		err = fmt.Errorf("%w: %v", ErrUnsafePath, err)
	}
	return err
}

// createEntry does the work of extractEntry.
func createEntry(root *os.Root, name string, hdr *tar.Header, r io.Reader) error {
	perm := fs.FileMode(hdr.Mode) & fs.ModePerm
	if dir := path.Dir(name); dir != "." {
		if err := root.MkdirAll(dir, 0o755); err != nil {
			return err
		}
	}
	switch hdr.Typeflag {
	case tar.TypeDir:
		if err := root.MkdirAll(name, perm|0o700); err != nil {
			return err
		}
		return root.Chmod(name, perm|0o700)
	case tar.TypeReg:
		if err := removeNonDir(root, name); err != nil {
			return err
		}
		f, err := root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm|0o200)
		if err != nil {
			return err
		}
		if _, err := io.Copy(f, r); err != nil {
			f.Close()
			return fmt.Errorf("%w: %v", ErrFormat, err)
		}
		if err := f.Close(); err != nil {
			return err
		}
		if err := root.Chmod(name, perm); err != nil {
			return err
		}
		return root.Chtimes(name, hdr.ModTime, hdr.ModTime)
	case tar.TypeSymlink:
		if err := removeNonDir(root, name); err != nil {
			return err
		}
		return root.Symlink(hdr.Linkname, name)
	case tar.TypeLink:
		target, err := entryName(hdr.Linkname)
		if err != nil {
			return err
		}
		if err := removeNonDir(root, name); err != nil {
			return err
		}
		return root.Link(target, name)
	}
	return nil
}

// removeNonDir clears the way for a file, link or symlink, as dpkg
// replaces one; a directory in the way is an error.
func removeNonDir(root *os.Root, name string) error {
	st, err := root.Lstat(name)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if st.IsDir() {
		return fmt.Errorf("a directory is in the way")
	}
	return root.Remove(name)
}
