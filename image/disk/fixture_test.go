package disk

import (
	"bytes"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/goleudy/goleudy/image/fat"
	"github.com/goleudy/goleudy/image/initramfs"
	"github.com/goleudy/goleudy/tools/lab"
)

// Debian programs that check the images.
var (
	toolSfdisk = lab.Tool{Name: "sfdisk", Package: "fdisk"}
	toolSgdisk = lab.Tool{Name: "sgdisk", Package: "gdisk"}
	toolFsck   = lab.Tool{Name: "fsck.fat", Package: "dosfstools"}
	toolMtype  = lab.Tool{Name: "mtype", Package: "mtools"}
)

const mib = 1 << 20

var epoch = time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)

func tool(t *testing.T, tl lab.Tool, args ...string) string {
	t.Helper()
	out, err := toolErr(t, tl, args...)
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", tl.Name, strings.Join(args, " "), err, out)
	}
	return out
}

func toolErr(t *testing.T, tl lab.Tool, args ...string) (string, error) {
	t.Helper()
	path, err := tl.Path()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(path, args...)
	cmd.Env = append(os.Environ(), "MTOOLSRC=/dev/null", "LC_ALL=C")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	return string(out) + stderr.String(), err
}

// fatContent is a FAT32 volume with files, as a partition's Content.
func fatContent(t testing.TB, label string, files map[string]string) Content {
	t.Helper()
	b, err := fat.New(fat.Options{Label: label, Time: epoch})
	if err != nil {
		t.Fatal(err)
	}
	for p, data := range files {
		if err := b.AddFile(p, []byte(data)); err != nil {
			t.Fatal(err)
		}
	}
	return b.Write
}

func grubenv() string {
	env := "# GRUB Environment Block\nboot_slot=A\n"
	return env + strings.Repeat("#", 1024-len(env))
}

// slot is a slot partition's content, with a real (small) initramfs.
func slot(t testing.TB, label string) Content {
	a, err := initramfs.New(epoch)
	if err != nil {
		t.Fatal(err)
	}
	for _, err := range []error{
		a.AddFile("/init", 0o755, []byte("goleudy-node "+label)),
		a.AddFile("/etc/goleudy/board.json", 0o644, []byte(`{"name":"vps"}`)),
		a.AddSymlink("/sbin/init", "/init"),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	var initrd bytes.Buffer
	if err := a.WriteGzip(&initrd); err != nil {
		t.Fatal(err)
	}
	return fatContent(t, label, map[string]string{
		"vmlinuz": "kernel " + label, "initrd.img": initrd.String(), "slot.json": `{"version":"1"}`,
	})
}

// brixLayout is a UEFI board's disk: GPT with the ESP as boot partition.
func brixLayout(t testing.TB) Layout {
	return Layout{Table: GPT, Seed: "brix/alban", Partitions: []Partition{
		{Name: "GOLEUDY-BOOT", Label: "GOLEUDYBOOT", Type: EFISystem, Size: 64 * mib,
			Content: fatContent(t, "GOLEUDYBOOT", map[string]string{
				"EFI/BOOT/BOOTX64.EFI": "MZ grub", "grub/grubenv": grubenv(), "goleudy/seed.json": `{"node":"alban"}`,
			})},
		{Name: "GOLEUDY-A", Label: "GOLEUDY_A", Type: BasicData, Size: 160 * mib, Content: slot(t, "GOLEUDY_A")},
		{Name: "GOLEUDY-B", Label: "GOLEUDY_B", Type: BasicData, Size: 160 * mib, Content: slot(t, "GOLEUDY_B")},
		{Name: "GOLEUDY-DATA", Label: DataLabel, Type: LinuxData, Size: 64 * mib, Content: UnformattedData},
	}}
}

// vpsLayout boots by UEFI and by BIOS: a BIOS boot partition for
// core.img and boot code in the protective MBR.
func vpsLayout(t testing.TB) Layout {
	l := brixLayout(t)
	l.Seed = "vps/lab"
	l.BootCode = bytes.Repeat([]byte{0xEB}, 440)
	l.Partitions = append(l.Partitions, Partition{Name: "BIOS-BOOT", Type: BIOSBoot, Size: 1 * mib,
		Content: func(w io.WriterAt, off, size int64) error {
			_, err := w.WriteAt([]byte("core.img"), off)
			return err
		}})
	return l
}

// piLayout is the Pi's (and the FitPC2i's) MBR disk.
func piLayout(t testing.TB) Layout {
	l := brixLayout(t)
	l.Table, l.Seed = MBR, "rpi64/alban"
	l.Partitions[0].Type, l.Partitions[0].Bootable = BasicData, true
	l.Embed = bytes.Repeat([]byte("core"), 1000)
	return l
}

func write(t *testing.T, l Layout) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "disk.img")
	if err := Write(p, l); err != nil {
		t.Fatal(err)
	}
	return p
}

// extract copies a partition into a file of its own, for fsck.fat, which
// checks whole devices only.
func extract(t *testing.T, image string, off, size int64) string {
	t.Helper()
	src, err := os.Open(image)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	out := filepath.Join(t.TempDir(), "part.img")
	dst, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	defer dst.Close()
	if _, err := io.Copy(dst, io.NewSectionReader(src, off, size)); err != nil {
		t.Fatal(err)
	}
	return out
}
