package boot

import (
	"context"
	"errors"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/goleudy/goleudy/services/clock/clocktest"
)

// fakeKernel records reboot(2) calls; it refuses the first refuse calls.
type fakeKernel struct {
	mu     sync.Mutex
	calls  []powerCmd
	refuse int
	called chan struct{}
}

func (k *fakeKernel) reboot(cmd powerCmd) error {
	k.mu.Lock()
	k.calls = append(k.calls, cmd)
	n := len(k.calls)
	k.mu.Unlock()
	if k.called != nil {
		k.called <- struct{}{}
	}
	if n <= k.refuse {
		return syscall.EPERM
	}
	return nil
}

func TestPowerReboot(t *testing.T) {
	log, lb := newLog(t)
	k := &fakeKernel{}
	dir := t.TempDir() // not a mount point: unmount and remount both fail
	w, err := StartWatchdog(context.Background(), WatchdogOptions{Device: fakeWatchdog(t), Clock: clocktest.NewFake(time.Unix(0, 0))})
	if err != nil {
		t.Fatal(err)
	}
	p := &Power{Log: log, Unmount: []string{dir}, Watchdog: w, kernel: k.reboot}
	if err := p.Reboot(); err != nil {
		t.Fatal(err)
	}
	if err := p.PowerOff(); err != nil {
		t.Fatal(err)
	}
	if len(k.calls) != 2 || k.calls[0] != cmdRestart || k.calls[1] != cmdPowerOff {
		t.Errorf("kernel calls = %v", k.calls)
	}
	for _, s := range []string{`"msg":"shutting down","action":"restart"`, `"msg":"shutting down","action":"power off"`,
		`"msg":"could not unmount or remount read-only","action":"restart","dir":"` + dir} {
		if !strings.Contains(lb.String(), s) {
			t.Errorf("log lacks %s", s)
		}
	}
	select {
	case <-w.done:
	default:
		t.Error("the watchdog is still petted during the reboot")
	}
	k.refuse = 10
	if err := p.Reboot(); !errors.Is(err, syscall.EPERM) || !strings.Contains(err.Error(), "boot: restart:") {
		t.Errorf("refused reboot: %v", err)
	}
}

// TestRealRebootRefusedOutsidePID1 calls the real reboot path: outside
// PID 1 it must refuse, or a test (or a lab node) would reboot the host.
func TestRealRebootRefusedOutsidePID1(t *testing.T) {
	if err := (&Power{}).Reboot(); !errors.Is(err, ErrNotPID1) {
		t.Fatalf("Reboot outside PID 1 = %v, want ErrNotPID1", err)
	}
	if err := (&Power{}).PowerOff(); !errors.Is(err, ErrNotPID1) {
		t.Fatalf("PowerOff outside PID 1 = %v, want ErrNotPID1", err)
	}
}

// TestFatalRebootsAfterDelay: Fatal waits the delay, reboots, and when
// the kernel refuses, tries again a minute later, and never returns.
func TestFatalRebootsAfterDelay(t *testing.T) {
	log, lb := newLog(t)
	clk := clocktest.NewFake(time.Unix(0, 0))
	k := &fakeKernel{refuse: 1, called: make(chan struct{})}
	p := &Power{Log: log, Clock: clk, kernel: func(cmd powerCmd) error {
		err := k.reboot(cmd)
		if err == nil {
			runtime.Goexit() // the machine is gone; so is this goroutine
		}
		return err
	}}
	returned := make(chan struct{})
	exited := make(chan struct{})
	go func() {
		defer close(exited)
		p.Fatal(errors.New("config store unreadable"), 5*time.Second)
		close(returned)
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	clk.BlockUntil(ctx, 1)
	clk.Advance(4 * time.Second)
	select {
	case <-k.called:
		t.Fatal("rebooted before the delay")
	default:
	}
	clk.Advance(time.Second)
	<-k.called // refused
	clk.BlockUntil(ctx, 1)
	clk.Advance(retryReboot)
	<-k.called
	<-exited
	select {
	case <-returned:
		t.Fatal("Fatal returned")
	default:
	}
	for _, s := range []string{`"msg":"FATAL: the node cannot go on; rebooting so the bootloader can fall back","err":"config store unreadable"`,
		`"msg":"reboot failed; trying again"`} {
		if !strings.Contains(lb.String(), s) {
			t.Errorf("log lacks %s", s)
		}
	}
}
