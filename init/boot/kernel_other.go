//go:build !linux

package boot

import (
	"errors"
	"os"
	"syscall"
)

// The node runs only on Linux; these stubs let the package's logic build
// and be read elsewhere.

func mount(source, target, fstype string, flags MountFlags, data string) error {
	return errors.ErrUnsupported
}

func unmount(target string) error                { return errors.ErrUnsupported }
func remountReadOnly(target string) error        { return errors.ErrUnsupported }
func syncFS()                                    {}
func sethostname(name string) error              { return errors.ErrUnsupported }
func linkUp(name string) error                   { return errors.ErrUnsupported }
func finitModule(*os.File, bool) error           { return errors.ErrUnsupported }
func initModule([]byte) error                    { return errors.ErrUnsupported }
func setChildSubreaper() error                   { return errors.ErrUnsupported }
func kernelReboot(cmd powerCmd) error            { return errors.ErrUnsupported }
func watchdogCausedReset(*os.File) (bool, error) { return false, errors.ErrUnsupported }

func watchdogSetTimeout(*os.File, int) (int, error) { return 0, errors.ErrUnsupported }

func reapPID(pid int) (bool, string, error) { return false, "", errors.ErrUnsupported }

type powerCmd int

const (
	cmdRestart powerCmd = iota
	cmdPowerOff
)

func (c powerCmd) String() string {
	if c == cmdPowerOff {
		return "power off"
	}
	return "restart"
}

func kernelRelease() (string, error) { return "", errors.ErrUnsupported }

func corrupt(error) bool { return false }

// childSignal is SIGCHLD's number on macOS and the BSDs; elsewhere it is
// never delivered, and the reaper sweeps only once.
var childSignal = syscall.Signal(20)
