package boot

import (
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestStepsMountForReal runs the default boot steps for real in a private
// mount and UTS namespace, under a temp root, and checks what the kernel
// then shows. devtmpfs is the one exception: it is a single kernel-wide
// instance, so mounting it under the temp root and writing the /dev
// symlinks into it would change the host's /dev. The test mounts a tmpfs
// there instead, and mounts devtmpfs separately, read-only, to see that
// the mount itself works.
func TestStepsMountForReal(t *testing.T) {
	if !inChild(t) {
		root := t.TempDir()
		host, _ := os.Hostname()
		runChild(t, privateNS, "BOOT_TEST_ROOT="+root)
		if h, _ := os.Hostname(); h != host {
			t.Errorf("host's hostname changed from %q to %q", host, h)
		}
		if fstype, _, _ := mountAt(t, filepath.Join(root, "proc")); fstype != "" {
			t.Errorf("the child's %s mount leaked into the host", fstype)
		}
		return
	}
	root := childGetenv(t, "BOOT_TEST_ROOT")
	steps := DefaultSteps(root, "goleudy-test")
	devtmpfs := steps[1].(Mount)
	if devtmpfs.FSType != "devtmpfs" {
		t.Fatalf("step 1 is %v, not the devtmpfs mount", devtmpfs)
	}
	steps[1] = Mount{"tmpfs", devtmpfs.Target, "tmpfs", devtmpfs.Flags, devtmpfs.Data}
	log, lb := newLog(t)
	if err := RunSteps(log, steps); err != nil {
		t.Fatalf("RunSteps: %v\n%s", err, lb)
	}
	for dir, want := range map[string]string{
		"/proc": "proc", "/sys": "sysfs", "/dev": "tmpfs", "/dev/pts": "devpts", "/dev/shm": "tmpfs",
		"/run": "tmpfs", "/tmp": "tmpfs", "/sys/fs/cgroup": "cgroup2",
	} {
		fstype, _, opts := mountAt(t, filepath.Join(root, dir))
		if fstype != want {
			t.Errorf("%s: mounted %q, want %q", dir, fstype, want)
		}
		if dir != "/dev" && opts != "" && !containsOpt(opts, "nosuid") {
			t.Errorf("%s: options %q lack nosuid", dir, opts)
		}
	}
	if _, err := os.Stat(filepath.Join(root, "proc/self/stat")); err != nil {
		t.Errorf("proc is not usable: %v", err)
	}
	if _, err := os.Stat(filepath.Join(root, "sys/class/block")); err != nil {
		t.Errorf("sysfs is not usable: %v", err)
	}
	if _, err := os.Stat(filepath.Join(root, "dev/pts/ptmx")); err != nil {
		t.Errorf("devpts has no ptmx: %v", err)
	}
	for link, want := range map[string]string{"dev/fd": "/proc/self/fd", "dev/stdin": "/proc/self/fd/0",
		"dev/stdout": "/proc/self/fd/1", "dev/stderr": "/proc/self/fd/2", "dev/ptmx": "pts/ptmx"} {
		if got, err := os.Readlink(filepath.Join(root, link)); err != nil || got != want {
			t.Errorf("%s -> %q (%v), want %q", link, got, err, want)
		}
	}
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		t.Fatal(err)
	}
	if h := unix.ByteSliceToString(u.Nodename[:]); h != "goleudy-test" {
		t.Errorf("hostname = %q", h)
	}
	// The child's network namespace is new, so its loopback started down.
	if ifi, err := net.InterfaceByName("lo"); err != nil || ifi.Flags&net.FlagUp == 0 {
		t.Errorf("lo after the steps: %+v, %v; want up", ifi, err)
	} else if l, err := net.Listen("tcp", "127.0.0.1:0"); err != nil {
		t.Errorf("lo is up but 127.0.0.1 does not work: %v", err)
	} else {
		if c, err := net.DialTimeout("tcp", l.Addr().String(), time.Second); err != nil {
			t.Errorf("lo is up but 127.0.0.1 does not answer: %v", err)
		} else {
			c.Close()
		}
		l.Close()
	}
	// Steps are idempotent where a second boot stage might repeat them.
	for _, s := range steps {
		switch s.(type) {
		case Symlink, LinkUp:
			if err := s.Do(); err != nil {
				t.Errorf("%s again: %v", s, err)
			}
		}
	}

	// devtmpfs mounts, read-only so nothing in it can change.
	dev := filepath.Join(root, "devtmpfs")
	m := Mount{"devtmpfs", dev, "devtmpfs", ReadOnly | NoSUID, ""}
	if err := (Dir{dev, 0o755}).Do(); err != nil {
		t.Fatal(err)
	}
	if err := m.Do(); err != nil {
		t.Fatalf("%s: %v", m, err)
	}
	if _, err := os.Stat(filepath.Join(dev, "null")); err != nil {
		t.Errorf("devtmpfs has no null: %v", err)
	}
	if err := unix.Unmount(dev, 0); err != nil {
		t.Error(err)
	}
}
