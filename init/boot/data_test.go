package boot

import (
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/goleudy/goleudy/image/disk"
)

// TestRecreateDataPartition is the recovery path on a disk image built as
// the image builder builds one: the data partition holds garbage, boot
// finds it by its GPT name, sees no filesystem, and recreates ext4 with
// the label. The real e2fsck and dumpe2fs then check the result.
func TestRecreateDataPartition(t *testing.T) {
	image, parts := nodeImage(t)
	sys := newFakeSys(t, "vdb")
	sys.addImage(t, image, parts, extract(t, image))
	found, err := sys.Find(DefaultDataLabel)
	if err != nil {
		t.Fatal(err)
	}
	part := found[0]
	if part.FS.Type != "" {
		t.Fatalf("garbage probed as %+v", part.FS)
	}
	if err := FormatExt4(part.Path, DefaultDataLabel); err != nil {
		t.Fatal(err)
	}
	checkExt4(t, part.Path, DefaultDataLabel)
	found, err = sys.Find(DefaultDataLabel)
	if err != nil || found[0].FS.Type != "ext4" || found[0].FS.Label != DefaultDataLabel {
		t.Errorf("after recreation: %v %v", found, err)
	}
}

// checkExt4 runs e2fsck -fn (forced, read-only) and dumpe2fs -h.
func checkExt4(t *testing.T, path, label string) {
	t.Helper()
	run(t, toolE2fsck, "-fn", path)
	out := run(t, toolDumpe2fs, "-h", path)
	for _, want := range []string{"Filesystem volume name:   " + label + "\n", "Filesystem magic number:  0xEF53",
		"Filesystem state:         clean", "extent", "has_journal"} {
		if !strings.Contains(out, want) {
			t.Errorf("dumpe2fs -h %s lacks %q:\n%s", path, want, out)
		}
	}
}

func TestFormatExt4Sizes(t *testing.T) {
	for _, mib := range []int64{8, 33, 300} {
		t.Run(fmt.Sprintf("%dMiB", mib), func(t *testing.T) {
			p := sizedFile(t, mib<<20)
			garbage(t, p)
			if err := FormatExt4(p, "GOLEUDY-DATA"); err != nil {
				t.Fatal(err)
			}
			checkExt4(t, p, "GOLEUDY-DATA")
		})
	}
}

func TestFormatExt4Errors(t *testing.T) {
	p := sizedFile(t, 8<<20)
	if err := FormatExt4(p, "A-LABEL-OF-17-BYT"); err == nil || !strings.Contains(err.Error(), "over 16 bytes") {
		t.Errorf("long label: %v", err)
	}
	if err := FormatExt4(filepath.Join(t.TempDir(), "nope"), "X"); err == nil || !strings.Contains(err.Error(), "nope") {
		t.Errorf("missing device: %v", err)
	}
	if err := FormatExt4(sizedFile(t, 4096), "X"); err == nil || !strings.Contains(err.Error(), "ext4 (4096 bytes)") {
		t.Errorf("4 KiB device: %v", err)
	}
}

// loopNode returns a device-node maker for fakeSys that attaches each
// partition of image as a loop device and links the node to it. ok turns
// false if losetup fails.
func loopNode(t *testing.T, image string, ok *bool) func(p imagePart, path string) {
	return func(p imagePart, path string) {
		if !*ok {
			return
		}
		dev, attached := attachLoop(t, image, p.start, p.size)
		if !attached {
			*ok = false
			return
		}
		if err := os.Symlink(dev, path); err != nil {
			t.Fatal(err)
		}
	}
}

// TestMountDataForReal mounts the data partition of a disk image through
// loop devices, in a private mount namespace: the first boot recreates
// the filesystem, the second finds what the first wrote, a corrupted
// superblock is recreated, and no partition at all gives a tmpfs.
func TestMountDataForReal(t *testing.T) {
	if !inChild(t) {
		requireRoot(t)
		image, parts := nodeImage(t)
		sys := newFakeSys(t, "vdb")
		ok := true
		sys.addImage(t, image, parts, loopNode(t, image, &ok))
		if !ok {
			return
		}
		dir := t.TempDir()
		runChild(t, privateNS, "BOOT_TEST_SYS="+sys.Sys, "BOOT_TEST_DEV="+sys.Dev, "BOOT_TEST_DIR="+dir)
		// The child unmounted the partition; the kernel's ext4 left it clean.
		dev, err := filepath.EvalSymlinks(filepath.Join(sys.Dev, "vdb2"))
		if err != nil {
			t.Fatal(err)
		}
		checkExt4(t, dev, DefaultDataLabel)
		return
	}
	disks := Disks{Sys: childGetenv(t, "BOOT_TEST_SYS"), Dev: childGetenv(t, "BOOT_TEST_DEV")}
	dir := filepath.Join(childGetenv(t, "BOOT_TEST_DIR"), "data")
	ctx := context.Background()
	log, lb := newLog(t)
	opts := DataOptions{Dir: dir, Disks: disks, Wait: -1, Log: log}

	// First boot: garbage, so a new filesystem.
	d, err := MountData(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	if !d.Persistent || !d.Recreated || d.Dir != dir || d.Device != filepath.Join(disks.Dev, "vdb2") {
		t.Fatalf("first boot: %+v", d)
	}
	if !strings.Contains(lb.String(), "DATA PARTITION HAS NO FILESYSTEM") {
		t.Error("recreation was not logged loudly")
	}
	fstype, _, opts2 := mountAt(t, dir)
	if fstype != "ext4" || !containsOpt(opts2, "noexec") || !containsOpt(opts2, "noatime") {
		t.Errorf("mounted %q %q", fstype, opts2)
	}
	if err := os.WriteFile(filepath.Join(dir, "state.json"), []byte(`{"serial":7}`), 0o600); err != nil {
		t.Fatal(err)
	}
	unmountT(t, dir)

	// Second boot: the state is still there.
	d, err = MountData(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	if !d.Persistent || d.Recreated {
		t.Fatalf("second boot: %+v", d)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "state.json")); err != nil || string(b) != `{"serial":7}` {
		t.Errorf("state after reboot: %q %v", b, err)
	}
	unmountT(t, dir)

	// A superblock that still has its magic but that the kernel refuses:
	// zero inodes.
	corruptInodeCount(t, d.Device)
	d, err = MountData(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	if !d.Persistent || !d.Recreated {
		t.Fatalf("corrupt superblock: %+v", d)
	}
	if !strings.Contains(lb.String(), "DATA PARTITION DOES NOT MOUNT: recreating ext4") {
		t.Error("corruption was not logged loudly")
	}
	if _, err := os.Stat(filepath.Join(dir, "state.json")); !os.IsNotExist(err) {
		t.Errorf("state survived recreation: %v", err)
	}
	unmountT(t, dir)

	// No partition with the label: a tmpfs, said loudly.
	opts.Label = "NOSUCH"
	d, err = MountData(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	if d.Persistent || d.Recreated || d.Device != "" {
		t.Fatalf("no partition: %+v", d)
	}
	if fstype, _, _ := mountAt(t, dir); fstype != "tmpfs" {
		t.Errorf("no partition: mounted %q", fstype)
	}
	if !strings.Contains(lb.String(), "NO DATA PARTITION: node state lives in RAM") {
		t.Error("tmpfs fallback was not logged loudly")
	}
	unmountT(t, dir)
}

// corruptInodeCount zeroes s_inodes_count, which ext4 refuses to mount
// (EINVAL) though the magic is intact.
func corruptInodeCount(t *testing.T, dev string) {
	t.Helper()
	f, err := os.OpenFile(dev, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt(binary.LittleEndian.AppendUint32(nil, 0), extSuper); err != nil {
		t.Fatal(err)
	}
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
}

func unmountT(t *testing.T, dir string) {
	t.Helper()
	if err := unmount(dir); err != nil {
		t.Fatalf("umount %s: %v", dir, err)
	}
}

// TestMountDataFirstBoot boots twice from an MBR image as the image
// builder makes it, through loop devices in a private mount namespace:
// the first boot finds the data partition by its marker (an MBR has no
// partition names), formats it and says so as a first boot, not as lost
// state; the second finds ext4 and what the first wrote.
func TestMountDataFirstBoot(t *testing.T) {
	if !inChild(t) {
		requireRoot(t)
		image, parts := builtImage(t, disk.MBR)
		sys := newFakeSys(t, "mmcblk0p")
		ok := true
		sys.addImage(t, image, parts, loopNode(t, image, &ok))
		if !ok {
			return
		}
		dir := t.TempDir()
		runChild(t, privateNS, "BOOT_TEST_SYS="+sys.Sys, "BOOT_TEST_DEV="+sys.Dev, "BOOT_TEST_DIR="+dir)
		dev, err := filepath.EvalSymlinks(filepath.Join(sys.Dev, "mmcblk0p4"))
		if err != nil {
			t.Fatal(err)
		}
		checkExt4(t, dev, DefaultDataLabel)
		// The boot partition was left alone.
		if fs := probeFile(t, filepath.Join(sys.Dev, "mmcblk0p1")); fs.Type != "vfat" || fs.Label != "GOLEUDYBOOT" {
			t.Errorf("boot partition after first boot: %+v", fs)
		}
		return
	}
	disks := Disks{Sys: childGetenv(t, "BOOT_TEST_SYS"), Dev: childGetenv(t, "BOOT_TEST_DEV")}
	dir := filepath.Join(childGetenv(t, "BOOT_TEST_DIR"), "data")
	ctx := context.Background()
	log, lb := newLog(t)
	opts := DataOptions{Dir: dir, Disks: disks, Wait: -1, Log: log}

	d, err := MountData(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	if !d.Persistent || !d.FirstBoot || d.Recreated || d.Device != filepath.Join(disks.Dev, "mmcblk0p4") {
		t.Fatalf("first boot: %+v", d)
	}
	logs := lb.String()
	if !strings.Contains(logs, `"msg":"first boot: formatting the data partition ext4"`) || !strings.Contains(logs, `"level":"INFO"`) {
		t.Errorf("first boot not logged as such:\n%s", logs)
	}
	if strings.Contains(logs, `"level":"ERROR"`) || strings.Contains(logs, "HAS NO FILESYSTEM") {
		t.Errorf("first boot logged as an error:\n%s", logs)
	}
	if fstype, _, _ := mountAt(t, dir); fstype != "ext4" {
		t.Errorf("first boot mounted %q", fstype)
	}
	if err := os.WriteFile(filepath.Join(dir, "state.json"), []byte(`{"serial":1}`), 0o600); err != nil {
		t.Fatal(err)
	}
	unmountT(t, dir)

	d, err = MountData(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	if !d.Persistent || d.FirstBoot || d.Recreated {
		t.Fatalf("second boot: %+v", d)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "state.json")); err != nil || string(b) != `{"serial":1}` {
		t.Errorf("state after reboot: %q %v", b, err)
	}
	unmountT(t, dir)
}

// TestMountDataFirstBootFormatFails: a marked partition that cannot be
// formatted (here: too small for ext4) leaves the node on a tmpfs, said
// at error level.
func TestMountDataFirstBootFormatFails(t *testing.T) {
	if !inChild(t) {
		requireRoot(t)
		sys := newFakeSys(t, "vdc")
		p := filepath.Join(sys.Dev, "vdc1")
		if err := os.WriteFile(p, dataMarker(), 0o600); err != nil {
			t.Fatal(err)
		}
		sys.add(t, "vdc1", 4096, "DEVTYPE=partition", "PARTN=1")
		runChild(t, privateNS, "BOOT_TEST_SYS="+sys.Sys, "BOOT_TEST_DEV="+sys.Dev, "BOOT_TEST_DIR="+t.TempDir())
		return
	}
	disks := Disks{Sys: childGetenv(t, "BOOT_TEST_SYS"), Dev: childGetenv(t, "BOOT_TEST_DEV")}
	dir := filepath.Join(childGetenv(t, "BOOT_TEST_DIR"), "data")
	log, lb := newLog(t)
	d, err := MountData(context.Background(), DataOptions{Dir: dir, Disks: disks, Wait: -1, Log: log})
	if err != nil {
		t.Fatal(err)
	}
	if d.Persistent || d.FirstBoot {
		t.Errorf("unformattable partition: %+v", d)
	}
	if !strings.Contains(lb.String(), "data partition not formatted: node state lives in RAM") {
		t.Errorf("failure not logged:\n%s", lb)
	}
	unmountT(t, dir)
}
