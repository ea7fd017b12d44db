package boot

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

type reapedProc struct {
	pid    int
	status string
}

// TestReaper runs in a child process made a subreaper, so that orphans of
// its children come to it as they would to PID 1. Each round starts a
// shell through the Reaper; the shell leaves a background sleep behind
// and exits 3. The shell's status must reach Wait (the reaper did not
// steal it), and every orphaned sleep must be reaped.
func TestReaper(t *testing.T) {
	if !inChild(t) {
		runChild(t, nil)
		return
	}
	if err := setChildSubreaper(); err != nil {
		t.Fatal(err)
	}
	reaped := make(chan reapedProc, 100)
	log, _ := newLog(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	r := StartReaper(ctx, ReaperOptions{Log: log, OnReap: func(pid int, status string) { reaped <- reapedProc{pid, status} }})
	defer r.Close()

	pidfile := filepath.Join(t.TempDir(), "orphan.pid")
	orphans := map[int]bool{}
	for range 20 {
		// The orphan, cat, reads a pipe until the test closes it, after
		// the shell has gone: it outlives its parent for sure, and the
		// shell cannot reap it itself.
		pr, pw, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command("/bin/sh", "-c", "cat <&3 >/dev/null & echo $! > "+pidfile+"; exit 3")
		cmd.ExtraFiles = []*os.File{pr}
		if err := r.Start(cmd); err != nil {
			t.Fatal(err)
		}
		pr.Close()
		err = r.Wait(cmd)
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 3 {
			t.Fatalf("the shell's exit status did not reach Wait: %v", err)
		}
		pw.Close()
		b, err := os.ReadFile(pidfile)
		if err != nil {
			t.Fatal(err)
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil {
			t.Fatal(err)
		}
		orphans[pid] = true
	}
	waitReaped := func(want map[int]string) {
		t.Helper()
		deadline := time.After(20 * time.Second)
		for len(want) > 0 {
			select {
			case p := <-reaped:
				if st, ok := want[p.pid]; ok {
					if st != "" && p.status != st {
						t.Errorf("pid %d ended %q, want %q", p.pid, p.status, st)
					}
					delete(want, p.pid)
				}
			case <-deadline:
				for pid := range want {
					b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
					t.Logf("pid %d: %q %v", pid, b, err)
				}
				t.Fatalf("not reaped: %v (zombie children: %v)", want, zombieChildren("/proc", os.Getpid()))
			}
		}
	}
	want := map[int]string{}
	for pid := range orphans {
		want[pid] = "exit status 0"
	}
	waitReaped(want)

	// A child nobody waits for is reaped too, and so is an orphan that
	// was killed.
	p, err := os.StartProcess("/bin/sh", []string{"sh", "-c", "exit 5"}, &os.ProcAttr{})
	if err != nil {
		t.Fatal(err)
	}
	waitReaped(map[int]string{p.Pid: "exit status 5"})
	p.Release()
	var out strings.Builder
	cmd := exec.Command("/bin/sh", "-c", "sleep 60 >/dev/null 2>&1 & echo $!")
	cmd.Stdout = &out
	if err := r.Start(cmd); err != nil {
		t.Fatal(err)
	}
	if err := r.Wait(cmd); err != nil {
		t.Fatal(err)
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(out.String()))
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitReaped(map[int]string{pid: "signal: killed"})

	if z := zombieChildren("/proc", os.Getpid()); len(z) != 0 {
		t.Errorf("zombies left: %v", z)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	r.Close()
}

func TestNilReaperRuns(t *testing.T) {
	var r *Reaper
	cmd := exec.Command("/bin/sh", "-c", "exit 4")
	if err := r.Start(cmd); err != nil {
		t.Fatal(err)
	}
	var ee *exec.ExitError
	if err := r.Wait(cmd); !errors.As(err, &ee) || ee.ExitCode() != 4 {
		t.Errorf("Wait = %v", err)
	}
}

func TestParseProcStat(t *testing.T) {
	for _, tc := range []struct {
		in    string
		state string
		ppid  int
		ok    bool
	}{
		{"1234 (sleep) Z 1 1234 1234 0 -1 4194560", "Z", 1, true},
		{"99 (a (weird) name) S 42 99 99", "S", 42, true},
		{"99 (x) R", "", 0, false},
		{"garbage", "", 0, false},
		{"7 (x) S notanumber", "S", 0, false},
	} {
		state, ppid, ok := parseProcStat(tc.in)
		if state != tc.state && tc.ok || ppid != tc.ppid || ok != tc.ok {
			t.Errorf("parseProcStat(%q) = %q %d %v", tc.in, state, ppid, ok)
		}
	}
}
