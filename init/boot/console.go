package boot

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// An operator rarely has a console on a node, but when they do (a serial
// cable at the IXP, QEMU in a test) it must show how far the node got. The
// node's structured log goes wherever init/node sends it; the Console is
// for the few lines meant for a person or a test harness waiting on the
// serial port, such as "goleudy: ready". Lines also go to /dev/kmsg, so
// they are in dmesg and in whatever the kernel keeps across a crash
// (pstore). A kernel printing info-level messages to its console shows
// them twice; a "quiet" one shows them once.

// Console writes lines to the system console and the kernel log.
type Console struct {
	mu      sync.Mutex
	console *os.File
	kmsg    *os.File
}

// kmsgMax is the longest record written to /dev/kmsg; the kernel
// truncates longer ones.
const kmsgMax = 976

// OpenConsole opens console and kmsg in dev ("" is /dev). Either may be
// missing; both missing is an error.
func OpenConsole(dev string) (*Console, error) {
	if dev == "" {
		dev = "/dev"
	}
	c := &Console{}
	var errs []error
	var err error
	if c.console, err = os.OpenFile(filepath.Join(dev, "console"), os.O_WRONLY|os.O_APPEND, 0); err != nil {
		errs = append(errs, err)
	}
	if c.kmsg, err = os.OpenFile(filepath.Join(dev, "kmsg"), os.O_WRONLY|os.O_APPEND, 0); err != nil {
		errs = append(errs, err)
	}
	if c.console == nil && c.kmsg == nil {
		return nil, fmt.Errorf("boot: console: %w", errors.Join(errs...))
	}
	return c, nil
}

// Write writes p to the console as it is, and each line of p to the
// kernel log as one info-level record. It succeeds if either took it.
func (c *Console) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var errs []error
	ok := false
	if c.console != nil {
		if _, err := c.console.Write(p); err != nil {
			errs = append(errs, err)
		} else {
			ok = true
		}
	}
	if c.kmsg != nil {
		kmsgOK := true
		for line := range bytes.SplitSeq(p, []byte("\n")) {
			if len(bytes.TrimSpace(line)) == 0 {
				continue
			}
			rec := append([]byte("<6>"), line[:min(len(line), kmsgMax)]...)
			if _, err := c.kmsg.Write(rec); err != nil {
				errs = append(errs, err)
				kmsgOK = false
				break
			}
		}
		ok = ok || kmsgOK
	}
	if !ok {
		return 0, fmt.Errorf("boot: console: %w", errors.Join(errs...))
	}
	return len(p), nil
}

// Close closes the console. It is safe to call more than once.
func (c *Console) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	var errs []error
	for _, f := range []**os.File{&c.console, &c.kmsg} {
		if *f != nil {
			errs = append(errs, (*f).Close())
			*f = nil
		}
	}
	return errors.Join(errs...)
}

// SinceKernelStart is how long ago the kernel started, from /proc/uptime:
// the clock for "kernel start to ready", which includes the time before
// PID 1 ran and which the node's own clock cannot see.
func SinceKernelStart() (time.Duration, error) {
	b, err := os.ReadFile("/proc/uptime")
	if err != nil {
		return 0, fmt.Errorf("boot: uptime: %w", err)
	}
	return parseUptime(string(b))
}

// parseUptime parses /proc/uptime: "12345.67 23456.78", seconds since
// boot and idle seconds.
func parseUptime(s string) (time.Duration, error) {
	f := strings.Fields(s)
	if len(f) == 0 {
		return 0, fmt.Errorf("boot: uptime %q: empty", s)
	}
	secs, err := strconv.ParseFloat(f[0], 64)
	if err != nil || !(secs >= 0 && secs <= 1e9) { // also NaN
		return 0, fmt.Errorf("boot: uptime %q: not a number of seconds", f[0])
	}
	return time.Duration(secs * float64(time.Second)).Round(time.Millisecond), nil
}
