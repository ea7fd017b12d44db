package debs

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/goleudy/goleudy/boards"
)

// CacheEnv overrides the cache directory.
const CacheEnv = "GOLEUDY_DEB_CACHE"

// DefaultCache is $GOLEUDY_DEB_CACHE, or goleudy/debs in the user's cache
// directory ($XDG_CACHE_HOME, else ~/.cache, on Linux).
func DefaultCache() (string, error) {
	if d := os.Getenv(CacheEnv); d != "" {
		return d, nil
	}
	base, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("debs: cache directory: %w (set %s)", err, CacheEnv)
	}
	return filepath.Join(base, "goleudy", "debs"), nil
}

// checkPin refuses a pin the cache cannot hold safely: its file name
// must be a plain base name, and its sha256 and size usable.
func checkPin(p boards.Package) error {
	if err := p.Check(); err != nil {
		return fmt.Errorf("debs: %w", err)
	}
	b := p.Base()
	if b == "." || b == ".." || strings.ContainsAny(b, `/\`) || strings.HasPrefix(b, ".") {
		return fmt.Errorf("debs: package %s: unusable file name %q", p, b)
	}
	return nil
}

// Path is where the cache keeps the package.
func (f *Fetcher) Path(p boards.Package) string { return filepath.Join(f.Cache, p.Base()) }

// Missing returns the packages the cache has no file of the pinned size
// for, in the order given. It does not hash: a file of the right size but
// the wrong content is found when it is used.
func (f *Fetcher) Missing(pkgs []boards.Package) []boards.Package {
	var missing []boards.Package
	for _, p := range pkgs {
		st, err := os.Stat(f.Path(p))
		if err != nil || !st.Mode().IsRegular() || st.Size() != p.Size {
			missing = append(missing, p)
		}
	}
	return missing
}

// Cached returns the cached file of the package after checking its size
// and sha256, without touching the network. A package the cache lacks is
// an error wrapping ErrNotCached; one whose content is wrong is removed
// from the cache and reported with ErrChecksum.
func (f *Fetcher) Cached(p boards.Package) (string, error) {
	if err := checkPin(p); err != nil {
		return "", err
	}
	path := f.Path(p)
	err := verifyFile(path, p)
	switch {
	case err == nil:
		return path, nil
	case errors.Is(err, fs.ErrNotExist):
		return "", fmt.Errorf("debs: %s: %w (cache %s)", p.Base(), ErrNotCached, f.Cache)
	case errors.Is(err, ErrChecksum):
		// A wrong file would fail every later use too; drop it so a
		// fetch can replace it.
		if rerr := os.Remove(path); rerr != nil {
			err = errors.Join(err, rerr)
		}
	}
	return "", fmt.Errorf("debs: cached %s: %w", p, err)
}

// verifyFile checks a file's size and sha256 against the pin.
func verifyFile(path string, p boards.Package) error {
	file, err := os.Open(path)
	if err != nil {
		return err
	}
	defer file.Close()
	h := sha256.New()
	n, err := io.Copy(h, file)
	if err != nil {
		return err
	}
	return checkSum(p, path, n, h.Sum(nil))
}

// checkSum compares what was read with the pin; where names the file or
// URL it came from.
func checkSum(p boards.Package, where string, size int64, sum []byte) error {
	got := hex.EncodeToString(sum)
	if size != p.Size || got != p.SHA256 {
		return fmt.Errorf("%w: package %s from %s: want sha256 %s (%d bytes), got sha256 %s (%d bytes)",
			ErrChecksum, p, where, p.SHA256, p.Size, got, size)
	}
	return nil
}
