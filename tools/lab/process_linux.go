package lab

import (
	"sync"
	"syscall"
)

// sysProcAttr puts the server in its own process group, so it and its
// children can be signalled together, and has the kernel kill it if the
// test binary dies without running cleanups (a test timeout panic).
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

var subreaper sync.Once

// adoptOrphans makes this process the subreaper of its descendants. NSD's
// processes do not all outlive their children, and an orphan goes to init,
// which in containers often never reaps it: as subreaper we inherit those
// orphans and Stop reaps them by pid, leaving no zombies behind.
func adoptOrphans() {
	subreaper.Do(func() {
		const prSetChildSubreaper = 36
		syscall.RawSyscall(syscall.SYS_PRCTL, prSetChildSubreaper, 1, 0)
	})
}
