package boot

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"syscall"
	"time"
)

// A posted node has no shell: nothing in its initramfs but goleudy-node
// runs. An image built for the bench (`goleudy image build --debug`)
// also carries u-root's commands (image/debugtools), and a shell is only
// of use if it is on the serial console the operator is looking at. So
// PID 1 runs DebugShell there when the initramfs has it, and again
// whenever it exits, for as long as the node runs. The node's own log
// shares the console; the shell is for asking "why", not for reading.

// DebugShell is where a debug image has its shell.
const DebugShell = "/bin/gosh"

// ShellOptions configure RunShell.
type ShellOptions struct {
	Path    string        // the shell; "" is DebugShell
	TTY     string        // the terminal; "" is /dev/console
	Reaper  *Reaper       // PID 1's reaper, which must not take the shell's exit status
	Restart time.Duration // wait before starting an exited shell again; 0 is a second
	Log     *slog.Logger
}

// RunShell runs the shell on the terminal until ctx ends, starting it
// again each time it exits, and kills it when ctx ends. Without the shell
// (every image not built for debugging) it returns at once.
func RunShell(ctx context.Context, o ShellOptions) {
	if o.Path == "" {
		o.Path = DebugShell
	}
	if o.TTY == "" {
		o.TTY = "/dev/console"
	}
	if o.Restart <= 0 {
		o.Restart = time.Second
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if _, err := os.Stat(o.Path); errors.Is(err, os.ErrNotExist) {
		return
	}
	o.Log.Warn("debug image: a shell runs on the console; do not post this image", "shell", o.Path, "tty", o.TTY)
	for {
		err := runShellOnce(ctx, o)
		if ctx.Err() != nil {
			return
		}
		o.Log.Info("debug shell exited; starting another", "err", err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(o.Restart):
		}
	}
}

// runShellOnce runs one shell in a new session with the terminal as its
// controlling terminal (so ^C reaches it and not PID 1), or without one
// if the terminal will not be that.
func runShellOnce(ctx context.Context, o ShellOptions) error {
	tty, err := os.OpenFile(o.TTY, os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("boot: shell: %w", err)
	}
	defer tty.Close()
	start := func(ctty bool) (*exec.Cmd, error) {
		cmd := exec.CommandContext(ctx, o.Path)
		cmd.Stdin, cmd.Stdout, cmd.Stderr = tty, tty, tty
		cmd.Env = []string{"PATH=/bin:/sbin", "HOME=/", "TERM=vt100"}
		cmd.Dir = "/"
		cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: ctty, Ctty: 0}
		return cmd, o.Reaper.Start(cmd)
	}
	cmd, err := start(true)
	if err != nil {
		o.Log.Info("debug shell: no controlling terminal", "tty", o.TTY, "err", err)
		if cmd, err = start(false); err != nil {
			return fmt.Errorf("boot: shell %s: %w", o.Path, err)
		}
	}
	return o.Reaper.Wait(cmd)
}
