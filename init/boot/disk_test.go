package boot

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/goleudy/goleudy/image/disk"
	"github.com/goleudy/goleudy/services/clock/clocktest"
)

// nodeImage is a node's disk as the image builder lays it out: a FAT boot
// partition, a data partition (here with no filesystem yet), and one more
// partition that is found by its filesystem label alone.
func nodeImage(t *testing.T) (string, []imagePart) {
	image := filepath.Join(t.TempDir(), "disk.img")
	parts := buildImage(t, image, []partSpec{
		{name: "GOLEUDY-BOOT", size: 40 << 20, content: fat32WithSeed("GOLEUDY-BOOT", "seed.json")},
		{name: "GOLEUDY-DATA", size: 32 << 20, content: garbage},
		{name: "", size: 16 << 20, content: ext4Labelled("OTHER")},
	})
	return image, parts
}

func TestImageGPT(t *testing.T) {
	_, parts := nodeImage(t)
	want := []imagePart{
		{1, "GOLEUDY-BOOT", 1 << 20, 40 << 20},
		{2, "GOLEUDY-DATA", 41 << 20, 32 << 20},
		{3, "", 73 << 20, 16 << 20},
	}
	if fmt.Sprint(parts) != fmt.Sprint(want) {
		t.Errorf("GPT read back = %v, want %v", parts, want)
	}
}

func TestDisksFind(t *testing.T) {
	image, parts := nodeImage(t)
	sys := newFakeSys(t, "vdb")
	sys.addImage(t, image, parts, extract(t, image))
	sys.add(t, "loop0", 0) // a loop device with nothing attached
	sys.add(t, "sr0", 1<<20)

	devs, err := sys.List()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, d := range devs {
		got = append(got, d.String())
	}
	want := []string{
		"sr0", // no device node: listed, nothing probed
		"vdb",
		`vdb1 partlabel="GOLEUDY-BOOT" vfat label="GOLEUDY-BOO"`,
		`vdb2 partlabel="GOLEUDY-DATA"`,
		`vdb3 ext4 label="OTHER"`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("List:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	for _, tc := range []struct{ label, want string }{
		{"GOLEUDY-DATA", "vdb2"},
		{"goleudy-boot", "vdb1"}, // labels compare without case, as FAT's do
		{"OTHER", "vdb3"},        // no partition name: the filesystem label
		{"GOLEUDY-BOO", "vdb1"},  // the FAT label itself
	} {
		found, err := sys.Find(tc.label)
		if err != nil {
			t.Errorf("Find(%q): %v", tc.label, err)
			continue
		}
		if len(found) != 1 || found[0].Name != tc.want || found[0].Path != filepath.Join(sys.Dev, tc.want) {
			t.Errorf("Find(%q) = %v, want %s", tc.label, found, tc.want)
		}
	}
	d, _ := sys.Find("GOLEUDY-DATA")
	if !d[0].Partition || d[0].Size != 32<<20 {
		t.Errorf("data partition = %+v", d[0])
	}

	_, err = sys.Find("NOPE")
	if !errors.Is(err, ErrNoDevice) || !strings.Contains(err.Error(), `"NOPE" (seen: sr0; vdb; vdb1 partlabel="GOLEUDY-BOOT"`) {
		t.Errorf("Find(NOPE) = %v", err)
	}
	if _, err := sys.Find(""); err == nil {
		t.Error("empty label found something")
	}
	if _, err := (Disks{Sys: t.TempDir()}).List(); err == nil || !strings.Contains(err.Error(), "list block devices") {
		t.Errorf("no sysfs: %v", err)
	}
}

// TestDisksFindPrefersPartitionName: a stray disk whose filesystem has the
// label comes after the partition whose GPT name is the label.
func TestDisksFindPrefersPartitionName(t *testing.T) {
	image, parts := nodeImage(t)
	sys := newFakeSys(t, "vdb")
	sys.addImage(t, image, parts, extract(t, image))
	stray := filepath.Join(sys.Dev, "sda")
	os.WriteFile(stray, nil, 0o600)
	os.Truncate(stray, 8<<20)
	if err := FormatExt4(stray, "GOLEUDY-DATA"); err != nil {
		t.Fatal(err)
	}
	sys.add(t, "sda", 8<<20, "DEVTYPE=disk")
	found, err := sys.Find("GOLEUDY-DATA")
	if err != nil {
		t.Fatal(err)
	}
	if len(found) != 2 || found[0].Name != "vdb2" || found[1].Name != "sda" {
		t.Errorf("found %v, want vdb2 then sda", found)
	}
}

// TestDisksWait: the data partition shows up in sysfs a while after boot
// starts, as USB and MMC storage does.
func TestDisksWait(t *testing.T) {
	image, parts := nodeImage(t)
	sys := newFakeSys(t, "vdb")
	clk := clocktest.NewFake(time.Unix(0, 0))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	type result struct {
		found []BlockDevice
		err   error
	}
	done := make(chan result)
	go func() {
		f, err := sys.Wait(ctx, clk, "GOLEUDY-DATA", 5*time.Second)
		done <- result{f, err}
	}()
	for range 3 {
		if err := clk.BlockUntil(ctx, 1); err != nil {
			t.Fatal(err)
		}
		clk.Advance(pollInterval)
	}
	if err := clk.BlockUntil(ctx, 1); err != nil {
		t.Fatal(err)
	}
	sys.addImage(t, image, parts, extract(t, image))
	clk.Advance(pollInterval)
	r := <-done
	if r.err != nil || r.found[0].Name != "vdb2" {
		t.Fatalf("Wait = %v, %v", r.found, r.err)
	}

	// Nothing appears: Wait gives up when the time is up.
	go func() {
		f, err := sys.Wait(ctx, clk, "NOPE", time.Second)
		done <- result{f, err}
	}()
	for range 10 {
		if err := clk.BlockUntil(ctx, 1); err != nil {
			t.Fatal(err)
		}
		clk.Advance(pollInterval)
	}
	if r := <-done; !errors.Is(r.err, ErrNoDevice) {
		t.Errorf("Wait for nothing = %v", r.err)
	}

	// A cancelled context ends the wait.
	cctx, ccancel := context.WithCancel(ctx)
	go func() {
		f, err := sys.Wait(cctx, clk, "NOPE", time.Hour)
		done <- result{f, err}
	}()
	clk.BlockUntil(ctx, 1)
	ccancel()
	if r := <-done; !errors.Is(r.err, context.Canceled) || !errors.Is(r.err, ErrNoDevice) {
		t.Errorf("cancelled Wait = %v", r.err)
	}
}

// TestDisksRealSysfs finds a loop device by its filesystem label through
// the real /sys/class/block and /dev.
func TestDisksRealSysfs(t *testing.T) {
	requireRoot(t)
	img := sizedFile(t, 16<<20)
	label := fmt.Sprintf("GLD-%d", os.Getpid()%1000000)
	if err := FormatExt4(img, label); err != nil {
		t.Fatal(err)
	}
	dev, ok := attachLoop(t, img, 0, 16<<20)
	if !ok {
		return
	}
	found, err := Disks{}.Find(label)
	if err != nil {
		t.Fatal(err)
	}
	if len(found) != 1 || found[0].Path != dev || found[0].FS.Type != "ext4" || found[0].Size != 16<<20 {
		t.Errorf("found %+v, want %s", found, dev)
	}
}

func TestParseUevent(t *testing.T) {
	ev := ParseUevent("MAJOR=259\nMINOR=1\nDEVNAME=nvme0n1p1\nDEVTYPE=partition\nPARTN=1\nPARTNAME=GOLEUDY=BOOT\nnonsense\n=x\n")
	want := map[string]string{"MAJOR": "259", "MINOR": "1", "DEVNAME": "nvme0n1p1", "DEVTYPE": "partition",
		"PARTN": "1", "PARTNAME": "GOLEUDY=BOOT"}
	if fmt.Sprint(ev) != fmt.Sprint(want) {
		t.Errorf("ParseUevent = %v, want %v", ev, want)
	}
}

func FuzzParseUevent(f *testing.F) {
	f.Add("MAJOR=8\nDEVNAME=sda1\nPARTNAME=x\n")
	f.Add("=\n==\n")
	f.Fuzz(func(t *testing.T, text string) {
		for k, v := range ParseUevent(text) {
			if k == "" || strings.ContainsAny(k, "=\n") || strings.Contains(v, "\n") {
				t.Errorf("bad pair %q=%q", k, v)
			}
		}
	})
}

// TestDisksFindBuiltImage finds every partition of images the image
// builder makes: on GPT by partition name, on MBR, which has none, by the
// FAT labels and the data marker.
func TestDisksFindBuiltImage(t *testing.T) {
	for _, table := range []disk.Table{disk.GPT, disk.MBR} {
		t.Run(string(table), func(t *testing.T) {
			image, parts := builtImage(t, table)
			sys := newFakeSys(t, "mmcblk0p")
			sys.addImage(t, image, parts, extract(t, image))
			devs, err := sys.List()
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, d := range devs {
				got = append(got, d.String())
			}
			want := []string{"mmcblk0p", `mmcblk0p1 vfat label="GOLEUDYBOOT"`, `mmcblk0p2 vfat label="GOLEUDY_A"`,
				`mmcblk0p3 vfat label="GOLEUDY_B"`, `mmcblk0p4 unformatted label="GOLEUDY-DATA"`}
			if table == disk.GPT {
				want = []string{"mmcblk0p", `mmcblk0p1 partlabel="GOLEUDY-BOOT" vfat label="GOLEUDYBOOT"`,
					`mmcblk0p2 partlabel="GOLEUDY-A" vfat label="GOLEUDY_A"`, `mmcblk0p3 partlabel="GOLEUDY-B" vfat label="GOLEUDY_B"`,
					`mmcblk0p4 partlabel="GOLEUDY-DATA" unformatted label="GOLEUDY-DATA"`}
			}
			if strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Errorf("List:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
			for label, want := range map[string]string{
				DefaultBootLabel: "mmcblk0p1", "GOLEUDY-A": "mmcblk0p2", "GOLEUDY-B": "mmcblk0p3", DefaultDataLabel: "mmcblk0p4",
			} {
				found, err := sys.Find(label)
				if err != nil || len(found) != 1 || found[0].Name != want {
					t.Errorf("Find(%s) = %v, %v; want %s", label, found, err, want)
				}
			}
		})
	}
}

func TestFSLabelMatches(t *testing.T) {
	for _, tc := range []struct {
		fstype, have, want string
		ok                 bool
	}{
		{"vfat", "GOLEUDYBOOT", "GOLEUDY-BOOT", true},
		{"vfat", "GOLEUDY-BOO", "GOLEUDY-BOOT", true},
		{"vfat", "goleudy_a", "GOLEUDY-A", true},
		{"vfat", "GOLEUDYA", "GOLEUDY-A", true},
		{"vfat", "GOLEUDY_B", "GOLEUDY-A", false},
		{"vfat", "", "GOLEUDY-A", false},
		{"ext4", "GOLEUDY-DATA", "goleudy-data", true},
		{"ext4", "GOLEUDYDATA", "GOLEUDY-DATA", false},
		{Unformatted, "GOLEUDY-DATA", "GOLEUDY-DATA", true},
	} {
		if got := fsLabelMatches(tc.fstype, tc.have, tc.want); got != tc.ok {
			t.Errorf("%s %q for %q: %v", tc.fstype, tc.have, tc.want, got)
		}
	}
}

// TestDisksSibling finds the slots beside the boot partition by number.
func TestDisksSibling(t *testing.T) {
	image, parts := nodeImage(t)
	sys := newFakeSys(t, "mmcblk0p")
	sys.addImage(t, image, parts, extract(t, image))
	b, err := sys.Sibling("/dev/mmcblk0p1", 2)
	if err != nil {
		t.Fatal(err)
	}
	if b.Name != "mmcblk0p2" || !b.Partition || b.Size == 0 {
		t.Errorf("sibling 2 of mmcblk0p1: %+v", b)
	}
	if _, err := sys.Sibling("mmcblk0p1", 9); err == nil || !strings.Contains(err.Error(), "partition 9 beside mmcblk0p1") {
		t.Errorf("no partition 9: %v", err)
	}
	if _, err := sys.Sibling("mmcblk0p", 2); err == nil || !strings.Contains(err.Error(), "not a numbered partition") {
		t.Errorf("a whole disk: %v", err)
	}
}
