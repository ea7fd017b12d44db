package lab

import (
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// process is one server process and the process group it leads. Servers
// fork (NSD runs xfrd, a main process and server children), so everything
// is signalled through the group, and Stop checks nothing of it survives.
type process struct {
	cmd    *exec.Cmd
	pgid   int
	exited chan struct{} // closed when the leader has exited and been reaped
	err    error         // the leader's exit status, once exited is closed

	stopOnce sync.Once
	stopErr  error
}

// startProcess runs argv in dir as the leader of a new process group, with
// its output appended to outPath. The goroutine that reaps it ends when it
// exits, which stop guarantees.
func startProcess(argv []string, dir, outPath string) (*process, error) {
	out, err := os.OpenFile(outPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("lab: start %s: %w", argv[0], err)
	}
	defer out.Close() // the child has its own copy
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = dir
	cmd.Stdout = out
	cmd.Stderr = out
	cmd.SysProcAttr = sysProcAttr()
	adoptOrphans()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("lab: start %s: %w", strings.Join(argv, " "), err)
	}
	p := &process{cmd: cmd, pgid: cmd.Process.Pid, exited: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.exited)
	}()
	return p, nil
}

func (p *process) pid() int { return p.cmd.Process.Pid }

func (p *process) hasExited() bool {
	select {
	case <-p.exited:
		return true
	default:
		return false
	}
}

// stop sends SIGTERM to the group, gives it grace to exit, then SIGKILLs
// whatever is left, and reports any member still running after that.
// It is idempotent.
func (p *process) stop(grace time.Duration) error {
	p.stopOnce.Do(func() { p.stopErr = p.terminate(grace) })
	return p.stopErr
}

func (p *process) terminate(grace time.Duration) error {
	signalGroup(p.pgid, syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(grace):
	}
	// Children outliving their leader are killed too.
	signalGroup(p.pgid, syscall.SIGKILL)
	select {
	case <-p.exited:
	case <-time.After(5 * time.Second):
		return fmt.Errorf("lab: stop pid %d: leader did not exit after SIGKILL", p.pgid)
	}
	deadline := time.Now().Add(2 * time.Second)
	for {
		var live []int
		for _, m := range groupMembers(p.pgid) {
			if !m.zombie {
				live = append(live, m.pid)
			} else if !reap(m.pid) {
				// A zombie whose parent is another member: it comes to us
				// once that parent is gone.
				live = append(live, m.pid)
			}
		}
		if len(live) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("lab: stop pid %d: %w: %v", p.pgid, ErrStray, live)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// reap waits for pid if it is a zombie child of ours (an orphan we
// adopted), without touching children os/exec is waiting for.
func reap(pid int) bool {
	var ws syscall.WaitStatus
	got, err := syscall.Wait4(pid, &ws, syscall.WNOHANG, nil)
	return err == nil && got == pid
}

// signalGroup ignores errors: ESRCH means the group is already gone, and
// stop reports any member that survives.
func signalGroup(pgid int, sig syscall.Signal) {
	_ = syscall.Kill(-pgid, sig)
}

type member struct {
	pid    int
	zombie bool
}

// groupMembers lists the processes in process group pgid.
func groupMembers(pgid int) []member {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var ms []member
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		state, pgrp, ok := procState(pid)
		if ok && pgrp == pgid {
			ms = append(ms, member{pid, state == "Z" || state == "X"})
		}
	}
	return ms
}

// procState reads a process's state and process group from
// /proc/PID/stat. The command name may hold spaces and parentheses, so
// fields are counted from the last ')'.
func procState(pid int) (state string, pgrp int, ok bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return "", 0, false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return "", 0, false
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 3 {
		return "", 0, false
	}
	pgrp, err = strconv.Atoi(f[2])
	return f[0], pgrp, err == nil
}
