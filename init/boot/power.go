package boot

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/goleudy/goleudy/services/clock"
)

// PID 1 must never exit: the kernel panics when it does, and a panicked
// board sits there until someone power-cycles it. A node that cannot go on
// reboots instead, after a delay that lets its last log lines out, so the
// bootloader's boot counter sees another failed boot and falls back to the
// other A/B slot.

// ErrNotPID1 is returned instead of rebooting when this process is not
// PID 1: a node run by hand or by a test must never reboot the machine
// it runs on.
var ErrNotPID1 = errors.New("not PID 1; not rebooting the machine this runs on")

// retryReboot is how long RebootAfter waits before trying a failed reboot
// again.
const retryReboot = time.Minute

// Power reboots or powers off the node cleanly: it syncs, unmounts the
// data partition, and stops petting the watchdog before asking the
// kernel, so that a shutdown that hangs is still ended by the watchdog.
type Power struct {
	Log   *slog.Logger
	Clock clock.Clock
	// Unmount lists the mount points to unmount first, such as the data
	// directory. One that is busy is remounted read-only instead.
	Unmount  []string
	Watchdog *Watchdog

	kernel func(powerCmd) error // tests replace reboot(2)
}

// Reboot restarts the board. It returns only if the kernel refused.
func (p *Power) Reboot() error { return p.shutdown(cmdRestart) }

// PowerOff turns the board off. It returns only if the kernel refused.
func (p *Power) PowerOff() error { return p.shutdown(cmdPowerOff) }

func (p *Power) shutdown(cmd powerCmd) error {
	log := p.log().With("action", cmd.String())
	log.Warn("shutting down")
	syncFS()
	for _, dir := range p.Unmount {
		if err := unmount(dir); err != nil {
			if rerr := remountReadOnly(dir); rerr != nil {
				log.Error("could not unmount or remount read-only", "dir", dir, "unmount", err, "remount", rerr)
				continue
			}
			log.Warn("busy; remounted read-only", "dir", dir, "err", err)
			continue
		}
		log.Info("unmounted", "dir", dir)
	}
	syncFS()
	if p.Watchdog != nil {
		p.Watchdog.Close()
	}
	k := p.kernel
	if k == nil {
		k = reboot
	}
	if err := k(cmd); err != nil {
		return fmt.Errorf("boot: %s: %w", cmd, err)
	}
	return nil
}

func (p *Power) log() *slog.Logger {
	if p.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return p.Log
}

func (p *Power) clock() clock.Clock {
	if p.Clock == nil {
		return clock.Real()
	}
	return p.Clock
}

// RebootAfter waits delay and reboots. It never returns: a reboot the
// kernel refuses is logged and tried again every minute, and the watchdog
// (no longer petted) ends the wait if there is one.
func (p *Power) RebootAfter(delay time.Duration) {
	p.log().Warn("rebooting", "after", delay)
	<-p.clock().After(delay)
	for {
		err := p.Reboot()
		p.log().Error("reboot failed; trying again", "err", err, "after", retryReboot)
		<-p.clock().After(retryReboot)
	}
}

// Fatal logs err as the reason the node cannot go on and reboots after
// delay. It never returns.
func (p *Power) Fatal(err error, delay time.Duration) {
	p.log().Error("FATAL: the node cannot go on; rebooting so the bootloader can fall back", "err", err)
	p.RebootAfter(delay)
}

// Fatal is (&Power{Log: log}).Fatal(err, delay): for a failure before Run
// has returned a System, whose Power also unmounts the data partition.
func Fatal(log *slog.Logger, err error, delay time.Duration) {
	(&Power{Log: log}).Fatal(err, delay)
}

// RebootAfter is (&Power{Log: log}).RebootAfter(delay).
func RebootAfter(log *slog.Logger, delay time.Duration) {
	(&Power{Log: log}).RebootAfter(delay)
}

// reboot is reboot(2), refused unless this process is PID 1.
func reboot(cmd powerCmd) error {
	if os.Getpid() != 1 {
		return ErrNotPID1
	}
	return kernelReboot(cmd)
}
