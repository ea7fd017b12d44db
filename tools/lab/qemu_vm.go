package lab

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// VM is a running QEMU started by StartQEMU. Its serial console is read
// line by line as it arrives; WaitLine consumes lines in order, Lines
// shows all of them. The VM is stopped when the test ends, and a failed
// test gets the console's tail in its log.
type VM struct {
	// Disk is the image QEMU runs on: QEMU.Disk, or on an SD card whose
	// size is not a power of two (QEMU refuses those), a padded copy.
	// Read the guest's writes here.
	Disk string

	start   time.Time
	timeout time.Duration
	cmd     *exec.Cmd
	ctx     context.Context // ends at the timeout, or when QEMU has exited
	cancel  context.CancelFunc
	stderr  syncBuffer     // QEMU's own messages
	stdin   io.WriteCloser // the serial console's input

	exited  chan struct{} // closed once QEMU has exited and its console is drained
	exitErr error         // QEMU's exit status, once exited is closed

	mu      sync.Mutex
	lines   []consoleLine
	cursor  int           // WaitLine searches from here
	changed chan struct{} // closed and replaced when a line arrives

	stopOnce sync.Once
	stopErr  error
}

type consoleLine struct {
	text string
	at   time.Duration // since QEMU started
}

// ConsoleTail is how many console lines a failed test's log gets.
const ConsoleTail = 80

// EnvBootTimes names a file that VM.LogTiming appends its measurements
// to (label, line, seconds; tab-separated), for the closing notes.
const EnvBootTimes = "GOLEUDY_BOOT_TIMES"

// StartQEMU starts q and returns the running VM. It creates each NIC's
// TAP in its namespace first (that needs root), and fails the test,
// naming the Debian package, when QEMU or its firmware is missing.
func StartQEMU(tb testing.TB, q QEMU) *VM {
	tb.Helper()
	if err := q.check(); err != nil {
		tb.Fatal(err)
	}
	tool, _ := q.tool()
	Require(tb, tool)
	switch q.firmware() {
	case FirmwareOVMF:
		for _, f := range []FirmwareFile{OVMFCode, OVMFVars} {
			if err := f.Check(); err != nil {
				tb.Fatal(err)
			}
		}
	case FirmwareSeaBIOS:
		if err := SeaBIOSFile.Check(); err != nil {
			tb.Fatal(err)
		}
	}
	dir := tb.TempDir()
	vm := &VM{Disk: q.Disk, exited: make(chan struct{}), changed: make(chan struct{})}
	var vars string
	if q.firmware() == FirmwareOVMF {
		vars = filepath.Join(dir, "OVMF_VARS.fd")
		if err := copyPadded(OVMFVars.Path, vars, 0); err != nil {
			tb.Fatalf("lab: qemu: OVMF variables: %v", err)
		}
	}
	if q.Disk != "" && q.diskBus() == DiskSD {
		disk, err := sdCard(q.Disk, dir)
		if err != nil {
			tb.Fatalf("lab: qemu: %v", err)
		}
		vm.Disk = disk
	}
	taps := openTaps(tb, q.NICs)
	defer func() {
		// QEMU holds its own copies; ours would keep the TAPs alive.
		for _, f := range taps {
			f.Close()
		}
	}()

	path, _ := tool.Path()
	timeout := q.Timeout
	if timeout <= 0 {
		timeout = DefaultQEMUTimeout
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	vm.ctx, vm.cancel, vm.timeout = ctx, cancel, timeout
	vm.cmd = exec.CommandContext(ctx, path, q.args(vars, vm.Disk)...)
	vm.cmd.Dir = dir
	vm.cmd.ExtraFiles = taps
	vm.cmd.Stderr = &vm.stderr
	vm.cmd.SysProcAttr = sysProcAttr()
	stdout, err := vm.cmd.StdoutPipe()
	if err == nil {
		vm.stdin, err = vm.cmd.StdinPipe()
	}
	if err != nil {
		cancel()
		tb.Fatalf("lab: qemu: %v", err)
	}
	vm.start = time.Now()
	if err := vm.cmd.Start(); err != nil {
		cancel()
		tb.Fatalf("lab: qemu: start %s: %v", vm.cmd, err)
	}
	tb.Logf("lab: qemu started: %s", vm.cmd)
	go vm.read(stdout)
	tb.Cleanup(func() {
		if err := vm.Stop(); err != nil {
			tb.Error(err)
		}
		if tb.Failed() {
			tb.Logf("lab: qemu console, last %d lines:\n%s", ConsoleTail, vm.tail(ConsoleTail))
			if s := strings.TrimSpace(vm.stderr.String()); s != "" {
				tb.Logf("lab: qemu stderr:\n%s", s)
			}
		}
		vm.saveArtifact(tb)
	})
	return vm
}

// read owns the console: it splits QEMU's output into lines until QEMU
// closes it by exiting, then reaps QEMU. It is the VM's only goroutine.
func (vm *VM) read(stdout io.Reader) {
	r := bufio.NewReader(stdout)
	for {
		line, err := r.ReadString('\n')
		if line != "" {
			vm.add(strings.TrimRight(line, "\r\n"))
		}
		if err != nil {
			break
		}
	}
	vm.exitErr = vm.cmd.Wait()
	vm.cancel()
	close(vm.exited)
	vm.mu.Lock()
	close(vm.changed) // wake waiters to see the exit
	vm.changed = make(chan struct{})
	vm.mu.Unlock()
}

func (vm *VM) add(text string) {
	at := time.Since(vm.start)
	vm.mu.Lock()
	defer vm.mu.Unlock()
	vm.lines = append(vm.lines, consoleLine{text, at})
	close(vm.changed)
	vm.changed = make(chan struct{})
}

// Expect waits up to within for a console line containing substr, after
// the line the previous Expect or WaitLine matched, and returns it. So a
// test can follow a boot, a reboot and a second boot in order.
func (vm *VM) Expect(substr string, within time.Duration) (string, error) {
	return vm.expect(func(s string) bool { return strings.Contains(s, substr) }, fmt.Sprintf("%q", substr), within)
}

// ExpectRegexp is Expect with a regular expression.
func (vm *VM) ExpectRegexp(re *regexp.Regexp, within time.Duration) (string, error) {
	return vm.expect(re.MatchString, "/"+re.String()+"/", within)
}

func (vm *VM) expect(match func(string) bool, what string, within time.Duration) (string, error) {
	timer := time.NewTimer(within)
	defer timer.Stop()
	for {
		vm.mu.Lock()
		for i := vm.cursor; i < len(vm.lines); i++ {
			if text := vm.lines[i].text; match(text) {
				vm.cursor = i + 1
				vm.mu.Unlock()
				return text, nil
			}
		}
		vm.cursor = len(vm.lines)
		changed := vm.changed
		vm.mu.Unlock()
		select {
		case <-vm.exited:
			// Lines that arrived with the exit are in; look once more.
			vm.mu.Lock()
			rest := len(vm.lines) > vm.cursor
			vm.mu.Unlock()
			if rest {
				continue
			}
			return "", fmt.Errorf("lab: qemu: console line %s: %w (%s) after %v: %s",
				what, ErrVMExited, vm.exitStatus(), time.Since(vm.start).Round(time.Millisecond), vm.stderrTail())
		case <-changed:
		case <-timer.C:
			return "", fmt.Errorf("lab: qemu: console line %s: %w within %v", what, ErrNoConsoleLine, within)
		}
	}
}

// Quiet is how long the console has had no new line.
func (vm *VM) Quiet() time.Duration {
	vm.mu.Lock()
	defer vm.mu.Unlock()
	last := time.Duration(0)
	if n := len(vm.lines); n > 0 {
		last = vm.lines[n-1].at
	}
	return time.Since(vm.start) - last
}

// WaitLine is Expect that fails the test.
func (vm *VM) WaitLine(tb testing.TB, substr string, within time.Duration) string {
	tb.Helper()
	line, err := vm.Expect(substr, within)
	if err != nil {
		tb.Fatal(err)
	}
	return line
}

// Lines returns every console line so far.
func (vm *VM) Lines() []string {
	vm.mu.Lock()
	defer vm.mu.Unlock()
	out := make([]string, len(vm.lines))
	for i, l := range vm.lines {
		out[i] = l.text
	}
	return out
}

// Elapsed is the time from QEMU's start to the first console line
// containing substr, and whether there is one yet.
func (vm *VM) Elapsed(substr string) (time.Duration, bool) {
	vm.mu.Lock()
	defer vm.mu.Unlock()
	for _, l := range vm.lines {
		if strings.Contains(l.text, substr) {
			return l.at, true
		}
	}
	return 0, false
}

// LogTiming logs how long the VM took from QEMU's start to the first
// line containing substr, under label ("rpi64 ready"), and appends it to
// the file $GOLEUDY_BOOT_TIMES names, if any. It fails the test if the
// line never came.
func (vm *VM) LogTiming(tb testing.TB, label, substr string) time.Duration {
	tb.Helper()
	d, ok := vm.Elapsed(substr)
	if !ok {
		tb.Fatalf("lab: qemu timing %s: no console line %q", label, substr)
	}
	tb.Logf("lab: timing %s: qemu start → %q in %.1fs", label, substr, d.Seconds())
	if file := os.Getenv(EnvBootTimes); file != "" {
		f, err := os.OpenFile(file, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err == nil {
			_, err = fmt.Fprintf(f, "%s\t%s\t%.1f\n", label, substr, d.Seconds())
			if cerr := f.Close(); err == nil {
				err = cerr
			}
		}
		if err != nil {
			tb.Errorf("lab: qemu timing: %s: %v", file, err)
		}
	}
	return d
}

// Wait waits up to within for QEMU to exit on its own, as it does when
// the guest powers off (or reboots, with NoReboot). It returns nil for a
// clean exit, ErrVMExited with the status otherwise, and ErrVMRunning if
// QEMU is still running. The raspi machines never exit on power-off:
// use Stop there.
func (vm *VM) Wait(within time.Duration) error {
	select {
	case <-vm.exited:
		if vm.exitErr != nil {
			return fmt.Errorf("lab: qemu: %w: %s: %s", ErrVMExited, vm.exitStatus(), vm.stderrTail())
		}
		return nil
	case <-time.After(within):
		return fmt.Errorf("lab: qemu: %w after %v", ErrVMRunning, within)
	}
}

// Type sends text to the serial console's input, as if typed there; a
// line typed to a shell ends with "\r", the Enter key on a terminal.
func (vm *VM) Type(text string) error {
	if _, err := io.WriteString(vm.stdin, text); err != nil {
		return fmt.Errorf("lab: qemu: typing on the console: %w", err)
	}
	return nil
}

// Kill cuts the power: QEMU gets SIGKILL at once, so nothing the guest
// has not yet written reaches Disk, and Kill waits for it to go. Like
// Stop, it is idempotent, and Stop after it does nothing.
func (vm *VM) Kill() error {
	vm.stopOnce.Do(func() {
		vm.cancel()
		select {
		case <-vm.exited:
		case <-time.After(10 * time.Second):
			vm.stopErr = fmt.Errorf("lab: qemu pid %d: did not exit after SIGKILL", vm.cmd.Process.Pid)
		}
	})
	return vm.stopErr
}

// Stop ends QEMU (SIGTERM, then SIGKILL) if it is still running and
// waits for it. It is idempotent; the test's cleanup calls it too.
func (vm *VM) Stop() error {
	vm.stopOnce.Do(func() {
		select {
		case <-vm.exited:
			return
		default:
		}
		_ = vm.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-vm.exited:
			return
		case <-time.After(3 * time.Second):
		}
		vm.cancel() // SIGKILL
		select {
		case <-vm.exited:
		case <-time.After(10 * time.Second):
			vm.stopErr = fmt.Errorf("lab: qemu pid %d: did not exit after SIGKILL", vm.cmd.Process.Pid)
		}
	})
	return vm.stopErr
}

func (vm *VM) exitStatus() string {
	select {
	case <-vm.exited:
	default:
		return "running"
	}
	if vm.exitErr == nil {
		return "exit status 0"
	}
	if errors.Is(vm.ctx.Err(), context.DeadlineExceeded) {
		return fmt.Sprintf("killed at its timeout of %v", vm.timeout)
	}
	return vm.exitErr.Error()
}

// stderrTail is QEMU's last words.
func (vm *VM) stderrTail() string {
	s := strings.TrimSpace(vm.stderr.String())
	if s == "" {
		return "no message on stderr"
	}
	if len(s) > 2000 {
		s = "…" + s[len(s)-2000:]
	}
	return s
}

func (vm *VM) tail(n int) string {
	lines := vm.Lines()
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// saveArtifact keeps the whole console under $GOLEUDY_ARTIFACTS/qemu
// (make test sets it), so a CI failure can be read in full.
func (vm *VM) saveArtifact(tb testing.TB) {
	base := os.Getenv("GOLEUDY_ARTIFACTS")
	if base == "" {
		return
	}
	dir := filepath.Join(base, "qemu")
	name := strings.NewReplacer("/", "_", " ", "_").Replace(tb.Name()) + ".console.txt"
	err := os.MkdirAll(dir, 0o755)
	if err == nil {
		err = os.WriteFile(filepath.Join(dir, name), []byte(strings.Join(vm.Lines(), "\n")+"\n"), 0o644)
	}
	if err != nil {
		tb.Logf("lab: qemu: save console: %v", err)
	}
}

// sdCard returns path, or a copy of it in dir grown to the next power of
// two: QEMU's SD card model accepts no other size. The copy is sparse.
func sdCard(path, dir string) (string, error) {
	st, err := os.Stat(path)
	if err != nil {
		return "", fmt.Errorf("sd card: %w", err)
	}
	size := st.Size()
	if size <= 0 {
		return "", fmt.Errorf("sd card %s: empty", path)
	}
	if size&(size-1) == 0 {
		return path, nil
	}
	padded := int64(1)
	for padded < size {
		padded <<= 1
	}
	copyPath := filepath.Join(dir, "sd-"+filepath.Base(path))
	if err := copyPadded(path, copyPath, padded); err != nil {
		return "", fmt.Errorf("sd card: %w", err)
	}
	return copyPath, nil
}

// copyPadded copies src to dst, then grows dst to size if that is larger.
func copyPadded(src, dst string, size int64) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	n, err := io.Copy(out, in)
	if err == nil && size > n {
		err = out.Truncate(size)
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("copy %s to %s: %w", src, dst, err)
	}
	return nil
}

// openTaps creates the TAP of every NIC that has a namespace, gives it
// its addresses or bridge, and returns the open descriptors in NIC order
// for QEMU's -netdev tap,fd=N.
func openTaps(tb testing.TB, nics []NIC) []*os.File {
	tb.Helper()
	var files []*os.File
	fail := func(err error) {
		for _, f := range files {
			f.Close()
		}
		tb.Fatalf("lab: qemu: %v", err)
	}
	for i, n := range nics {
		if n.Netns == nil {
			continue
		}
		name := n.tapName(i)
		f, err := openTap(n.Netns, name)
		if err != nil {
			fail(fmt.Errorf("NICs[%d]: tap %s in netns %s: %w", i, name, n.Netns.Name, err))
		}
		files = append(files, f)
		for _, addr := range n.Addrs {
			args := []string{"addr", "add", addr, "dev", name}
			if strings.Contains(addr, ":") {
				args = append(args, "nodad")
			}
			if err := n.Netns.IP(args...); err != nil {
				fail(err)
			}
		}
		link := []string{"link", "set", name}
		if n.Master != "" {
			link = append(link, "master", n.Master)
		}
		if err := n.Netns.IP(append(link, "up")...); err != nil {
			fail(err)
		}
	}
	return files
}

// syncBuffer is a bytes.Buffer that exec's copying goroutine and the
// test can use at once.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
