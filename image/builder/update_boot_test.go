package builder

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/goleudy/goleudy/image/bundle"
	"github.com/goleudy/goleudy/image/disk"
	"github.com/goleudy/goleudy/provision/api"
	"github.com/goleudy/goleudy/provision/envelope"
	"github.com/goleudy/goleudy/services/bgp"
	"github.com/goleudy/goleudy/tools/lab"
)

// The update system tests boot the vps image (release v1) under QEMU with
// `goleudy serve`, NSD and BIRD around it, and drive updates the way an
// operator does: publish a bundle, start a rollout, watch the node.
//
//  1. v2 is offered: the node downloads it over the tunnel, writes the
//     other slot, reboots into it, commits and reports v2.
//  2. v3's init never gets going (it exits: the kernel panics): the node
//     comes back on v2 by itself and reports the rollback; the rollout
//     halts.
//  3. v4 is offered and the power is cut while the slot is being written:
//     the node boots v2 and writes again, then runs v4.
//  4. A corrupted bundle and a wrongly signed one are refused, and neither
//     slot changes.
//  5. A downgrade to v1 is refused.
//
// Both firmwares run all five: GRUB-EFI and GRUB i386-pc keep the state
// in the same grubenv, but each has its own path to it.

// TestUpdateUEFI runs the five cases on the vps board under OVMF.
func TestUpdateUEFI(t *testing.T) {
	bootBoard(t, "vps", []lab.Tool{lab.ToolQEMUx86}, func(t *testing.T, l *bootLab) { l.updates(t, lab.FirmwareOVMF) })
}

// TestUpdateBIOS runs the five cases on the vps board under SeaBIOS.
func TestUpdateBIOS(t *testing.T) {
	bootBoard(t, "vps", []lab.Tool{lab.ToolQEMUx86}, func(t *testing.T, l *bootLab) { l.updates(t, lab.FirmwareSeaBIOS) })
}

// writeBPS slows the guest's disk writes enough that case 3 can cut the
// power in the middle of writing a ~20 MiB slot.
const writeBPS = 2 << 20

func (l *bootLab) updates(t *testing.T, firmware string) {
	top := t // the VMs live as long as the whole test, not a subtest
	b := l.b
	start := func(t *testing.T) *lab.VM {
		return lab.StartQEMU(t, lab.QEMU{Arch: "x86_64", Machine: b.QEMU.Machine, CPU: b.QEMU.CPU, Firmware: firmware,
			Memory: fmt.Sprintf("%dM", b.QEMU.MemoryMiB), Disk: l.r.Image, DiskBus: lab.DiskVirtio,
			DiskWriteBPS: writeBPS, Timeout: 20 * time.Minute, NICs: l.nics(b.QEMU.NIC)})
	}
	l.publish(t, l.r.Bundle)
	vm := start(t)
	vm.WaitLine(t, "goleudy-grub: booting slot A", 90*time.Second)
	waitReady(t, vm, b.Name, firmware, 3*time.Minute)
	l.served(t, vm)

	if !t.Run("v2 commits", func(t *testing.T) {
		l.publish(t, l.release(t, "v2", 2, ""))
		began := l.rollout(t, "v2")
		vm.WaitLine(t, `"msg":"update offered"`, time.Minute)
		vm.WaitLine(t, `"msg":"rebooting into the new slot for a trial boot"`, 5*time.Minute)
		vm.WaitLine(t, "goleudy-grub: booting slot B", 2*time.Minute)
		vm.WaitLine(t, `"version":"v2"`, 2*time.Minute)
		vm.WaitLine(t, readyLine, 3*time.Minute)
		vm.WaitLine(t, `"msg":"update committed"`, time.Minute)
		took := time.Since(began)
		var steps []string
		offered, _ := vm.Elapsed(`"msg":"update offered"`)
		for _, step := range []string{"bundle downloaded", "slot written and verified", "rebooting into the new slot", "update committed"} {
			at, _ := vm.Elapsed(`"msg":"` + step)
			steps = append(steps, fmt.Sprintf("%s +%v", step, (at-offered).Round(100*time.Millisecond)))
		}
		t.Logf("FIGURE %s %s update steps after the offer: %s (the drain holds the prefixes %v before the reboot)",
			b.Name, firmware, strings.Join(steps, ", "), bgp.DefaultDrainPeriod)
		r := l.waitRollout(t, "v2", func(r api.Rollout) bool { return r.Phase == "done" })
		t.Logf("FIGURE %s %s update: rollout start → v2 committed on the node %v, → rollout done at the server %v",
			b.Name, firmware, took.Round(time.Millisecond), time.Since(began).Round(time.Millisecond))
		if r.Targets[0].State != api.UpdateCommitted {
			t.Errorf("rollout target %+v", r.Targets[0])
		}
		l.served(t, vm)
	}) {
		return
	}
	if !t.Run("broken v3 rolls back", func(t *testing.T) {
		l.publish(t, l.release(t, "v3", 3, l.brokenInit(t)))
		l.rollout(t, "v3")
		vm.WaitLine(t, `"msg":"rebooting into the new slot for a trial boot"`, 5*time.Minute)
		switched := time.Now()
		vm.WaitLine(t, "goleudy-grub: booting slot A", 2*time.Minute)
		vm.WaitLine(t, "goleudy-test: a broken init", 2*time.Minute)
		vm.WaitLine(t, "Kernel panic", time.Minute)
		vm.WaitLine(t, "goleudy-grub: booting slot B", 2*time.Minute)
		vm.WaitLine(t, readyLine, 3*time.Minute)
		line := vm.WaitLine(t, `"msg":"update rolled back"`, time.Minute)
		t.Logf("FIGURE %s %s update: trial reboot into broken v3 → back on v2 and rollback reported %v",
			b.Name, firmware, time.Since(switched).Round(time.Millisecond))
		if !strings.Contains(line, `"build":3`) {
			t.Errorf("rollback line: %s", line)
		}
		r := l.waitRollout(t, "v3", func(r api.Rollout) bool { return r.Phase == "halted" })
		if r.Halt == nil || !strings.Contains(r.Halt.Reason, "did not become healthy") {
			t.Errorf("halt %+v; want the node's rollback reason", r.Halt)
		}
		l.served(t, vm)
	}) {
		return
	}
	if !t.Run("power cut while writing", func(t *testing.T) {
		l.publish(t, l.release(t, "v4", 4, ""))
		l.rollout(t, "v4")
		vm.WaitLine(t, `"msg":"writing slot"`, 5*time.Minute)
		// The power goes: QEMU dies at once, mid-write (writes are
		// throttled to writeBPS, the slot is ~20 MiB).
		if err := vm.Kill(); err != nil {
			t.Fatal(err)
		}
		vm = start(top)
		vm.WaitLine(t, "goleudy-grub: booting slot B", 2*time.Minute)
		vm.WaitLine(t, `"version":"v2"`, 2*time.Minute)
		vm.WaitLine(t, `"msg":"writing slot"`, 3*time.Minute)
		vm.WaitLine(t, `"msg":"rebooting into the new slot for a trial boot"`, 5*time.Minute)
		vm.WaitLine(t, "goleudy-grub: booting slot A", 2*time.Minute)
		vm.WaitLine(t, `"version":"v4"`, 2*time.Minute)
		vm.WaitLine(t, `"msg":"update committed"`, 5*time.Minute)
		l.waitRollout(t, "v4", func(r api.Rollout) bool { return r.Phase == "done" })
		l.served(t, vm)
	}) {
		return
	}
	if !t.Run("bad bundles refused", func(t *testing.T) {
		slots := l.slotSums(t)
		v5 := l.release(t, "v5", 5, "")
		l.publish(t, v5)
		// The stored bundle rots after it was published.
		stored := filepath.Join(l.data, "releases", b.Name, "5.bundle")
		data, err := os.ReadFile(stored)
		if err != nil {
			t.Fatal(err)
		}
		data[len(data)-4096] ^= 0xFF
		if err := os.WriteFile(stored, data, 0o644); err != nil {
			t.Fatal(err)
		}
		l.rollout(t, "v5")
		line := vm.WaitLine(t, `"msg":"update refused"`, 5*time.Minute)
		if !strings.Contains(line, "does not match the manifest") {
			t.Errorf("corrupted bundle: %s", line)
		}
		l.waitRollout(t, "v5", func(r api.Rollout) bool { return r.Phase == "halted" })

		// Someone with another key swaps the stored bundle for theirs.
		v6 := l.release(t, "v6", 6, "")
		l.publish(t, v6)
		_, rogue, _ := ed25519.GenerateKey(nil)
		if err := os.WriteFile(filepath.Join(l.data, "releases", b.Name, "6.bundle"), resign(t, v6, rogue), 0o644); err != nil {
			t.Fatal(err)
		}
		l.rollout(t, "v6")
		line = vm.WaitLine(t, `"msg":"update refused"`, 5*time.Minute)
		if !strings.Contains(line, "manifest") {
			t.Errorf("wrongly signed bundle: %s", line)
		}
		l.waitRollout(t, "v6", func(r api.Rollout) bool { return r.Phase == "halted" })
		if got := l.slotSums(t); got != slots {
			t.Errorf("a refused bundle touched a slot: %v, was %v", got, slots)
		}
	}) {
		return
	}
	t.Run("downgrade refused", func(t *testing.T) {
		slots := l.slotSums(t)
		l.rollout(t, "v1")
		line := vm.WaitLine(t, `"msg":"update refused"`, 5*time.Minute)
		if !strings.Contains(line, "lower than the running build 4") {
			t.Errorf("downgrade: %s", line)
		}
		if got := l.slotSums(t); got != slots {
			t.Errorf("a refused downgrade touched a slot")
		}
		l.served(t, vm)
	})
}

// release builds release version (build number build) of the lab's board
// and returns its bundle; node, if set, is the /init to put in it.
func (l *bootLab) release(t *testing.T, version string, build uint64, node string) string {
	t.Helper()
	dir := t.TempDir()
	seed := []byte(`{"node_id":"unused","enroll_url":"http://192.0.2.1/","server_key":"x","token":"t","trust":[]}`)
	r, err := Build(context.Background(), Options{Board: l.b, Seed: seed, Version: version, Build: build,
		Epoch: time.Unix(1763683200, 0), Out: filepath.Join(dir, "image.img"), Bundle: filepath.Join(dir, version+".bundle"),
		ReleaseKeys: []ed25519.PrivateKey{l.releaseKey}, Fetcher: boardFetcher(t, l.b), ModuleRoot: l.root,
		NodeBinary: node, Emulated: true, WorkDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	os.Remove(r.Image) // only the bundle is wanted
	return r.Bundle
}

// brokenInit is an /init that says so and exits, as a release whose
// init never gets going: the kernel panics, and panic=10 reboots.
func (l *bootLab) brokenInit(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	src := filepath.Join(dir, "main.go")
	os.WriteFile(src, []byte("package main\n\nfunc main() { println(\"goleudy-test: a broken init, exiting\") }\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module brokeninit\n\ngo 1.26\n"), 0o644)
	bin := filepath.Join(dir, "init")
	cmd := exec.Command("go", "build", "-o", bin, ".")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOOS=linux", "GOARCH="+l.b.GOARCH, "GOARM="+l.b.GOARM, "CGO_ENABLED=0", "GOFLAGS=", "GOWORK=off")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building the broken init: %v\n%s", err, out)
	}
	return bin
}

// publish publishes a bundle through the operator API.
func (l *bootLab) publish(t *testing.T, file string) {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	st, _ := f.Stat()
	rel, err := l.cl.PublishRelease(context.Background(), f, st.Size())
	if err != nil {
		t.Fatalf("publish %s: %v", file, err)
	}
	t.Logf("published %s build %d (%d bytes)", rel.Version, rel.Build, st.Size())
}

// rollout starts a rollout of version to the lab's one node, and says
// when.
func (l *bootLab) rollout(t *testing.T, version string) time.Time {
	t.Helper()
	began := time.Now()
	r, err := l.cl.StartRollout(context.Background(), api.RolloutRequest{Version: version, Canary: 1})
	if err != nil {
		t.Fatalf("rollout start %s: %v", version, err)
	}
	if len(r.Targets) != 1 {
		t.Fatalf("rollout of %s targets %+v, skips %+v; want the one node", version, r.Targets, r.Skipped)
	}
	return began
}

// waitRollout polls the rollout of version until done says so.
func (l *bootLab) waitRollout(t *testing.T, version string, done func(api.Rollout) bool) api.Rollout {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	var r api.Rollout
	var err error
	for time.Now().Before(deadline) {
		if r, err = l.cl.Rollout(context.Background()); err == nil && r.Version == version && done(r) {
			return r
		}
		time.Sleep(250 * time.Millisecond)
	}
	t.Fatalf("rollout of %s: %+v (%v)", version, r, err)
	return r
}

// slotSums hashes both slot partitions of the image.
func (l *bootLab) slotSums(t *testing.T) [2][32]byte {
	t.Helper()
	var out [2][32]byte
	for i, n := range []int{2, 3} {
		off, size, err := disk.PartitionOffset(l.r.Image, n)
		if err != nil {
			t.Fatal(err)
		}
		f, err := os.Open(l.r.Image)
		if err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, size)
		_, err = f.ReadAt(buf, off)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		out[i] = sha256.Sum256(buf)
	}
	return out
}

// resign is the bundle in file with its manifest signed by key instead.
func resign(t *testing.T, file string, key ed25519.PrivateKey) []byte {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	h, err := bundle.ReadHeader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	e, payload, err := envelope.Parse(h.Envelope)
	if err != nil {
		t.Fatal(err)
	}
	env, err := envelope.Sign(e.PayloadType, payload, key)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	out.WriteString(bundle.Magic)
	binary.Write(&out, binary.BigEndian, uint32(len(env)))
	out.Write(env)
	out.Write(data[h.Offset:])
	return out.Bytes()
}
