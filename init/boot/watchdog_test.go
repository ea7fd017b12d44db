package boot

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/goleudy/goleudy/services/clock/clocktest"
)

// fakeWatchdog is a plain file standing in for /dev/watchdog: writes (the
// keepalives) land in it, and the ioctls fail as on any file.
func fakeWatchdog(t *testing.T) string {
	p := filepath.Join(t.TempDir(), "watchdog")
	if err := os.WriteFile(p, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestWatchdogPets(t *testing.T) {
	dev := fakeWatchdog(t)
	clk := clocktest.NewFake(time.Unix(0, 0))
	log, lb := newLog(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	w, err := StartWatchdog(ctx, WatchdogOptions{Device: dev, Timeout: 9 * time.Second, Clock: clk, Log: log})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if w.Timeout() != 9*time.Second {
		t.Errorf("timeout = %v", w.Timeout())
	}
	// Opening arms the watchdog; the first keepalive is at once.
	if w.Pets() != 1 {
		t.Fatalf("pets at start = %d", w.Pets())
	}
	for i := 2; i <= 5; i++ {
		if err := clk.BlockUntil(ctx, 1); err != nil {
			t.Fatal(err)
		}
		clk.Advance(2 * time.Second) // under a third of the timeout: no keepalive yet
		if w.Pets() != uint64(i-1) {
			t.Fatalf("petted after 2s of a 9s timeout")
		}
		clk.Advance(time.Second)
		if err := clk.BlockUntil(ctx, 1); err != nil { // re-armed: the keepalive is written
			t.Fatal(err)
		}
		if w.Pets() != uint64(i) {
			t.Fatalf("pets after %d intervals = %d", i-1, w.Pets())
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	b, err := os.ReadFile(dev)
	if err != nil {
		t.Fatal(err)
	}
	// Five keepalives and no magic close: the watchdog stays armed.
	if string(b) != "11111" {
		t.Errorf("device got %q, want five keepalives and no 'V'", b)
	}
	if !strings.Contains(lb.String(), "watchdog timeout not set; the driver keeps its own") {
		t.Error("a refused timeout was not logged")
	}
}

func TestWatchdogStopsWithContext(t *testing.T) {
	dev := fakeWatchdog(t)
	clk := clocktest.NewFake(time.Unix(0, 0))
	ctx, cancel := context.WithCancel(context.Background())
	w, err := StartWatchdog(ctx, WatchdogOptions{Device: dev, Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	if w.Timeout() != DefaultWatchdogTimeout {
		t.Errorf("default timeout = %v", w.Timeout())
	}
	cancel()
	<-w.done
	clk.Advance(time.Hour)
	if w.Pets() != 1 {
		t.Errorf("petted after ctx ended: %d", w.Pets())
	}
	w.Close()
}

func TestWatchdogErrors(t *testing.T) {
	ctx := context.Background()
	_, err := StartWatchdog(ctx, WatchdogOptions{Device: filepath.Join(t.TempDir(), "watchdog")})
	if !errors.Is(err, ErrNoWatchdog) {
		t.Errorf("missing device: %v, want ErrNoWatchdog", err)
	}
	if _, err := StartWatchdog(ctx, WatchdogOptions{Device: fakeWatchdog(t), Timeout: time.Millisecond}); err == nil ||
		!strings.Contains(err.Error(), "under a second") {
		t.Errorf("1ms timeout: %v", err)
	}
	ro := fakeWatchdog(t)
	os.Chmod(ro, 0o400)
	if os.Geteuid() != 0 {
		if _, err := StartWatchdog(ctx, WatchdogOptions{Device: ro}); !errors.Is(err, os.ErrPermission) {
			t.Errorf("unwritable device: %v", err)
		}
	}
}

// TestWatchdogFIFO pets a FIFO, as a test harness would read keepalives
// from one, and checks the real ioctls fail on it the way a driver that
// refuses them does.
func TestWatchdogFIFO(t *testing.T) {
	dev := filepath.Join(t.TempDir(), "watchdog")
	if err := syscall.Mkfifo(dev, 0o600); err != nil {
		t.Fatal(err)
	}
	clk := clocktest.NewFake(time.Unix(0, 0))
	w, err := StartWatchdog(context.Background(), WatchdogOptions{Device: dev, Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	r, err := os.Open(dev)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	b := make([]byte, 1)
	if _, err := r.Read(b); err != nil || b[0] != '1' {
		t.Fatalf("first keepalive: %q %v", b, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	clk.BlockUntil(ctx, 1)
	clk.Advance(10 * time.Second)
	if _, err := r.Read(b); err != nil || b[0] != '1' {
		t.Fatalf("second keepalive: %q %v", b, err)
	}
	w.Close()
}
