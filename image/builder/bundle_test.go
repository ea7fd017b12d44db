package builder

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/goleudy/goleudy/boards"
	"github.com/goleudy/goleudy/image/bundle"
	"github.com/goleudy/goleudy/image/disk"
	"github.com/goleudy/goleudy/image/fat"
	"github.com/goleudy/goleudy/image/grub"
	"github.com/goleudy/goleudy/provision/envelope"
)

// TestBundle builds a vps image with its bundle and follows the bundle
// as the update agent does: the manifest verifies with the release key
// and says what the slot holds; the image is only the slot's used part;
// written over slot B of the image and relabelled for it, it reads back
// as the same files with B's label, which GRUB looks for.
func TestBundle(t *testing.T) {
	b, err := boards.Lookup("vps")
	if err != nil {
		t.Fatal(err)
	}
	root := moduleRoot(t)
	pub, key, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	img, bun := filepath.Join(dir, "node.img"), filepath.Join(dir, "node.bundle")
	seed := []byte(`{"node_id":"alban","enroll_url":"http://192.0.2.1:8080/v1/enroll","server_key":"x","token":"t","trust":[]}`)
	r, err := Build(context.Background(), Options{Board: b, Seed: seed, Version: "2.0.0", Build: 12, Epoch: time.Unix(1763683200, 0),
		Out: img, Bundle: bun, ReleaseKeys: []ed25519.PrivateKey{key}, Fetcher: boardFetcher(t, b), ModuleRoot: root, WorkDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(r.Bundle)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h, err := bundle.ReadHeader(f)
	if err != nil {
		t.Fatal(err)
	}
	trust, err := envelope.NewTrustSet(pub)
	if err != nil {
		t.Fatal(err)
	}
	m, err := h.Verify(trust)
	if err != nil {
		t.Fatal(err)
	}
	if m.Board != "vps" || m.Version != "2.0.0" || m.Build != 12 {
		t.Errorf("manifest %+v", m)
	}
	if m.Size >= SlotSize || m.Size%bundleAlign != 0 || m.Size < r.KernelSize+r.InitramfsSize {
		t.Errorf("bundle image %d bytes; want the used MiBs of the %d-byte slot, at least kernel+initramfs", m.Size, SlotSize)
	}
	t.Logf("FIGURE vps bundle: image %d MiB of the %d MiB slot", m.Size>>20, SlotSize>>20)

	off, size, err := disk.PartitionOffset(img, 3)
	if err != nil {
		t.Fatal(err)
	}
	out, err := os.OpenFile(img, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	var buf bytes.Buffer
	if err := bundle.CopyImage(&buf, f, m); err != nil {
		t.Fatal(err)
	}
	if _, err := out.WriteAt(buf.Bytes(), off); err != nil {
		t.Fatal(err)
	}
	if err := fat.Relabel(out, off, size, grub.DefaultLabelB); err != nil {
		t.Fatal(err)
	}
	v, err := fat.Open(out, off, size)
	if err != nil {
		t.Fatal(err)
	}
	if v.Label() != grub.DefaultLabelB {
		t.Errorf("slot B's label %q", v.Label())
	}
	js, err := v.ReadFile(SlotJSON)
	if err != nil {
		t.Fatal(err)
	}
	var info SlotInfo
	if err := json.Unmarshal(js, &info); err != nil || info.Build != 12 || info.Version != "2.0.0" {
		t.Errorf("slot.json %s: %v", js, err)
	}
	for _, name := range []string{Kernel, Initrd} {
		if _, err := v.ReadFile(name); err != nil {
			t.Errorf("slot B: %v", err)
		}
	}
}
