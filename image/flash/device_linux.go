package flash

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

func openFlags() int { return unix.O_EXCL }

func isFile(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode().IsRegular()
}

// capacity is the size of a block device (BLKGETSIZE64) or file.
func capacity(f *os.File) (int64, error) {
	if isFile(f) {
		st, err := f.Stat()
		if err != nil {
			return 0, err
		}
		return st.Size(), nil
	}
	var size uint64
	_, _, errno := unix.Syscall(unix.SYS_IOCTL, f.Fd(), unix.BLKGETSIZE64, uintptr(unsafe.Pointer(&size)))
	if errno != 0 {
		return 0, errno
	}
	return int64(size), nil
}

// dropCache asks the kernel to forget the device's pages, so the read-back
// reads the card, not the page cache.
func dropCache(f *os.File) {
	unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_DONTNEED)
	if !isFile(f) {
		unix.IoctlSetInt(int(f.Fd()), unix.BLKFLSBUF, 0)
	}
}

// check refuses a target that is not a block device (unless AllowFile),
// or whose device or any partition of it is mounted, used as swap, or
// held by another device (RAID, LVM, dm-crypt): a card in use, or the
// disk the system runs from.
func check(device string, o Options) error {
	st, err := os.Stat(device)
	if err != nil {
		return fmt.Errorf("flash: %w", err)
	}
	if st.Mode().IsRegular() {
		if o.AllowFile {
			return nil
		}
		return fmt.Errorf("flash: %s: %w (give a whole disk such as /dev/sdb or /dev/mmcblk0)", device, ErrNotBlock)
	}
	if st.Mode()&os.ModeDevice == 0 || st.Mode()&os.ModeCharDevice != 0 {
		return fmt.Errorf("flash: %s: %w", device, ErrNotBlock)
	}
	sys, ok := st.Sys().(*syscall.Stat_t)
	if !ok {
		return fmt.Errorf("flash: %s: cannot read its device number", device)
	}
	major, minor := unix.Major(uint64(sys.Rdev)), unix.Minor(uint64(sys.Rdev))
	devs, err := family(o.Sys, major, minor)
	if err != nil {
		return fmt.Errorf("flash: %s: %w", device, err)
	}
	used, err := inUse(o, devs)
	if err != nil {
		return fmt.Errorf("flash: %s: %w", device, err)
	}
	if len(used) > 0 {
		return fmt.Errorf("flash: %s: %w: %s", device, ErrInUse, strings.Join(used, "; "))
	}
	return nil
}

// blockDev is a disk or one of its partitions.
type blockDev struct {
	name         string // sda, sda1
	major, minor uint32
}

// family is the device with major:minor and its partitions, from sysfs.
func family(sys string, major, minor uint32) ([]blockDev, error) {
	link, err := filepath.EvalSymlinks(filepath.Join(sys, "dev", "block", fmt.Sprintf("%d:%d", major, minor)))
	if err != nil {
		return nil, fmt.Errorf("not a block device known to the kernel: %w", err)
	}
	out := []blockDev{{name: filepath.Base(link), major: major, minor: minor}}
	if _, err := os.Stat(filepath.Join(link, "partition")); err == nil {
		return out, nil // a partition: flash whole disks only, but check it anyway
	}
	entries, err := os.ReadDir(link)
	if err != nil {
		return nil, err
	}
	for _, e := range entries {
		if _, err := os.Stat(filepath.Join(link, e.Name(), "partition")); err != nil {
			continue
		}
		var ma, mi uint32
		data, err := os.ReadFile(filepath.Join(link, e.Name(), "dev"))
		if err != nil {
			continue
		}
		if _, err := fmt.Sscanf(strings.TrimSpace(string(data)), "%d:%d", &ma, &mi); err == nil {
			out = append(out, blockDev{name: e.Name(), major: ma, minor: mi})
		}
	}
	return out, nil
}

// inUse names how each of devs is in use: mounted (mountinfo's major:minor),
// swap, or held by another block device.
func inUse(o Options, devs []blockDev) ([]string, error) {
	var used []string
	f, err := os.Open(filepath.Join(o.Proc, "self", "mountinfo"))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	s.Buffer(make([]byte, 64<<10), 1<<20)
	for s.Scan() {
		fields := strings.Fields(s.Text())
		if len(fields) < 5 {
			continue
		}
		for _, d := range devs {
			if fields[2] == fmt.Sprintf("%d:%d", d.major, d.minor) {
				what := "mounted on " + fields[4]
				if fields[4] == "/" {
					what = "holds the running system (mounted on /)"
				}
				used = append(used, d.name+" "+what)
			}
		}
	}
	if err := s.Err(); err != nil {
		return nil, err
	}
	if data, err := os.ReadFile(filepath.Join(o.Proc, "swaps")); err == nil {
		for _, line := range strings.Split(string(data), "\n")[1:] {
			fields := strings.Fields(line)
			if len(fields) == 0 {
				continue
			}
			for _, d := range devs {
				if filepath.Base(fields[0]) == d.name {
					used = append(used, d.name+" is swap")
				}
			}
		}
	}
	for _, d := range devs {
		holders, _ := os.ReadDir(filepath.Join(o.Sys, "class", "block", d.name, "holders"))
		for _, h := range holders {
			used = append(used, d.name+" is held by "+h.Name())
		}
	}
	return used, nil
}
