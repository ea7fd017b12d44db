package grub_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/goleudy/goleudy/image/grub"
	"github.com/goleudy/goleudy/tools/lab"
)

// These helpers make small disk images with Debian's sfdisk, mkfs.fat and
// mtools, so the GRUB tests do not depend on the image builder's own
// partition and FAT writers (image/disk, image/fat), which are tested on
// their own.

var (
	toolSfdisk = lab.Tool{Name: "sfdisk", Package: "fdisk"}
	toolMkfat  = lab.Tool{Name: "mkfs.fat", Package: "dosfstools"}
	toolMcopy  = lab.Tool{Name: "mcopy", Package: "mtools"}
	toolMmd    = lab.Tool{Name: "mmd", Package: "mtools"}
)

// The test layout in 512-byte sectors: the shared decision's four
// partitions (boot, A, B, data) plus, on GPT, a BIOS boot partition in the
// gap before the first one, as partition 5.
const (
	bootStart, bootSectors = 2048, 131072 // 64 MiB FAT32
	aStart, slotSectors    = 133120, 32768
	bStart                 = 165888
	dataStart, dataSectors = 198656, 16384
	biosStart, biosSectors = 34, 2014
	diskSectors            = dataStart + dataSectors + 2048
)

type testDisk struct {
	path  string
	table string
}

// makeDisk writes a partitioned image with a FAT32 boot partition holding
// files, and FAT slot partitions A and B holding a dummy kernel and
// initramfs.
func makeDisk(t *testing.T, table string, files map[string][]byte) testDisk {
	t.Helper()
	lab.Require(t, toolSfdisk, toolMkfat, toolMcopy, toolMmd)
	d := testDisk{path: filepath.Join(t.TempDir(), "disk-"+table+".img"), table: table}
	f, err := os.Create(d.path)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(diskSectors * 512); err != nil {
		t.Fatal(err)
	}
	f.Close()

	var script string
	switch table {
	case "mbr":
		script = fmt.Sprintf("label: dos\nlabel-id: 0x474f4c45\n"+
			"start=%d, size=%d, type=c\nstart=%d, size=%d, type=c\nstart=%d, size=%d, type=c\nstart=%d, size=%d, type=83\n",
			bootStart, bootSectors, aStart, slotSectors, bStart, slotSectors, dataStart, dataSectors)
	case "gpt":
		script = fmt.Sprintf("label: gpt\nlabel-id: 474F4C45-5544-4759-0000-000000000001\nfirst-lba: 34\n"+
			"start=%d, size=%d, type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B, name=GOLEUDY-BOOT\n"+
			"start=%d, size=%d, type=EBD0A0A2-B9E5-4433-87C0-68B6B72699C7, name=GOLEUDY-A\n"+
			"start=%d, size=%d, type=EBD0A0A2-B9E5-4433-87C0-68B6B72699C7, name=GOLEUDY-B\n"+
			"start=%d, size=%d, type=0FC63DAF-8483-4772-8E79-3D69D8477DE4, name=GOLEUDY-DATA\n"+
			"start=%d, size=%d, type=21686148-6449-6E6F-744E-656564454649, name=BIOS\n",
			bootStart, bootSectors, aStart, slotSectors, bStart, slotSectors, dataStart, dataSectors, biosStart, biosSectors)
	default:
		t.Fatalf("makeDisk: table %q", table)
	}
	run(t, strings.NewReader(script), "sfdisk", "--no-reread", "--no-tell-kernel", "-q", d.path)

	mkfs(t, d.path, bootStart, bootSectors, "32", grub.DefaultBootLabel)
	mkfs(t, d.path, aStart, slotSectors, "16", grub.DefaultLabelA)
	mkfs(t, d.path, bStart, slotSectors, "16", grub.DefaultLabelB)
	for _, start := range []int64{aStart, bStart} {
		d.put(t, start, "/vmlinuz", []byte("not a kernel"))
		d.put(t, start, "/initrd.img", []byte("not an initramfs"))
	}
	for name, data := range files {
		d.put(t, bootStart, name, data)
	}
	return d
}

func mkfs(t *testing.T, img string, start, sectors int64, bits, label string) {
	t.Helper()
	run(t, nil, "mkfs.fat", "-F", bits, "-s", "1", "-n", label, "-i", "474f4c45",
		"--offset", fmt.Sprint(start), img, fmt.Sprint(sectors/2))
}

func mtoolsImage(path string, start int64) string { return fmt.Sprintf("%s@@%d", path, start*512) }

// put writes a file into the FAT filesystem at sector start, making its
// directories.
func (d testDisk) put(t *testing.T, start int64, name string, data []byte) {
	t.Helper()
	img := mtoolsImage(d.path, start)
	dir := filepath.Dir(name)
	var parts []string
	for _, p := range strings.Split(strings.Trim(dir, "/"), "/") {
		if p == "" {
			continue
		}
		parts = append(parts, p)
		// mmd fails on an existing directory; that is fine.
		cmd := exec.Command("mmd", "-i", img, "::/"+strings.Join(parts, "/"))
		cmd.Env = append(os.Environ(), "MTOOLS_SKIP_CHECK=1")
		_ = cmd.Run()
	}
	src := filepath.Join(t.TempDir(), "put")
	if err := os.WriteFile(src, data, 0o644); err != nil {
		t.Fatal(err)
	}
	run(t, nil, "mcopy", "-o", "-i", img, src, "::"+name)
}

// get reads a file from the boot partition.
func (d testDisk) get(t *testing.T, name string) []byte {
	t.Helper()
	return run(t, nil, "mcopy", "-n", "-i", mtoolsImage(d.path, bootStart), "::"+name, "-")
}

func run(t *testing.T, stdin *strings.Reader, name string, args ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	path := name
	if _, err := exec.LookPath(name); err != nil {
		path = filepath.Join("/usr/sbin", name) // sfdisk, mkfs.fat for a user without sbin on PATH
	}
	cmd := exec.CommandContext(ctx, path, args...)
	if stdin != nil {
		cmd.Stdin = stdin
	}
	cmd.Env = append(os.Environ(), "MTOOLS_SKIP_CHECK=1", "LC_ALL=C")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, stderr.String())
	}
	return stdout.Bytes()
}
