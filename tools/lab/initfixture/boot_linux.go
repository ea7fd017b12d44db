//go:build linux

package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// nicWait bounds how long the fixture waits for the NICs the command
// line gives addresses for, and then for their links to come up: drivers
// probe asynchronously after their module loads, and some emulated NICs
// (e1000e) bring the link up seconds after the driver does, slowly
// under emulation.
const nicWait = 30 * time.Second

// fixture is the state the boot steps share.
type fixture struct {
	out  io.Writer
	cfg  config
	nics []netlink.Link
}

// step is one boot step; its name reads like the shell line it stands
// for, so a failure says which step failed.
type step struct {
	name string
	do   func() error
}

func (f *fixture) steps() []step {
	return []step{
		{"mount -t proc proc /proc", func() error { return mount("proc", "/proc", "proc") }},
		{"mount -t sysfs sysfs /sys", func() error { return mount("sysfs", "/sys", "sysfs") }},
		{"mount -t devtmpfs devtmpfs /dev", func() error { return mount("devtmpfs", "/dev", "devtmpfs") }},
		{"exec >/dev/console", f.openConsole},
		{"cat /proc/cmdline", f.readCmdline},
		{"insmod /modules/*.ko", f.loadModules},
		{"wait for NICs", f.waitNICs},
		{"ip addr add; ip link set up", f.configureNICs},
		{"wait for carrier", f.waitCarrier},
		{"ls /sys/block", f.listDisks},
		{"udp echo :7", f.listenEcho},
	}
}

// run is the fixture as PID 1. It returns only when it must not start;
// later failures are printed and the fixture waits, because PID 1
// exiting panics the kernel and buries the message.
func run(stdout io.Writer) error {
	if os.Getpid() != 1 {
		return errors.New("must run as PID 1 (/init of an initramfs), not as an ordinary program")
	}
	f := &fixture{out: stdout}
	if err := f.boot(); err != nil {
		fmt.Fprintf(f.out, "initfixture: error: %v\n", err)
	}
	if f.cfg.poweroff {
		fmt.Fprintln(f.out, "initfixture: powering off")
		unix.Sync()
		if err := unix.Reboot(unix.LINUX_REBOOT_CMD_POWER_OFF); err != nil {
			fmt.Fprintf(f.out, "initfixture: error: power off: %v\n", err)
		}
	}
	for {
		// A sleeping goroutine, unlike select{}, never trips the
		// runtime's deadlock check when the echo listener is absent.
		time.Sleep(time.Hour)
	}
}

func (f *fixture) boot() error {
	for _, s := range f.steps() {
		if err := s.do(); err != nil {
			return fmt.Errorf("%s: %w", s.name, err)
		}
	}
	var uts unix.Utsname
	if err := unix.Uname(&uts); err != nil {
		return fmt.Errorf("uname: %w", err)
	}
	fmt.Fprintf(f.out, "initfixture: ready %s %d\n", unix.ByteSliceToString(uts.Release[:]), len(f.nics))
	return nil
}

func mount(source, target, fstype string) error {
	if err := os.MkdirAll(target, 0o755); err != nil {
		return err
	}
	err := unix.Mount(source, target, fstype, unix.MS_NOSUID, "")
	if errors.Is(err, unix.EBUSY) { // already mounted (devtmpfs.mount=1)
		return nil
	}
	return err
}

// openConsole makes sure output reaches the console even when the
// initramfs has no /dev/console node and the kernel gave us no stdout.
func (f *fixture) openConsole() error {
	if _, err := os.Stdout.Stat(); err == nil {
		return nil
	}
	c, err := os.OpenFile("/dev/console", os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	f.out = c
	return nil
}

func (f *fixture) readCmdline() error {
	b, err := os.ReadFile("/proc/cmdline")
	if err != nil {
		return err
	}
	f.cfg, err = parseCmdline(string(b))
	return err
}

// loadModules loads /modules/*.ko in name order. A module that fails is
// reported and skipped: the NIC count then shows what is missing.
func (f *fixture) loadModules() error {
	files, err := filepath.Glob("/modules/*.ko")
	if err != nil {
		return err
	}
	slices.Sort(files)
	for _, file := range files {
		if err := loadModule(file); err != nil {
			fmt.Fprintf(f.out, "initfixture: insmod %s: %v\n", file, err)
		}
	}
	fmt.Fprintf(f.out, "initfixture: loaded %d modules\n", len(files))
	return nil
}

func loadModule(file string) error {
	m, err := os.Open(file)
	if err != nil {
		return err
	}
	defer m.Close()
	err = unix.FinitModule(int(m.Fd()), "", 0)
	if errors.Is(err, unix.EEXIST) {
		return nil
	}
	return err
}

// nics lists the Ethernet devices, ordered by MAC address: the order the
// harness assigns MACs in, whatever order the drivers probed in.
func nics() ([]netlink.Link, error) {
	links, err := netlink.LinkList()
	if err != nil {
		return nil, err
	}
	var out []netlink.Link
	for _, l := range links {
		a := l.Attrs()
		if l.Type() == "device" && a.EncapType == "ether" && len(a.HardwareAddr) == 6 {
			out = append(out, l)
		}
	}
	slices.SortFunc(out, func(a, b netlink.Link) int {
		return bytes.Compare(a.Attrs().HardwareAddr, b.Attrs().HardwareAddr)
	})
	return out, nil
}

// waitNICs waits until there are enough NICs for the addresses asked
// for; with none asked, it takes what has probed after a short settle.
func (f *fixture) waitNICs() error {
	want := len(f.cfg.addrs)
	if want == 0 {
		time.Sleep(500 * time.Millisecond)
	}
	deadline := time.Now().Add(nicWait)
	for {
		found, err := nics()
		if err != nil {
			return err
		}
		f.nics = found
		if len(found) >= want {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s gives %d addresses but only %d NICs appeared in %v", keyAddr, want, len(found), nicWait)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (f *fixture) configureNICs() error {
	for i, l := range f.nics {
		a := l.Attrs()
		var addr string
		if i < len(f.cfg.addrs) {
			addr = f.cfg.addrs[i].String()
			nl, err := netlink.ParseAddr(addr)
			if err != nil {
				return fmt.Errorf("%s: %w", a.Name, err)
			}
			if err := netlink.AddrAdd(l, nl); err != nil {
				return fmt.Errorf("ip addr add %s dev %s: %w", addr, a.Name, err)
			}
		}
		if err := netlink.LinkSetUp(l); err != nil {
			return fmt.Errorf("ip link set %s up: %w", a.Name, err)
		}
		fmt.Fprintf(f.out, "initfixture: nic %s %s %s\n", a.Name, a.HardwareAddr, strings.TrimSpace(addr))
	}
	return nil
}

// waitCarrier waits until every NIC that got an address has its link
// up, so that "ready" means traffic flows.
func (f *fixture) waitCarrier() error {
	deadline := time.Now().Add(nicWait)
	for i, l := range f.nics {
		if i >= len(f.cfg.addrs) {
			break
		}
		for {
			cur, err := netlink.LinkByIndex(l.Attrs().Index)
			if err != nil {
				return err
			}
			if cur.Attrs().RawFlags&unix.IFF_LOWER_UP != 0 {
				break
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("%s: no carrier after %v", l.Attrs().Name, nicWait)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	return nil
}

// listDisks waits for the block devices the command line asks for and
// prints each with its size and the first bytes it holds, so a test can
// tell its image is the one attached.
func (f *fixture) listDisks() error {
	deadline := time.Now().Add(nicWait)
	var found []string
	for {
		var err error
		if found, err = disks(); err != nil {
			return err
		}
		if len(found) >= f.cfg.disks {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s=%d but only %v appeared in %v", keyDisks, f.cfg.disks, found, nicWait)
		}
		time.Sleep(100 * time.Millisecond)
	}
	for _, name := range found {
		sectors, err := os.ReadFile(filepath.Join("/sys/block", name, "size"))
		if err != nil {
			return err
		}
		n, err := strconv.ParseInt(strings.TrimSpace(string(sectors)), 10, 64)
		if err != nil {
			return fmt.Errorf("/sys/block/%s/size: %w", name, err)
		}
		fmt.Fprintf(f.out, "initfixture: disk %s %d %q\n", name, n*512, diskHead(name))
	}
	return nil
}

// disks lists block devices backed by hardware (those with a device
// link), leaving out loop, ram and zram.
func disks() ([]string, error) {
	entries, err := os.ReadDir("/sys/block")
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range entries {
		if _, err := os.Stat(filepath.Join("/sys/block", e.Name(), "device")); err == nil {
			out = append(out, e.Name())
		}
	}
	return out, nil
}

// diskHead is the printable start of a disk: up to 16 bytes, cut at the
// first byte that is not printable ASCII.
func diskHead(name string) string {
	d, err := os.Open("/dev/" + name)
	if err != nil {
		return "error: " + err.Error()
	}
	defer d.Close()
	buf := make([]byte, 16)
	n, _ := io.ReadFull(d, buf)
	for i, b := range buf[:n] {
		if b < 0x20 || b > 0x7e {
			return string(buf[:i])
		}
	}
	return string(buf[:n])
}

// listenEcho answers UDP echo (RFC 862) on port 7 until the machine
// stops; the goroutine's owner is the machine's lifetime.
func (f *fixture) listenEcho() error {
	c, err := net.ListenUDP("udp", &net.UDPAddr{Port: 7})
	if err != nil {
		return err
	}
	go func() {
		buf := make([]byte, 64<<10)
		for {
			n, from, err := c.ReadFromUDP(buf)
			if err != nil {
				fmt.Fprintf(f.out, "initfixture: echo: %v\n", err)
				return
			}
			c.WriteToUDP(buf[:n], from)
		}
	}()
	return nil
}
