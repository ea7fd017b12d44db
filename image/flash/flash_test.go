package flash

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func image(t *testing.T, size int) (string, []byte) {
	t.Helper()
	data := make([]byte, size)
	rand.Read(data)
	f := filepath.Join(t.TempDir(), "node.img")
	if err := os.WriteFile(f, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return f, data
}

// loop attaches a file of size bytes as a loop device, detached when the
// test ends. Root only; the test fails without it.
func loop(t *testing.T, size int64) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatal("flash tests need root for loop devices")
	}
	back := filepath.Join(t.TempDir(), "card")
	if err := os.WriteFile(back, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(back, size); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("losetup", "--find", "--show", back).CombinedOutput()
	if err != nil {
		t.Fatalf("losetup (util-linux): %v %s", err, out)
	}
	dev := strings.TrimSpace(string(out))
	t.Cleanup(func() { exec.Command("losetup", "-d", dev).Run() })
	return dev
}

func TestWriteAndVerifyLoopDevice(t *testing.T) {
	img, data := image(t, 9<<20+123)
	dev := loop(t, 16<<20)
	var phases []string
	res, err := Write(context.Background(), img, dev, Options{Progress: func(p string, done, total int64) {
		if done == total {
			phases = append(phases, p)
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Bytes != int64(len(data)) || res.DeviceCapacity != 16<<20 || strings.Join(phases, ",") != "write,verify" {
		t.Fatalf("result %+v, phases %v", res, phases)
	}
	got := make([]byte, len(data))
	f, _ := os.Open(dev)
	defer f.Close()
	if _, err := f.ReadAt(got, 0); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("device does not hold the image: %v", err)
	}
	t.Logf("wrote %d bytes in %v, verified in %v", res.Bytes, res.Write, res.Verify)
}

func TestRefusals(t *testing.T) {
	img, _ := image(t, 8<<20)
	small := loop(t, 4<<20)
	if _, err := Write(context.Background(), img, small, Options{}); !errors.Is(err, ErrTooSmall) {
		t.Errorf("small device: %v", err)
	}
	file := filepath.Join(t.TempDir(), "not-a-disk")
	os.WriteFile(file, nil, 0o644)
	if _, err := Write(context.Background(), img, file, Options{}); !errors.Is(err, ErrNotBlock) {
		t.Errorf("regular file: %v", err)
	}
	if _, err := Write(context.Background(), img, "/dev/null", Options{}); !errors.Is(err, ErrNotBlock) {
		t.Errorf("char device: %v", err)
	}

	// A device with a mounted filesystem, or that the system runs from, is
	// refused and left as it was: mountinfo says so by major:minor.
	dev := loop(t, 16<<20)
	before, _ := os.ReadFile(dev)
	proc := t.TempDir()
	os.MkdirAll(filepath.Join(proc, "self"), 0o755)
	maj, min := devNumbers(t, dev)
	os.WriteFile(filepath.Join(proc, "self", "mountinfo"),
		[]byte("22 1 "+maj+":"+min+" / / rw,relatime shared:1 - ext4 "+dev+" rw\n"), 0o644)
	_, err := Write(context.Background(), img, dev, Options{Proc: proc})
	if !errors.Is(err, ErrInUse) || !strings.Contains(err.Error(), "running system") {
		t.Errorf("system disk: %v", err)
	}
	os.WriteFile(filepath.Join(proc, "self", "mountinfo"), nil, 0o644)
	os.WriteFile(filepath.Join(proc, "swaps"), []byte("Filename Type Size Used Priority\n"+dev+" partition 1 0 -2\n"), 0o644)
	if _, err := Write(context.Background(), img, dev, Options{Proc: proc}); !errors.Is(err, ErrInUse) || !strings.Contains(err.Error(), "swap") {
		t.Errorf("swap: %v", err)
	}
	after, _ := os.ReadFile(dev)
	if !bytes.Equal(before, after) {
		t.Errorf("a refused device was written")
	}

	// The real mount table: mount an ext4 made on the loop device.
	if out, err := exec.Command("mkfs.ext4", "-q", "-F", dev).CombinedOutput(); err != nil {
		t.Fatalf("mkfs.ext4 (e2fsprogs): %v %s", err, out)
	}
	mnt := t.TempDir()
	if out, err := exec.Command("mount", dev, mnt).CombinedOutput(); err != nil {
		t.Fatalf("mount: %v %s", err, out)
	}
	defer exec.Command("umount", mnt).Run()
	if _, err := Write(context.Background(), img, dev, Options{}); !errors.Is(err, ErrInUse) || !strings.Contains(err.Error(), "mounted on "+mnt) {
		t.Errorf("mounted: %v", err)
	}
}

func devNumbers(t *testing.T, dev string) (string, string) {
	t.Helper()
	out, err := exec.Command("stat", "-L", "-c", "%Hr %Lr", dev).Output()
	if err != nil {
		t.Fatal(err)
	}
	f := strings.Fields(string(out))
	return f[0], f[1]
}
