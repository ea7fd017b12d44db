package debs

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/goleudy/goleudy/boards"
)

// archive is a loopback HTTP server holding files at pool paths, like a
// Debian mirror, counting the requests it answers.
type archive struct {
	*httptest.Server
	files map[string][]byte // path below the base → content
	hits  atomic.Int64
}

func newArchive(t *testing.T, base string) *archive {
	t.Helper()
	a := &archive{files: map[string][]byte{}}
	a.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a.hits.Add(1)
		p, ok := strings.CutPrefix(r.URL.Path, base+"/")
		b, found := a.files[p]
		if !ok || !found {
			http.NotFound(w, r)
			return
		}
		w.Write(b)
	}))
	t.Cleanup(func() {
		a.Close()
		a.Client().CloseIdleConnections()
	})
	return a
}

// newFetcher makes a Fetcher on an empty cache that uses the archive's
// client, so idle connections are closed with the server.
func newFetcher(t *testing.T, a *archive, mirrors ...string) *Fetcher {
	t.Helper()
	f := &Fetcher{Cache: filepath.Join(t.TempDir(), "cache"), Mirrors: mirrors}
	if a != nil {
		f.Client = a.Client()
	}
	return f
}

// cacheFiles lists the names in the cache directory, temporaries included.
func cacheFiles(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	var names []string
	for _, e := range es {
		names = append(names, e.Name())
	}
	return names
}

func TestFetchDownloadsVerifiesAndCaches(t *testing.T) {
	deb := debBytes(t, ".xz", fixtureEntries)
	pin := pinOf("fixture", deb)
	a := newArchive(t, "/debian")
	a.files[pin.Filename] = deb
	f := newFetcher(t, a, a.URL+"/debian/")

	if m := f.Missing([]boards.Package{pin}); len(m) != 1 {
		t.Errorf("Missing before fetch: %v", m)
	}
	path, err := f.Fetch(context.Background(), pin)
	if err != nil {
		t.Fatal(err)
	}
	if path != filepath.Join(f.Cache, "fixture_1.0-1_amd64.deb") || path != f.Path(pin) {
		t.Errorf("cached at %s", path)
	}
	if b, _ := os.ReadFile(path); !bytes.Equal(b, deb) {
		t.Error("cached file differs from the archive's")
	}
	if m := f.Missing([]boards.Package{pin}); len(m) != 0 {
		t.Errorf("Missing after fetch: %v", m)
	}
	// The second fetch is served from the cache.
	if _, err := f.Fetch(context.Background(), pin); err != nil || a.hits.Load() != 1 {
		t.Errorf("second fetch: %v, %d requests (want 1 in all)", err, a.hits.Load())
	}
	if got := cacheFiles(t, f.Cache); len(got) != 1 {
		t.Errorf("cache holds %v", got)
	}
	// And the cached package is usable at once.
	got, err := ExtractFiles(path, map[string]bool{"usr/lib/fw/a.bin": true})
	if err != nil || string(got["usr/lib/fw/a.bin"]) != "firmware A" {
		t.Errorf("extract from cache: %q %v", got, err)
	}
}

func TestFetchRefusesWrongContent(t *testing.T) {
	deb := debBytes(t, ".gz", fixtureEntries)
	pin := pinOf("fixture", deb)
	evil := bytes.Clone(deb)
	evil[len(evil)-1] ^= 0xff
	cases := map[string][]byte{
		"same size, other bytes": evil,
		"longer":                 append(bytes.Clone(deb), "extra"...),
		"shorter":                deb[:len(deb)-10],
	}
	for name, served := range cases {
		t.Run(name, func(t *testing.T) {
			a := newArchive(t, "")
			a.files[pin.Filename] = served
			f := newFetcher(t, a, a.URL)
			_, err := f.Fetch(context.Background(), pin)
			url := a.URL + "/" + pin.Filename
			for _, want := range []string{pin.String(), pin.SHA256, url} {
				if err == nil || !strings.Contains(err.Error(), want) {
					t.Errorf("error %v does not name %s", err, want)
				}
			}
			if !errors.Is(err, ErrChecksum) {
				t.Errorf("error %v does not wrap ErrChecksum", err)
			}
			if got := cacheFiles(t, f.Cache); len(got) != 0 {
				t.Errorf("a refused download left %v in the cache", got)
			}
		})
	}
}

func TestFetchTriesEachMirror(t *testing.T) {
	deb := debBytes(t, "", fixtureEntries)
	pin := pinOf("fixture", deb)
	empty := newArchive(t, "/debian")
	bad := newArchive(t, "/debian")
	bad.files[pin.Filename] = []byte("corrupt")
	good := newArchive(t, "/debian-security")
	good.files[pin.Filename] = deb
	f := newFetcher(t, nil, empty.URL+"/debian", bad.URL+"/debian", good.URL+"/debian-security")
	if _, err := f.Fetch(context.Background(), pin); err != nil {
		t.Fatalf("third mirror has it: %v", err)
	}
	if empty.hits.Load() != 1 || bad.hits.Load() != 1 || good.hits.Load() != 1 {
		t.Errorf("requests %d %d %d, want one each", empty.hits.Load(), bad.hits.Load(), good.hits.Load())
	}
	// When none has it, the error names every attempt.
	other := pinOf("other", []byte("x"))
	_, err := f.Fetch(context.Background(), other)
	if err == nil || strings.Count(err.Error(), "404 Not Found") != 3 {
		t.Errorf("error %v, want three 404s", err)
	}
	http.DefaultClient.CloseIdleConnections()
}

func TestFetchFromLocalDirectories(t *testing.T) {
	deb := debBytes(t, ".zst", fixtureEntries)
	pin := pinOf("fixture", deb)
	pool := t.TempDir()
	if err := os.MkdirAll(filepath.Join(pool, filepath.Dir(pin.Filename)), 0o755); err != nil {
		t.Fatal(err)
	}
	writeDeb(t, filepath.Join(pool, filepath.Dir(pin.Filename)), pin.Base(), deb)
	flat := t.TempDir() // as apt-get download leaves them
	writeDeb(t, flat, pin.Base(), deb)
	for name, mirror := range map[string]string{"pool tree": pool, "file URL": "file://" + pool, "apt file:": "file:" + pool, "flat": flat} {
		f := newFetcher(t, nil, mirror)
		if _, err := f.Fetch(context.Background(), pin); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	f := newFetcher(t, nil, t.TempDir(), "cdrom:[Debian]/", "ftp://example.invalid/debian")
	_, err := f.Fetch(context.Background(), pin)
	if err == nil || !strings.Contains(err.Error(), "not there") || strings.Count(err.Error(), "unsupported mirror scheme") != 2 {
		t.Errorf("no usable mirror: %v", err)
	}
}

func TestCachedNeverDownloads(t *testing.T) {
	deb := debBytes(t, "", fixtureEntries)
	pin := pinOf("fixture", deb)
	a := newArchive(t, "")
	a.files[pin.Filename] = deb
	f := newFetcher(t, a) // no mirrors
	_, err := f.Fetch(context.Background(), pin)
	if !errors.Is(err, ErrNotCached) || !strings.Contains(err.Error(), "go run ./tools/goleudy image fetch") {
		t.Errorf("fetch with no mirror: %v, want ErrNotCached with the fetch command", err)
	}
	if a.hits.Load() != 0 {
		t.Error("contacted a server")
	}
	// A wrong file in the cache is found, reported and removed.
	if err := os.MkdirAll(f.Cache, 0o755); err != nil {
		t.Fatal(err)
	}
	writeDeb(t, f.Cache, pin.Base(), bytes.Repeat([]byte{0}, len(deb)))
	if m := f.Missing([]boards.Package{pin}); len(m) != 0 {
		t.Errorf("Missing does not hash, so it should not report %v", m)
	}
	if _, err := f.Cached(pin); !errors.Is(err, ErrChecksum) {
		t.Errorf("corrupt cache: %v, want ErrChecksum", err)
	}
	if got := cacheFiles(t, f.Cache); len(got) != 0 {
		t.Errorf("corrupt file left in the cache: %v", got)
	}
	// With a mirror, Fetch replaces a wrong cached file.
	writeDeb(t, f.Cache, pin.Base(), []byte("wrong"))
	f.Mirrors = []string{a.URL}
	if _, err := f.Fetch(context.Background(), pin); err != nil {
		t.Errorf("refetch over a wrong file: %v", err)
	}
}

func TestFetchRefusesBadPins(t *testing.T) {
	f := newFetcher(t, nil, t.TempDir())
	good := pinOf("fixture", []byte("x"))
	for name, edit := range map[string]func(*boards.Package){
		"no sha":      func(p *boards.Package) { p.SHA256 = "" },
		"hidden file": func(p *boards.Package) { p.Name = ".x"; p.Filename = "pool/main/x/x/.x_1.0-1_amd64.deb" },
		"no size":     func(p *boards.Package) { p.Size = 0 },
	} {
		p := good
		edit(&p)
		if _, err := f.Fetch(context.Background(), p); err == nil {
			t.Errorf("%s: fetched", name)
		}
	}
}

func TestFetchStopsWithContext(t *testing.T) {
	deb := debBytes(t, "", fixtureEntries)
	pin := pinOf("fixture", deb)
	dir := t.TempDir()
	writeDeb(t, dir, pin.Base(), deb)
	f := newFetcher(t, nil, dir, dir)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := f.Fetch(ctx, pin); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled fetch: %v", err)
	}
	if got := cacheFiles(t, f.Cache); len(got) != 0 {
		t.Errorf("cancelled fetch left %v", got)
	}
}

func TestDefaultCache(t *testing.T) {
	t.Setenv(CacheEnv, "/srv/debs")
	if d, err := DefaultCache(); err != nil || d != "/srv/debs" {
		t.Errorf("with %s: %q %v", CacheEnv, d, err)
	}
	t.Setenv(CacheEnv, "")
	t.Setenv("XDG_CACHE_HOME", "/xdg")
	if d, err := DefaultCache(); err != nil || d != "/xdg/goleudy/debs" {
		t.Errorf("with XDG_CACHE_HOME: %q %v", d, err)
	}
}
