package boot

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/goleudy/goleudy/services/clock"
)

// The hardware watchdog resets a node whose PID 1 has hung, which on a
// board in a rack nobody visits is the only way back. Opening the device
// arms it; from then on a goroutine writes to it every third of the
// timeout.
//
// Close stops the petting and closes the device WITHOUT the magic close
// character ('V'), so the watchdog stays armed. That is deliberate: Close
// is called on the way to a reboot or power-off, and if that hangs (an
// unmount that never returns, a wedged driver) the watchdog still resets
// the board. Nothing on a node ever wants the watchdog off, and kernels
// built with CONFIG_WATCHDOG_NOWAYOUT ignore the magic close anyway.
//
// u-root's pkg/watchdog is not used: its SetTimeout passes the address of
// a time.Duration (nanoseconds, 64 bits) where the kernel reads a C int of
// seconds.

// Watchdog defaults.
const (
	DefaultWatchdogDevice  = "/dev/watchdog"
	DefaultWatchdogTimeout = 30 * time.Second
)

// ErrNoWatchdog is returned when the board has no watchdog device. The
// node runs without one.
var ErrNoWatchdog = errors.New("no watchdog device")

// WatchdogOptions configure StartWatchdog. Zero values take the defaults.
type WatchdogOptions struct {
	Device  string
	Timeout time.Duration // rounded to whole seconds for the driver
	Clock   clock.Clock
	Log     *slog.Logger
}

// Watchdog is an armed hardware watchdog and the goroutine that pets it.
type Watchdog struct {
	f        *os.File
	log      *slog.Logger
	clk      clock.Clock
	timeout  time.Duration // what the driver took, or what was asked
	interval time.Duration
	pets     atomic.Uint64

	cancel    context.CancelFunc
	done      chan struct{}
	closeOnce sync.Once
	closeErr  error
}

// StartWatchdog opens and so arms the watchdog, asks for the timeout, and
// pets it until ctx ends or Close is called. A missing device returns an
// error wrapping ErrNoWatchdog. A driver that refuses the timeout (or a
// plain file standing in for a device) keeps its own, and the watchdog is
// petted as if it had taken the one asked for.
func StartWatchdog(ctx context.Context, opts WatchdogOptions) (*Watchdog, error) {
	if opts.Device == "" {
		opts.Device = DefaultWatchdogDevice
	}
	if opts.Timeout == 0 {
		opts.Timeout = DefaultWatchdogTimeout
	}
	if opts.Timeout < time.Second {
		return nil, fmt.Errorf("boot: watchdog %s: timeout %v is under a second", opts.Device, opts.Timeout)
	}
	if opts.Clock == nil {
		opts.Clock = clock.Real()
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	f, err := os.OpenFile(opts.Device, os.O_RDWR, 0)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("boot: watchdog %s: %w", opts.Device, ErrNoWatchdog)
	}
	if err != nil {
		return nil, fmt.Errorf("boot: watchdog: %w", err)
	}
	log := opts.Log.With("device", opts.Device)
	w := &Watchdog{f: f, log: log, clk: opts.Clock, timeout: opts.Timeout, done: make(chan struct{})}
	if reset, err := watchdogCausedReset(f); err == nil && reset {
		log.Warn("the watchdog reset this board last time: the previous boot hung")
	}
	asked := int(opts.Timeout / time.Second)
	if got, err := watchdogSetTimeout(f, asked); err != nil {
		log.Warn("watchdog timeout not set; the driver keeps its own", "asked", opts.Timeout, "err", err)
	} else if got > 0 {
		w.timeout = time.Duration(got) * time.Second
	}
	w.interval = w.timeout / 3
	if err := w.pet(); err != nil {
		f.Close()
		return nil, fmt.Errorf("boot: watchdog %s: first keepalive: %w", opts.Device, err)
	}
	log.Info("watchdog armed", "timeout", w.timeout, "interval", w.interval)
	ctx, w.cancel = context.WithCancel(ctx)
	go w.run(ctx)
	return w, nil
}

// Timeout is the timeout the watchdog runs with.
func (w *Watchdog) Timeout() time.Duration { return w.timeout }

// Pets is how many keepalives have been written.
func (w *Watchdog) Pets() uint64 { return w.pets.Load() }

func (w *Watchdog) pet() error {
	// Any write is a keepalive. It must not be 'V', the magic close.
	if _, err := w.f.Write([]byte{'1'}); err != nil {
		return err
	}
	w.pets.Add(1)
	return nil
}

func (w *Watchdog) run(ctx context.Context) {
	defer close(w.done)
	t := w.clk.NewTimer(w.interval)
	defer t.Stop()
	failing := false
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C():
		}
		err := w.pet()
		switch {
		case err != nil && !failing:
			w.log.Error("watchdog keepalive failed; the board will reset if this goes on", "err", err)
		case err == nil && failing:
			w.log.Info("watchdog keepalive works again")
		}
		failing = err != nil
		t.Reset(w.interval)
	}
}

// Close stops petting and closes the device, leaving the watchdog armed
// (see the top of this file). It is safe to call more than once.
func (w *Watchdog) Close() error {
	w.closeOnce.Do(func() {
		w.cancel()
		<-w.done
		if err := w.f.Close(); err != nil {
			w.closeErr = fmt.Errorf("boot: watchdog: close: %w", err)
		}
		w.log.Info("watchdog no longer petted; it stays armed")
	})
	return w.closeErr
}
