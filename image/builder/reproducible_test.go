package builder

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/goleudy/goleudy/boards"
	"github.com/goleudy/goleudy/image/debs"
)

func sum(t *testing.T, file string) string {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	io.Copy(h, f)
	return hex.EncodeToString(h.Sum(nil))
}

// TestReproducible builds the same image and bundle twice, from scratch
// (goleudy-node cross-compiled each time, fresh work dirs, another TZ),
// and wants the same bytes; another epoch must change them.
func TestReproducible(t *testing.T) {
	cache, err := debs.DefaultCache()
	if err != nil {
		t.Fatal(err)
	}
	f := &debs.Fetcher{Cache: cache}
	wd, _ := os.Getwd()
	root, err := ModuleRoot(wd)
	if err != nil {
		t.Fatal(err)
	}
	key := ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize))
	seed := []byte(`{"node_id":"alban","enroll_url":"http://192.0.2.1:8080/v1/enroll","server_key":"x","token":"t","trust":[]}`)
	for _, name := range []string{"vps", "rpi64"} {
		b, err := boards.Lookup(name)
		if err != nil {
			t.Fatal(err)
		}
		if missing := f.Missing(append(b.AllPackages(), boards.Tools...)); len(missing) > 0 {
			t.Fatalf("packages not in the cache %s: %v; run `go run ./tools/goleudy image fetch`", cache, missing)
		}
		build := func(epoch time.Time, tz string) (img, bun string) {
			t.Setenv("TZ", tz)
			dir := t.TempDir()
			img, bun = filepath.Join(dir, "node.img"), filepath.Join(dir, "node.bundle")
			_, err := Build(context.Background(), Options{Board: b, Seed: seed, Version: "1.0.0", Build: 7, Epoch: epoch,
				Out: img, Bundle: bun, ReleaseKeys: []ed25519.PrivateKey{key}, Fetcher: f, ModuleRoot: root, WorkDir: t.TempDir()})
			if err != nil {
				t.Fatal(err)
			}
			return img, bun
		}
		epoch := time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)
		img1, bun1 := build(epoch, "UTC")
		img2, bun2 := build(epoch, "Pacific/Chatham")
		if a, b := sum(t, img1), sum(t, img2); a != b {
			t.Errorf("%s: two builds of the same inputs differ: %s %s", name, a, b)
		}
		if a, b := sum(t, bun1), sum(t, bun2); a != b {
			t.Errorf("%s: two bundles of the same inputs differ: %s %s", name, a, b)
		}
		img3, _ := build(epoch.Add(time.Hour), "UTC")
		if sum(t, img3) == sum(t, img1) {
			t.Errorf("%s: another SOURCE_DATE_EPOCH gave the same image", name)
		}
		t.Logf("%s: image sha256 %s", name, sum(t, img1))
	}
}
