//go:build !linux

package lab

import "syscall"

// sysProcAttr puts the server in its own process group, so it and its
// children can be signalled together.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}

// adoptOrphans is a no-op: only Linux has child subreapers.
func adoptOrphans() {}
