package cli

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/goleudy/goleudy/image/bundle"
	"github.com/goleudy/goleudy/provision/api"
	"github.com/goleudy/goleudy/provision/envelope"
)

// writeBundle signs a bundle of a small random image with the key file.
func writeBundle(t *testing.T, keyFile, out, board, version string, build uint64) {
	t.Helper()
	key, err := envelope.LoadPrivateKey(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	img := make([]byte, 6000)
	rand.Read(img)
	var buf bytes.Buffer
	m := bundle.Manifest{Board: board, Version: version, Build: build, Created: time.Now().UTC()}
	if _, err := bundle.Write(&buf, m, bytes.NewReader(img), int64(len(img)), key); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(out, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestReleaseAndRolloutCommands publishes a bundle and rolls it out
// through a running server, as an operator does.
func TestReleaseAndRolloutCommands(t *testing.T) {
	dir := t.TempDir()
	if r := run(t, dir, "keys", "new", "--out", "./keys/release"); r.code != 0 {
		t.Fatalf("keys new: %+v", r)
	}
	remote := startServer(t, dir, filepath.Join(dir, "keys", "release.pub"))

	key := filepath.Join(dir, "keys", "release.key")
	writeBundle(t, key, filepath.Join(dir, "rpi-v2.bundle"), "rpi", "v2", 5)
	writeBundle(t, key, filepath.Join(dir, "brix-v2.bundle"), "brix", "v2", 3)
	r := remote("release", "publish", "./rpi-v2.bundle")
	if r.code != 0 || !strings.Contains(r.stdout, "published board rpi version v2 build 5") || !strings.Contains(r.stdout, "6000 bytes") {
		t.Fatalf("release publish: %+v", r)
	}
	if r := remote("release", "publish", "./brix-v2.bundle"); r.code != 0 {
		t.Fatalf("release publish brix: %+v", r)
	}
	if r := remote("release", "publish", "./rpi-v2.bundle"); r.code != ExitFailure || !strings.Contains(r.stderr, "rpi build 5 is published already") {
		t.Fatalf("publishing twice: %+v", r)
	}
	if r := remote("release", "publish", "./missing.bundle"); r.code != ExitFailure || !strings.Contains(r.stderr, "no such file") {
		t.Fatalf("publishing a missing file: %+v", r)
	}
	if r := run(t, dir, "release", "publish", "./rpi-v2.bundle", "--server", ""); r.code != ExitUsage || !strings.Contains(r.stderr, "needs --server") {
		t.Fatalf("publish without a server: %+v", r)
	}
	if r := remote("release", "list"); r.code != 0 || !strings.Contains(r.stdout, "rpi    v2       5") || !strings.Contains(r.stdout, "brix   v2       3") {
		t.Fatalf("release list: %+v", r)
	}

	seed := filepath.Join(dir, "alban.seed")
	if r := remote("node", "add", "alban", "--board", "rpi", "--seed-out", seed); r.code != 0 {
		t.Fatalf("node add: %+v", r)
	}
	var sd api.Seed
	if b, err := os.ReadFile(seed); err != nil || json.Unmarshal(b, &sd) != nil || len(sd.ReleaseTrust) != 1 {
		t.Fatalf("seed %s: %v", b, err)
	}
	if r := remote("node", "add", "bede", "--board", "vps"); r.code != 0 {
		t.Fatalf("node add: %+v", r)
	}
	if r := remote("fleet", "keys"); r.code != 0 || !strings.Contains(r.stdout, "release key") || !strings.Contains(r.stdout, sd.ReleaseTrust[0]) {
		t.Fatalf("fleet keys: %+v", r)
	}

	if r := remote("rollout", "status"); r.code != ExitFailure || !strings.Contains(r.stderr, "no rollout has been started") {
		t.Fatalf("status before any rollout: %+v", r)
	}
	if r := remote("rollout", "start", "v9", "--canary", "1"); r.code != ExitFailure || !strings.Contains(r.stderr, "version: no release v9 is published") {
		t.Fatalf("rollout of an unknown version: %+v", r)
	}
	r = remote("rollout", "start", "v2", "--canary", "1")
	if r.code != 0 || !strings.Contains(r.stdout, "started rollout of v2 to 1 node(s)") ||
		!regexpMatch(r.stdout, `alban\s+rpi\s+5\s+yes\s+yes\s+waiting`) || !strings.Contains(r.stdout, "left out bede: no release v2 for board vps") {
		t.Fatalf("rollout start: %+v", r)
	}
	if r := remote("rollout", "start", "v2"); r.code != ExitFailure || !strings.Contains(r.stderr, "a rollout is running") {
		t.Fatalf("a second rollout: %+v", r)
	}
	if r := remote("rollout", "status"); r.code != 0 || !strings.Contains(r.stdout, "rollout v2: phase canary") || !strings.Contains(r.stdout, "0 of 1 committed") {
		t.Fatalf("rollout status: %+v", r)
	}
	if r := remote("node", "show", "alban"); r.code != 0 || !strings.Contains(r.stdout, `"url": "http://10.53.0.1:8053/v1/bundles/rpi/5"`) {
		t.Fatalf("alban's config lacks the update: %+v", r)
	}
	if r := remote("rollout", "halt", "--reason", "smoke test"); r.code != 0 || !strings.Contains(r.stdout, "halted rollout of v2") {
		t.Fatalf("rollout halt: %+v", r)
	}
	if r := remote("rollout", "status"); r.code != 0 || !strings.Contains(r.stdout, "phase halted") || !strings.Contains(r.stdout, "halted by operator:ops-test") || !strings.Contains(r.stdout, "smoke test") {
		t.Fatalf("rollout status after the halt: %+v", r)
	}
	if r := remote("rollout", "halt"); r.code != ExitFailure || !strings.Contains(r.stderr, "no rollout is running") {
		t.Fatalf("halting twice: %+v", r)
	}
	if r := remote("rollout", "start", "v2", "--canary", "x"); r.code != ExitUsage {
		t.Fatalf("bad --canary: %+v", r)
	}
}

func regexpMatch(s, re string) bool { return regexp.MustCompile(re).MatchString(s) }
