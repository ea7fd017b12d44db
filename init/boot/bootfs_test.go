package boot

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

func TestMountBootErrors(t *testing.T) {
	ctx := context.Background()
	image := filepath.Join(t.TempDir(), "disk.img")
	parts := buildImage(t, image, []partSpec{{name: DefaultBootLabel, size: 8 << 20, content: garbage}})
	sys := newFakeSys(t, "vdb")
	sys.addImage(t, image, parts, extract(t, image))
	for _, tc := range []struct {
		opts BootOptions
		want string
	}{
		{BootOptions{Seed: "../etc/shadow"}, `seed file "../etc/shadow" must be a relative path`},
		{BootOptions{Seed: "/seed.json"}, `seed file "/seed.json" must be a relative path`},
		{BootOptions{Label: "NOSUCH"}, `no block device with that label "NOSUCH"`},
		{BootOptions{}, `boot partition vdb1 partlabel="GOLEUDY-BOOT": no filesystem this node can read`},
	} {
		tc.opts.Disks, tc.opts.Wait, tc.opts.Dir = sys.Disks, -1, filepath.Join(t.TempDir(), "boot")
		_, err := MountBoot(ctx, tc.opts)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("MountBoot(%+v) = %v, want %q", tc.opts, err, tc.want)
		}
	}
}

// TestMountBootVFAT finds the FAT boot partition and mounts it read-only
// as vfat. The device is a plain file, which mount(2) refuses, so this
// checks the mount that boot asks for, not that it succeeds.
func TestMountBootVFAT(t *testing.T) {
	image, parts := nodeImage(t)
	sys := newFakeSys(t, "vdb")
	sys.addImage(t, image, parts, extract(t, image))
	_, err := MountBoot(context.Background(), BootOptions{Disks: sys.Disks, Wait: -1, Dir: filepath.Join(t.TempDir(), "boot")})
	want := "mount -t vfat -o ro,nosuid,nodev,noexec " + filepath.Join(sys.Dev, "vdb1")
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("MountBoot = %v, want a failed %q", err, want)
	}
}

// TestMountBootForReal mounts a boot partition made by the real mkfs.ext4
// (the kernel here has no vfat) through a loop device, in a private mount
// namespace, and finds the seed file on it.
func TestMountBootForReal(t *testing.T) {
	if !inChild(t) {
		requireRoot(t)
		image := filepath.Join(t.TempDir(), "disk.img")
		parts := buildImage(t, image, []partSpec{
			{name: DefaultBootLabel, size: 16 << 20},
			{name: "", size: 16 << 20, content: ext4Labelled("NOSEED")},
		})
		sys := newFakeSys(t, "vdb")
		ok := true
		sys.addImage(t, image, parts, loopNode(t, image, &ok))
		if !ok {
			return
		}
		src := t.TempDir()
		os.MkdirAll(filepath.Join(src, "goleudy"), 0o755)
		os.WriteFile(filepath.Join(src, "goleudy", "seed.json"), []byte(`{"node":"lab"}`), 0o644)
		run(t, toolMkfsExt4, "-q", "-F", "-L", DefaultBootLabel, "-d", src, filepath.Join(sys.Dev, "vdb1"))
		runChild(t, privateNS, "BOOT_TEST_SYS="+sys.Sys, "BOOT_TEST_DEV="+sys.Dev, "BOOT_TEST_DIR="+t.TempDir())
		return
	}
	disks := Disks{Sys: childGetenv(t, "BOOT_TEST_SYS"), Dev: childGetenv(t, "BOOT_TEST_DEV")}
	dir := filepath.Join(childGetenv(t, "BOOT_TEST_DIR"), "boot")
	log, lb := newLog(t)
	bp, err := MountBoot(context.Background(), BootOptions{Disks: disks, Wait: -1, Dir: dir, Log: log})
	if err != nil {
		t.Fatal(err)
	}
	want := BootPartition{Dir: dir, Device: filepath.Join(disks.Dev, "vdb1"), FSType: "ext4",
		Seed: filepath.Join(dir, "goleudy", "seed.json")}
	if bp != want {
		t.Errorf("MountBoot = %+v, want %+v", bp, want)
	}
	if b, err := os.ReadFile(bp.Seed); err != nil || string(b) != `{"node":"lab"}` {
		t.Errorf("seed: %q %v", b, err)
	}
	if _, _, opts := mountAt(t, dir); !containsOpt(opts, "ro") {
		t.Errorf("mounted %q, not read-only", opts)
	}
	if err := os.WriteFile(filepath.Join(dir, "x"), nil, 0o644); !errors.Is(err, syscall.EROFS) {
		t.Errorf("write to the boot partition: %v, want EROFS", err)
	}
	unmountT(t, dir)

	bp, err = MountBoot(context.Background(), BootOptions{Label: "NOSEED", Disks: disks, Wait: -1, Dir: dir, Log: log})
	if err != nil {
		t.Fatal(err)
	}
	if bp.Seed != "" || !strings.Contains(lb.String(), "it has no seed file") {
		t.Errorf("no seed: %+v", bp)
	}
	unmountT(t, dir)
}
