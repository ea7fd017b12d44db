package boot

import (
	"errors"
	"fmt"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// This file is the whole of the package's contact with the kernel's
// system calls, so that kernel_other.go can stub it and the logic builds
// (and its unit tests run) on any GOOS.

func mount(source, target, fstype string, flags MountFlags, data string) error {
	return unix.Mount(source, target, fstype, uintptr(flags), data)
}

func unmount(target string) error { return unix.Unmount(target, 0) }

// remountReadOnly is what a shutdown falls back to when something still
// holds a file open on a filesystem: it cannot be unmounted, but it can be
// made clean.
func remountReadOnly(target string) error {
	return unix.Mount("", target, "", unix.MS_REMOUNT|unix.MS_RDONLY, "")
}

func syncFS() { unix.Sync() }

type powerCmd int

const (
	cmdRestart  powerCmd = unix.LINUX_REBOOT_CMD_RESTART
	cmdPowerOff powerCmd = unix.LINUX_REBOOT_CMD_POWER_OFF
)

func (c powerCmd) String() string {
	if c == cmdPowerOff {
		return "power off"
	}
	return "restart"
}

func kernelReboot(cmd powerCmd) error { return unix.Reboot(int(cmd)) }

func sethostname(name string) error { return unix.Sethostname([]byte(name)) }

// linkUp sets IFF_UP on the link name, as `ip link set NAME up` does.
func linkUp(name string) error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("socket: %w", err)
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq(name)
	if err != nil {
		return err
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
		return fmt.Errorf("link %s: %w", name, err)
	}
	if ifr.Uint16()&unix.IFF_UP != 0 {
		return nil
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
	if err := unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr); err != nil {
		return fmt.Errorf("link %s: set up: %w", name, err)
	}
	return nil
}

// finitModule loads the module file f. A compressed module is handed to
// the kernel as it is, to decompress itself (CONFIG_MODULE_DECOMPRESS).
func finitModule(f *os.File, compressed bool) error {
	flags := 0
	if compressed {
		flags = unix.MODULE_INIT_COMPRESSED_FILE
	}
	return unix.FinitModule(int(f.Fd()), "", flags)
}

func initModule(image []byte) error { return unix.InitModule(image, "") }

// watchdogSetTimeout asks the driver for a timeout in seconds and returns
// the one it chose: drivers round to what their hardware can count.
func watchdogSetTimeout(f *os.File, secs int) (int, error) {
	if err := unix.IoctlSetPointerInt(int(f.Fd()), unix.WDIOC_SETTIMEOUT, secs); err != nil {
		return 0, err
	}
	return unix.IoctlGetInt(int(f.Fd()), unix.WDIOC_GETTIMEOUT)
}

// watchdogCausedReset reports whether the watchdog reset the board last
// time, which is worth a line in the log of the boot that follows.
func watchdogCausedReset(f *os.File) (bool, error) {
	st, err := unix.IoctlGetInt(int(f.Fd()), unix.WDIOC_GETBOOTSTATUS)
	if err != nil {
		return false, err
	}
	return st&unix.WDIOF_CARDRESET != 0, nil
}

// reapPID collects pid's exit status if it has exited, and describes it
// as os/exec would ("exit status 3", "signal: killed").
func reapPID(pid int) (bool, string, error) {
	var ws unix.WaitStatus
	got, err := unix.Wait4(pid, &ws, unix.WNOHANG, nil)
	if err != nil || got != pid {
		return false, "", err
	}
	if ws.Signaled() {
		return true, "signal: " + ws.Signal().String(), nil
	}
	return true, "exit status " + strconv.Itoa(ws.ExitStatus()), nil
}

func setChildSubreaper() error {
	return unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
}

func kernelRelease() (string, error) {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return "", fmt.Errorf("uname: %w", err)
	}
	return unix.ByteSliceToString(u.Release[:]), nil
}

// corrupt reports whether a mount error means the filesystem is damaged,
// rather than the kernel or the disk being unable to read it.
func corrupt(err error) bool {
	return errors.Is(err, unix.EINVAL) || errors.Is(err, unix.EUCLEAN) || errors.Is(err, unix.EBADMSG)
}

// childSignal is what the kernel sends a parent when a child exits.
var childSignal = unix.SIGCHLD
