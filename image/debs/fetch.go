package debs

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/goleudy/goleudy/boards"
)

// Fetcher fills the cache with pinned packages.
type Fetcher struct {
	// Cache is the directory of .deb files; see DefaultCache.
	Cache string
	// Mirrors are tried in order for each package. Each is the base of
	// a Debian archive, where the package is at BASE/pool/...: an http or
	// https URL, a file:// URL, or a local directory. A local directory
	// may also hold the .deb files flat, as apt-get download leaves them.
	// URIs of Sources gives the system's.
	Mirrors []string
	// Client does the HTTP requests; nil is a client that honours the
	// usual proxy environment variables.
	Client *http.Client
	// Log receives one line per download; nil discards.
	Log *slog.Logger
}

// Fetch returns the path of the package in the cache, downloading it
// first if the cache lacks it or holds a wrong copy. The download goes to a
// temporary file in the cache while it is hashed, and is renamed into
// place only if its size and sha256 are the pinned ones, so a failed or
// wrong download leaves nothing behind. Each mirror is tried in turn; the
// error names every attempt, and a mismatch wraps ErrChecksum and names
// the URL, the expected and the received sha256.
func (f *Fetcher) Fetch(ctx context.Context, p boards.Package) (string, error) {
	path, err := f.Cached(p)
	if err == nil {
		return path, nil
	}
	// With no mirror, Fetch is Cached.
	if len(f.Mirrors) == 0 || !errors.Is(err, ErrNotCached) && !errors.Is(err, ErrChecksum) {
		return "", err
	}
	if errors.Is(err, ErrChecksum) {
		f.log().Warn("cached package was wrong; fetching it again", "package", p.String(), "err", err)
	}
	if err := os.MkdirAll(f.Cache, 0o755); err != nil {
		return "", fmt.Errorf("debs: fetch %s: %w", p, err)
	}
	var errs []error
	for _, m := range f.Mirrors {
		err := f.fetchFrom(ctx, m, p)
		if err == nil {
			return f.Path(p), nil
		}
		errs = append(errs, err)
		if ctx.Err() != nil {
			break
		}
	}
	return "", fmt.Errorf("debs: fetch %s: %w", p, errors.Join(errs...))
}

// fetchFrom gets the package from one mirror into the cache.
func (f *Fetcher) fetchFrom(ctx context.Context, mirror string, p boards.Package) error {
	start := time.Now()
	body, where, err := f.open(ctx, mirror, p)
	if err != nil {
		return err
	}
	defer body.Close()
	tmp, err := os.CreateTemp(f.Cache, ".fetch-"+p.Base()+"-*")
	if err != nil {
		return err
	}
	keep := false
	defer func() {
		if !keep {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	h := sha256.New()
	// One byte past the pinned size is enough to see the file is too long.
	n, err := io.Copy(io.MultiWriter(tmp, h), io.LimitReader(body, p.Size+1))
	if err != nil {
		return fmt.Errorf("%s: %w", where, err)
	}
	if err := checkSum(p, where, n, h.Sum(nil)); err != nil {
		return err
	}
	if err := tmp.Sync(); err != nil {
		return err
	}
	if err := tmp.Chmod(0o644); err != nil {
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), f.Path(p)); err != nil {
		return err
	}
	keep = true
	f.log().Info("fetched package", "package", p.String(), "from", where, "bytes", n, "took", time.Since(start).Round(time.Millisecond))
	return nil
}

// open starts reading the package from a mirror; where names the URL or
// file for messages.
func (f *Fetcher) open(ctx context.Context, mirror string, p boards.Package) (io.ReadCloser, string, error) {
	switch {
	case strings.HasPrefix(mirror, "http://"), strings.HasPrefix(mirror, "https://"):
		url := strings.TrimSuffix(mirror, "/") + "/" + p.Filename
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return nil, url, fmt.Errorf("%s: %w", url, err)
		}
		client := f.Client
		if client == nil {
			client = http.DefaultClient
		}
		resp, err := client.Do(req)
		if err != nil {
			return nil, url, err
		}
		if resp.StatusCode != http.StatusOK {
			resp.Body.Close()
			return nil, url, fmt.Errorf("%s: %s", url, resp.Status)
		}
		return resp.Body, url, nil
	case strings.HasPrefix(mirror, "file:"):
		// file:///srv/debian and apt's file:/srv/debian
		dir := strings.TrimPrefix(strings.TrimPrefix(mirror, "file:"), "//")
		return openLocal(ctx, dir, p)
	case strings.Contains(mirror, "://") || strings.HasPrefix(mirror, "mirror+") || strings.HasPrefix(mirror, "cdrom:"):
		return nil, mirror, fmt.Errorf("%s: unsupported mirror scheme (want http, https, file or a directory)", mirror)
	}
	return openLocal(ctx, mirror, p)
}

// openLocal opens the package in a local archive (DIR/pool/...) or a
// flat directory of .debs (DIR/NAME.deb).
func openLocal(ctx context.Context, dir string, p boards.Package) (io.ReadCloser, string, error) {
	var errs []error
	for _, name := range []string{filepath.FromSlash(p.Filename), p.Base()} {
		path := filepath.Join(dir, name)
		file, err := os.Open(path)
		if err == nil {
			return ctxReader{ctx, file}, path, nil
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return nil, path, err
		}
		errs = append(errs, err)
	}
	return nil, dir, fmt.Errorf("%s: not there: %w", dir, errors.Join(errs...))
}

// ctxReader stops a local copy when its context ends.
type ctxReader struct {
	ctx context.Context
	io.ReadCloser
}

func (r ctxReader) Read(p []byte) (int, error) {
	if err := r.ctx.Err(); err != nil {
		return 0, err
	}
	return r.ReadCloser.Read(p)
}

func (f *Fetcher) log() *slog.Logger {
	if f.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return f.Log
}
