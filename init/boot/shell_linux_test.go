package boot

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// openPTY opens a pseudo-terminal pair: the test is the person at the
// master end, the shell gets the slave as its console.
func openPTY(t *testing.T) (master *os.File, slave string) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatalf("pty: %v", err)
	}
	t.Cleanup(func() { m.Close() })
	if err := unix.IoctlSetPointerInt(int(m.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatalf("pty unlock: %v", err)
	}
	n, err := unix.IoctlGetInt(int(m.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatalf("pty number: %v", err)
	}
	slave = fmt.Sprintf("/dev/pts/%d", n)
	// Held open, so the master does not read EIO between two shells.
	s, err := os.OpenFile(slave, os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatalf("pty: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return m, slave
}

// TestRunShell runs a shell on a terminal: it gets the terminal as its
// controlling terminal in a session of its own, reads what is typed,
// is started again when it exits, and is killed when the context ends.
func TestRunShell(t *testing.T) {
	master, slave := openPTY(t)
	shell := filepath.Join(t.TempDir(), "sh")
	script := `#!/bin/sh
echo "started pid=$$ sid=$(ps -o sid= -p $$ | tr -d ' ') tty=$(tty)"
read line
echo "got $line"
`
	if err := os.WriteFile(shell, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	log, _ := newLog(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		RunShell(ctx, ShellOptions{Path: shell, TTY: slave, Restart: 10 * time.Millisecond, Log: log})
	}()
	defer func() {
		cancel()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Error("RunShell did not return after the context ended")
		}
	}()

	lines := make(chan string, 16)
	go func() {
		sc := bufio.NewScanner(master)
		for sc.Scan() {
			lines <- strings.TrimRight(sc.Text(), "\r")
		}
		close(lines)
	}()
	next := func(prefix string) string {
		t.Helper()
		for {
			select {
			case l, ok := <-lines:
				if !ok {
					t.Fatalf("terminal closed while waiting for %q", prefix)
				}
				if strings.HasPrefix(l, prefix) {
					return l
				}
			case <-time.After(10 * time.Second):
				t.Fatalf("no %q from the shell", prefix)
			}
		}
	}
	for i := range 2 {
		l := next("started ")
		var pid, sid int
		var tty string
		if _, err := fmt.Sscanf(l, "started pid=%d sid=%d tty=%s", &pid, &sid, &tty); err != nil {
			t.Fatalf("%q: %v", l, err)
		}
		if pid != sid || tty != slave {
			t.Errorf("shell %d: %q; want a session of its own on %s", i, l, slave)
		}
		fmt.Fprintf(master, "hello %d\n", i)
		if l := next("got "); l != fmt.Sprintf("got hello %d", i) {
			t.Errorf("shell %d read %q", i, l)
		}
	}
}

// TestRunShellAbsent: an image without the debug tools has no shell, and
// RunShell returns at once.
func TestRunShellAbsent(t *testing.T) {
	start := time.Now()
	RunShell(context.Background(), ShellOptions{Path: filepath.Join(t.TempDir(), "gosh")})
	if d := time.Since(start); d > time.Second {
		t.Errorf("RunShell without a shell returned after %v; want at once", d)
	}
}
