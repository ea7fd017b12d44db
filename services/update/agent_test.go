package update

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/goleudy/goleudy/image/bundle"
	"github.com/goleudy/goleudy/image/fat"
	"github.com/goleudy/goleudy/image/grub"
	"github.com/goleudy/goleudy/provision/api"
	"github.com/goleudy/goleudy/provision/config"
	"github.com/goleudy/goleudy/provision/envelope"
)

// slotSize is each test slot: FAT32 needs about 33 MiB at least.
const slotSize = 64 << 20

// release is one built bundle and what a config would say of it.
type release struct {
	data   []byte
	update config.Update
	image  []byte // the slot image in the bundle
}

// makeRelease builds a slot volume (labelled A, as the builder does) with
// a kernel and initramfs naming the build, and bundles its used MiB,
// signed by key.
func makeRelease(t *testing.T, board, version string, build uint64, downgrade bool, key ed25519.PrivateKey) release {
	t.Helper()
	b, err := fat.New(fat.Options{Label: grub.DefaultLabelA, Time: time.Unix(1763683200, 0)})
	if err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string][]byte{
		"vmlinuz":    bytes.Repeat([]byte("kernel "+version), 40000),
		"initrd.img": bytes.Repeat([]byte("initramfs "+version), 60000),
		"slot.json":  fmt.Appendf(nil, `{"version":%q,"build":%d}`, version, build),
	} {
		if err := b.AddFile(name, data); err != nil {
			t.Fatal(err)
		}
	}
	f, err := os.Create(filepath.Join(t.TempDir(), "slot.img"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := f.Truncate(slotSize); err != nil {
		t.Fatal(err)
	}
	if err := b.Write(f, 0, slotSize); err != nil {
		t.Fatal(err)
	}
	// The used MiBs, as the builder cuts them.
	all := make([]byte, slotSize)
	if _, err := f.ReadAt(all, 0); err != nil {
		t.Fatal(err)
	}
	used := int64(slotSize)
	for used > 0 && bytes.Count(all[used-1<<20:used], []byte{0}) == 1<<20 {
		used -= 1 << 20
	}
	img := all[:used]
	var out bytes.Buffer
	m, err := bundle.Write(&out, bundle.Manifest{Board: board, Version: version, Build: build, Downgrade: downgrade,
		Created: time.Unix(1763683200, 0).UTC()}, bytes.NewReader(img), used, key)
	if err != nil {
		t.Fatal(err)
	}
	return release{data: out.Bytes(), image: img,
		update: config.Update{Version: version, Build: build, SHA256: m.SHA256, Size: m.Size}}
}

// bundleServer serves bundles by path with ranges, as the provisioning
// server does; cut, if set, ends the first full download after that
// many bytes.
type bundleServer struct {
	*httptest.Server
	mu      sync.Mutex
	files   map[string][]byte
	cut     int64
	ranges  []string // the Range headers of image downloads
	fetches atomic.Int32
}

func newBundleServer(t *testing.T) *bundleServer {
	s := &bundleServer{files: map[string][]byte{}}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		data, ok := s.files[r.URL.Path]
		rng := r.Header.Get("Range")
		cut := s.cut
		if rng == "" || !strings.HasPrefix(rng, "bytes=0-") {
			s.ranges = append(s.ranges, rng)
			s.fetches.Add(1)
		}
		if rng == "" && cut > 0 {
			s.cut = 0
		}
		s.mu.Unlock()
		if !ok {
			http.Error(w, "no such bundle", http.StatusNotFound)
			return
		}
		if rng == "" && cut > 0 {
			// Promise the whole bundle, send part of it, and drop
			// the connection: a tunnel going down mid-download.
			w.Header().Set("Content-Length", fmt.Sprint(len(data)))
			w.WriteHeader(http.StatusOK)
			w.Write(data[:cut])
			panic(http.ErrAbortHandler)
		}
		http.ServeContent(w, r, "bundle", time.Time{}, bytes.NewReader(data))
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *bundleServer) publish(path string, r release) config.Update {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.files[path] = r.data
	u := r.update
	u.URL = s.URL + path
	return u
}

// node is one machine's disk for the agent: a boot directory with the
// A/B state, the two slot regions of one disk file, and the data
// partition's directory.
type node struct {
	boot, data, disk string
	rebooted         chan struct{}
	key              ed25519.PublicKey
	stop             func() // stops the latest agent
}

func newNode(t *testing.T, pub ed25519.PublicKey) *node {
	// A fresh image, booted A and committed.
	booted, st := grub.Fresh(grub.A, grub.A, grub.B).Next()
	st.Commit(booted)
	n := &node{boot: bootDir(t, st), data: t.TempDir(), disk: filepath.Join(t.TempDir(), "disk.img"), key: pub}
	// Slot A holds build 1; B is another, older slot; both kept to see
	// what the agent touches.
	disk := bytes.Repeat([]byte{0xA5}, 2*slotSize)
	copy(disk[slotSize:], bytes.Repeat([]byte("old slot B "), 1000))
	if err := os.WriteFile(n.disk, disk, 0o644); err != nil {
		t.Fatal(err)
	}
	return n
}

func (n *node) device(s grub.Slot) (Device, error) {
	if s == grub.A {
		return Device{Path: n.disk, Offset: 0, Size: slotSize}, nil
	}
	return Device{Path: n.disk, Offset: slotSize, Size: slotSize}, nil
}

func (n *node) slotBytes(t *testing.T, s grub.Slot) []byte {
	t.Helper()
	disk, err := os.ReadFile(n.disk)
	if err != nil {
		t.Fatal(err)
	}
	if s == grub.A {
		return disk[:slotSize]
	}
	return disk[slotSize:]
}

// agent starts an agent for the node booted on slot running build.
func (n *node) agent(t *testing.T, slot grub.Slot, build uint64) *Agent {
	t.Helper()
	trust, err := envelope.NewTrustSet(n.key)
	if err != nil {
		t.Fatal(err)
	}
	n.rebooted = make(chan struct{}, 1)
	a, err := New(Options{Board: "vps", Running: Release{Version: fmt.Sprintf("v%d", build), Build: build}, Slot: slot,
		BootDir: n.boot, SlotDevice: n.device, Dir: filepath.Join(n.data, "update"), Trust: trust,
		Reboot: func() error { n.rebooted <- struct{}{}; return nil },
		Retry:  20 * time.Millisecond, Log: testLog(t)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); a.Run(ctx) }()
	stop := func() { cancel(); <-done }
	n.stop = stop
	t.Cleanup(stop)
	return a
}

// waitReport waits for the agent to report state.
func waitReport(t *testing.T, a *Agent, state string) *api.UpdateReport {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if r := a.Report(); r != nil && r.State == state {
			return r
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("no %q report; last %+v", state, a.Report())
	return nil
}

func (n *node) waitReboot(t *testing.T) {
	t.Helper()
	select {
	case <-n.rebooted:
	case <-time.After(20 * time.Second):
		t.Fatal("the agent did not reboot")
	}
}

// TestUpdateAndCommit: a node on build 1 is offered build 2. It downloads
// the bundle, writes slot B (and only B), relabels it, drains, marks B for
// a trial boot and reboots; on B it commits, reports committed, and drops
// the staged bundle.
func TestUpdateAndCommit(t *testing.T) {
	pub, key, _ := ed25519.GenerateKey(nil)
	srv := newBundleServer(t)
	n := newNode(t, pub)
	v2 := makeRelease(t, "vps", "v2", 2, false, key)
	u := srv.publish("/v1/bundles/vps/2", v2)
	slotA := n.slotBytes(t, grub.A)

	a := n.agent(t, grub.A, 1)
	drained := make(chan struct{})
	a.o.Drain = func(context.Context) error { close(drained); return nil }
	a.Want(u)
	n.waitReboot(t)
	select {
	case <-drained:
	default:
		t.Error("rebooted without draining")
	}
	if r := a.Report(); r.State != api.UpdateTrial || r.Build != 2 {
		t.Errorf("report before the reboot: %+v", r)
	}
	if !bytes.Equal(n.slotBytes(t, grub.A), slotA) {
		t.Error("slot A, the running one, was written")
	}
	b := n.slotBytes(t, grub.B)
	v, err := fat.Open(bytes.NewReader(b), 0, slotSize)
	if err != nil {
		t.Fatal(err)
	}
	if v.Label() != grub.DefaultLabelB {
		t.Errorf("slot B's label is %q", v.Label())
	}
	if got, _ := v.ReadFile("slot.json"); !bytes.Contains(got, []byte(`"build":2`)) {
		t.Errorf("slot B's slot.json: %s", got)
	}
	st := state(t, n.boot)
	if st.Order[0] != grub.B || !st.IsOK(grub.B) || st.OnTrial(grub.B) {
		t.Errorf("boot state after the switch: %s; want B first, OK, its trial not yet begun", st)
	}
	n.stop()

	// GRUB boots B for its trial; the node on B becomes healthy.
	booted, next := st.Next()
	if booted != grub.B {
		t.Fatalf("GRUB would boot %s", booted)
	}
	writeState(t, n.boot, next)
	a = n.agent(t, grub.B, 2)
	if !a.OnTrial() {
		t.Error("the first boot of B is not a trial")
	}
	out, err := Commit(log, n.boot, "B", false)
	if err != nil {
		t.Fatal(err)
	}
	a.Booted(out)
	r := waitReport(t, a, api.UpdateCommitted)
	if r.Build != 2 || r.Version != "v2" {
		t.Errorf("report %+v", r)
	}
	if a.OnTrial() {
		t.Error("still on trial after the commit")
	}
	if _, err := os.Stat(filepath.Join(n.data, "update", StagedFile)); !os.IsNotExist(err) {
		t.Errorf("staged bundle left behind: %v", err)
	}
	// The same config again changes nothing.
	before := srv.fetches.Load()
	a.Want(u)
	time.Sleep(100 * time.Millisecond)
	if srv.fetches.Load() != before {
		t.Error("the agent fetched the release it runs")
	}
}

func writeState(t *testing.T, dir string, st grub.State) {
	t.Helper()
	block, err := st.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, filepath.FromSlash(grub.EnvPath)), block, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestRollback: the trial of build 3 never commits; GRUB boots A again.
// The node on A reports the rollback with a reason and does not try
// build 3 again.
func TestRollback(t *testing.T) {
	pub, key, _ := ed25519.GenerateKey(nil)
	srv := newBundleServer(t)
	n := newNode(t, pub)
	u := srv.publish("/v1/bundles/vps/3", makeRelease(t, "vps", "v3", 3, false, key))
	a := n.agent(t, grub.A, 1)
	a.Want(u)
	n.waitReboot(t)
	n.stop()

	// B is booted on trial, never commits; the next boot is A again.
	_, st := state(t, n.boot).Next()
	booted, st := st.Next()
	if booted != grub.A {
		t.Fatalf("GRUB would boot %s after a failed trial", booted)
	}
	writeState(t, n.boot, st)
	a = n.agent(t, grub.A, 1)
	if a.OnTrial() {
		t.Error("the fallback boot counts as a trial")
	}
	a.Want(u)
	out, err := Commit(log, n.boot, "A", false)
	if err != nil || !out.RolledBack {
		t.Fatalf("commit on A: %+v %v", out, err)
	}
	fetches := srv.fetches.Load()
	a.Booted(out)
	r := waitReport(t, a, api.UpdateRolledBack)
	if r.Build != 3 || !strings.Contains(r.Reason, "did not become healthy") {
		t.Errorf("report %+v", r)
	}
	time.Sleep(100 * time.Millisecond)
	if srv.fetches.Load() != fetches {
		t.Error("the agent fetched the rolled-back build again")
	}
	select {
	case <-n.rebooted:
		t.Error("rebooted again")
	default:
	}
}

// TestResume: the tunnel drops mid-download; the agent resumes with a
// range from where it stopped, and installs.
func TestResume(t *testing.T) {
	pub, key, _ := ed25519.GenerateKey(nil)
	srv := newBundleServer(t)
	n := newNode(t, pub)
	rel := makeRelease(t, "vps", "v2", 2, false, key)
	u := srv.publish("/v1/bundles/vps/2", rel)
	cut := int64(len(rel.data) / 3)
	srv.cut = cut
	a := n.agent(t, grub.A, 1)
	a.Want(u)
	n.waitReboot(t)
	srv.mu.Lock()
	defer srv.mu.Unlock()
	if len(srv.ranges) != 2 || srv.ranges[0] != "" || srv.ranges[1] != fmt.Sprintf("bytes=%d-", cut) {
		t.Errorf("image requests' ranges %q; want a full one, then bytes=%d-", srv.ranges, cut)
	}
}

// TestRefused: bundles the node must not install are refused before
// either slot or the boot state is touched, reported with the reason,
// and not fetched again.
func TestRefused(t *testing.T) {
	pub, key, _ := ed25519.GenerateKey(nil)
	_, other, _ := ed25519.GenerateKey(nil)
	corrupt := makeRelease(t, "vps", "v2", 2, false, key)
	corrupt.data = bytes.Clone(corrupt.data)
	corrupt.data[len(corrupt.data)-100] ^= 0xFF
	tests := []struct {
		name  string
		rel   release
		edit  func(*config.Update)
		want  string
		build uint64 // running
	}{
		{"wrong key", makeRelease(t, "vps", "v2", 2, false, other), nil, "manifest", 1},
		{"corrupted image", corrupt, nil, "does not match", 1},
		{"another board", makeRelease(t, "brix", "v2", 2, false, key), nil, `for board "brix"`, 1},
		{"downgrade", makeRelease(t, "vps", "v1", 1, false, key), nil, "lower than the running build 5", 5},
		{"config names another image", makeRelease(t, "vps", "v2", 2, false, key), func(u *config.Update) { u.SHA256 = strings.Repeat("0", 64) }, "the config names", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newBundleServer(t)
			n := newNode(t, pub)
			u := srv.publish("/v1/bundles/vps/x", tt.rel)
			if tt.edit != nil {
				tt.edit(&u)
			}
			disk, _ := os.ReadFile(n.disk)
			boot := state(t, n.boot)
			a := n.agent(t, grub.A, tt.build)
			a.Want(u)
			r := waitReport(t, a, api.UpdateRefused)
			if !strings.Contains(r.Reason, tt.want) {
				t.Errorf("reason %q; want %q in it", r.Reason, tt.want)
			}
			if after, _ := os.ReadFile(n.disk); !bytes.Equal(after, disk) {
				t.Error("a slot was written")
			}
			if got := state(t, n.boot); got != boot {
				t.Errorf("boot state %s; was %s", got, boot)
			}
			fetches := srv.fetches.Load()
			a.Want(u)
			time.Sleep(100 * time.Millisecond)
			if srv.fetches.Load() != fetches {
				t.Error("fetched a refused bundle again")
			}
			select {
			case <-n.rebooted:
				t.Error("rebooted")
			default:
			}
		})
	}
	t.Run("signed downgrade", func(t *testing.T) {
		srv := newBundleServer(t)
		n := newNode(t, pub)
		u := srv.publish("/v1/bundles/vps/1", makeRelease(t, "vps", "v1", 1, true, key))
		a := n.agent(t, grub.A, 5)
		a.Want(u)
		n.waitReboot(t)
	})
}

// TestPowerLossWhileWriting: the node lost power with slot B half
// written. B is marked bad, so the bootloader boots A; the agent on A
// writes B again from the staged bundle, without the server, and
// switches.
func TestPowerLossWhileWriting(t *testing.T) {
	pub, key, _ := ed25519.GenerateKey(nil)
	srv := newBundleServer(t)
	n := newNode(t, pub)
	rel := makeRelease(t, "vps", "v2", 2, false, key)
	u := srv.publish("/v1/bundles/vps/2", rel)
	a := n.agent(t, grub.A, 1)
	a.Want(u)
	n.waitReboot(t)
	n.stop()
	// Undo the switch and tear the slot, as a power cut during the
	// write would have left them.
	rec, err := loadRecord(filepath.Join(n.data, "update"))
	if err != nil {
		t.Fatal(err)
	}
	rec.Phase = phaseWriting
	if err := rec.save(filepath.Join(n.data, "update")); err != nil {
		t.Fatal(err)
	}
	st := state(t, n.boot)
	st.MarkBad(grub.B)
	st.Order = [2]grub.Slot{grub.A, grub.B}
	writeState(t, n.boot, st)
	f, _ := os.OpenFile(n.disk, os.O_RDWR, 0)
	f.WriteAt(make([]byte, 1<<20), slotSize+512<<10)
	f.Close()
	if booted, _ := st.Next(); booted != grub.A {
		t.Fatalf("GRUB would boot %s with B half written", booted)
	}

	// The server is gone meanwhile: the staged bundle is all it needs.
	srv.mu.Lock()
	delete(srv.files, "/v1/bundles/vps/2")
	srv.mu.Unlock()
	fetches := srv.fetches.Load()
	a = n.agent(t, grub.A, 1)
	a.Want(u)
	n.waitReboot(t)
	if srv.fetches.Load() != fetches {
		t.Error("downloaded the staged bundle again")
	}
	v, err := fat.Open(bytes.NewReader(n.slotBytes(t, grub.B)), 0, slotSize)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := v.ReadFile("vmlinuz"); err != nil || !bytes.Equal(got, bytes.Repeat([]byte("kernel v2"), 40000)) {
		t.Errorf("slot B's kernel after the rewrite: %v", err)
	}
	if st := state(t, n.boot); st.Order[0] != grub.B || !st.IsOK(grub.B) {
		t.Errorf("boot state %s", st)
	}
}
