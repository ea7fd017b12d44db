package boot

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestRunNeedsLogger(t *testing.T) {
	if _, err := Run(context.Background(), Options{}); err == nil {
		t.Error("Run without a logger")
	}
}

func TestRunStopsAtFailedStep(t *testing.T) {
	log, _ := newLog(t)
	var ran []string
	boom := errors.New("boom")
	sys, err := Run(context.Background(), Options{Log: log, Steps: []Step{
		fakeStep{"mount -t proc proc /proc", boom, &ran}, fakeStep{"after", nil, &ran},
	}})
	var se *StepError
	if sys != nil || !errors.As(err, &se) || se.Step.String() != "mount -t proc proc /proc" {
		t.Fatalf("Run = %v, %v", sys, err)
	}
	if !slices.Equal(ran, []string{"mount -t proc proc /proc"}) {
		t.Errorf("ran %v", ran)
	}
}

// touch is a boot step a test adds: it makes a plain file, standing in for
// a device node that devtmpfs would have.
type touch struct{ path string }

func (s touch) String() string { return "touch " + s.path }
func (s touch) Do() error      { return os.WriteFile(s.path, nil, 0o600) }

// TestRunForReal boots for real, in a private mount and UTS namespace:
// pseudo-filesystems under a temp root, modules from a fake tree, a fake
// watchdog, and boot and data partitions of a GPT disk image attached as
// loop devices. Then it shuts down through Power, with the kernel's
// reboot(2) replaced.
func TestRunForReal(t *testing.T) {
	if !inChild(t) {
		requireRoot(t)
		image := filepath.Join(t.TempDir(), "disk.img")
		parts := buildImage(t, image, []partSpec{
			{name: DefaultBootLabel, size: 16 << 20},
			{name: DefaultDataLabel, size: 32 << 20, content: garbage},
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
		runChild(t, privateNS, "BOOT_TEST_SYS="+sys.Sys, "BOOT_TEST_DEV="+sys.Dev, "BOOT_TEST_ROOT="+t.TempDir())
		return
	}
	root := childGetenv(t, "BOOT_TEST_ROOT")
	disks := Disks{Sys: childGetenv(t, "BOOT_TEST_SYS"), Dev: childGetenv(t, "BOOT_TEST_DEV")}
	steps := DefaultSteps(root, "goleudy-run")
	steps[1] = Mount{"tmpfs", filepath.Join(root, "dev"), "tmpfs", NoSUID, "mode=0755"} // see TestStepsMountForReal
	steps = append(steps, touch{filepath.Join(root, "dev/console")}, touch{filepath.Join(root, "dev/kmsg")})
	mods := moduleTree(t)
	var loaded []string
	mods.Load = func(path string) error { loaded = append(loaded, ModuleName(path)); return nil }
	log, lb := newLog(t)

	sys, err := Run(context.Background(), Options{
		Hostname:      "goleudy-run",
		Modules:       []string{"e1000e", "virtio_net", "nosuch"},
		ModuleOptions: mods,
		DataDir:       filepath.Join(root, "data"),
		BootDir:       filepath.Join(root, "boot"),
		DeviceWait:    -1,
		Disks:         disks,
		Watchdog:      fakeWatchdog(t),
		Root:          root,
		Steps:         steps,
		Reap:          true,
		Log:           log,
	})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	defer sys.Close()

	if sys.DataDir() != filepath.Join(root, "data") || !sys.Data.Persistent || !sys.Data.Recreated {
		t.Errorf("data = %+v", sys.Data)
	}
	if sys.Seed() != filepath.Join(root, "boot/goleudy/seed.json") {
		t.Errorf("seed = %q", sys.Seed())
	}
	if fstype, _, _ := mountAt(t, filepath.Join(root, "data")); fstype != "ext4" {
		t.Errorf("data mounted %q", fstype)
	}
	if fstype, _, _ := mountAt(t, filepath.Join(root, "proc")); fstype != "proc" {
		t.Errorf("proc mounted %q", fstype)
	}
	if !slices.Equal(loaded, []string{"pps_core", "ptp", "e1000e"}) {
		t.Errorf("modules loaded: %v", loaded)
	}
	if sys.Watchdog == nil || sys.Watchdog.Pets() == 0 {
		t.Error("watchdog not armed")
	}
	if sys.Reaper == nil {
		t.Error("no reaper")
	}
	if sys.Console == nil {
		t.Fatal("no console")
	}
	fmt.Fprintln(sys.Console, "goleudy: ready")
	if b, _ := os.ReadFile(filepath.Join(root, "dev/console")); string(b) != "goleudy: ready\n" {
		t.Errorf("console got %q", b)
	}
	for _, s := range []string{`"msg":"boot steps done"`, `"msg":"unknown module; skipped","part":"modules","module":"nosuch"`,
		`"msg":"DATA PARTITION HAS NO FILESYSTEM`, `"msg":"watchdog armed"`, `"msg":"boot partition mounted"`} {
		if !strings.Contains(lb.String(), s) {
			t.Errorf("log lacks %s", s)
		}
	}

	// The admin service's reboot: both partitions unmounted, the
	// watchdog left armed, then reboot(2).
	k := &fakeKernel{}
	sys.Power.kernel = k.reboot
	if err := sys.Power.Reboot(); err != nil {
		t.Fatal(err)
	}
	for _, dir := range []string{"data", "boot"} {
		if fstype, _, _ := mountAt(t, filepath.Join(root, dir)); fstype != "" {
			t.Errorf("%s still mounted (%s) at reboot", dir, fstype)
		}
	}
	if !slices.Equal(k.calls, []powerCmd{cmdRestart}) {
		t.Errorf("kernel calls: %v", k.calls)
	}
	if err := sys.Close(); err != nil {
		t.Fatal(err)
	}
	sys.Close()
}
