package lab

import (
	"bufio"
	"io"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Proc is a program under test (goleudy serve, goleudy-node) whose log
// lines on stderr are collected, so a test can wait for a line such as the
// node's ready line. It is killed when the test ends, and its log is shown
// if the test failed.
type Proc struct {
	Name string
	Cmd  *exec.Cmd

	mu    sync.Mutex
	lines []string
	done  chan struct{}
}

// StartProc starts cmd, which must not have its Stderr set.
func StartProc(tb testing.TB, name string, cmd *exec.Cmd) *Proc {
	tb.Helper()
	p := &Proc{Name: name, Cmd: cmd, done: make(chan struct{})}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		tb.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	go func() {
		defer close(p.done)
		s := bufio.NewScanner(stderr)
		s.Buffer(make([]byte, 1<<20), 1<<20)
		for s.Scan() {
			p.mu.Lock()
			p.lines = append(p.lines, s.Text())
			p.mu.Unlock()
		}
		io.Copy(io.Discard, stderr)
		cmd.Wait()
	}()
	tb.Cleanup(func() {
		p.Kill()
		if tb.Failed() {
			tb.Logf("%s log:\n%s", name, Tail(p.Logs(), 20000))
		}
	})
	return p
}

// Logs is everything the process has written to stderr so far.
func (p *Proc) Logs() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return strings.Join(p.lines, "\n")
}

// Count is how many log lines contain substr.
func (p *Proc) Count(substr string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, l := range p.lines {
		if strings.Contains(l, substr) {
			n++
		}
	}
	return n
}

// Exited reports whether the process has ended.
func (p *Proc) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// WaitLogN waits until the log has at least n lines containing substr, and
// fails the test, with the log, if the process exits or within passes.
func (p *Proc) WaitLogN(tb testing.TB, substr string, n int, within time.Duration) {
	tb.Helper()
	deadline := time.Now().Add(within)
	for p.Count(substr) < n {
		if p.Exited() {
			tb.Fatalf("%s exited while waiting for %s:\n%s", p.Name, substr, Tail(p.Logs(), 20000))
		}
		if time.Now().After(deadline) {
			tb.Fatalf("%s: no %s after %v:\n%s", p.Name, substr, within, Tail(p.Logs(), 20000))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// WaitLog waits for a log line containing substr.
func (p *Proc) WaitLog(tb testing.TB, substr string, within time.Duration) {
	tb.Helper()
	p.WaitLogN(tb, substr, 1, within)
}

// Stop sends SIGTERM and fails the test unless the process exits cleanly
// (status 0) within 15 seconds.
func (p *Proc) Stop(tb testing.TB) {
	tb.Helper()
	p.Cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(15 * time.Second):
		tb.Fatalf("%s did not stop on SIGTERM:\n%s", p.Name, Tail(p.Logs(), 5000))
	}
	if code := p.Cmd.ProcessState.ExitCode(); code != 0 {
		tb.Fatalf("%s exited %d:\n%s", p.Name, code, Tail(p.Logs(), 5000))
	}
}

// Kill ends the process at once, as a power cut would, and waits for it.
func (p *Proc) Kill() {
	if !p.Exited() {
		p.Cmd.Process.Kill()
	}
	<-p.done
}

// Tail is the last n bytes of s.
func Tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}
