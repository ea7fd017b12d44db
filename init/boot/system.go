package boot

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/goleudy/goleudy/services/clock"
)

// NoWatchdog, as Options.Watchdog, leaves the watchdog alone.
const NoWatchdog = "none"

// Options configure Run. The zero value, with a Log, is a node's boot.
type Options struct {
	Hostname string

	// Modules come from the board definition; they load with their
	// dependencies before the watchdog and disks, whose drivers they
	// may be.
	Modules       []string
	ModuleOptions ModuleOptions

	DataLabel  string // "" is GOLEUDY-DATA
	DataDir    string // "" is /data
	BootLabel  string // "" is GOLEUDY-BOOT
	BootDir    string // "" is /boot
	SeedFile   string // inside the boot partition; "" is goleudy/seed.json
	DeviceWait time.Duration
	Disks      Disks

	Watchdog        string // the device; "" is /dev/watchdog; NoWatchdog for none
	WatchdogTimeout time.Duration

	// Root is where the pseudo-filesystems are mounted, and where the
	// console is found; "" is "/". Steps, if not nil, replace
	// DefaultSteps(Root, Hostname).
	Root  string
	Steps []Step

	// Reap starts the orphan reaper even if this process is not PID 1,
	// as a test under a subreaper does. PID 1 always reaps.
	Reap bool

	Clock clock.Clock
	Log   *slog.Logger
}

// System is what boot leaves for the rest of the node.
type System struct {
	Data     Data          // the data directory: persistent or not, recreated or not
	Boot     BootPartition // zero if there is no boot partition
	Console  *Console      // nil if there is no console
	Watchdog *Watchdog     // nil if there is no watchdog
	Reaper   *Reaper       // nil unless PID 1 (or Options.Reap)
	Power    *Power        // reboots and powers off cleanly

	closeOnce sync.Once
}

// DataDir is where the node keeps its state.
func (s *System) DataDir() string { return s.Data.Dir }

// Seed is the seed file's path, or "" if the boot partition had none.
func (s *System) Seed() string { return s.Boot.Seed }

// Run does PID 1's duties in order: boot steps, console, reaper, kernel
// modules, watchdog, boot partition, data partition. Only a failed boot
// step or a data directory that cannot be mounted at all is an error,
// after which the caller should call Fatal; everything else is logged and
// the node goes on with less (no watchdog, no seed, state in RAM).
func Run(ctx context.Context, opts Options) (*System, error) {
	if opts.Log == nil {
		return nil, errors.New("boot: Run needs a logger")
	}
	if opts.Clock == nil {
		opts.Clock = clock.Real()
	}
	log := opts.Log
	root := opts.Root
	if root == "" {
		root = "/"
	}
	steps := opts.Steps
	if steps == nil {
		steps = DefaultSteps(root, opts.Hostname)
	}
	if err := RunSteps(log, steps); err != nil {
		return nil, err
	}
	if up, err := SinceKernelStart(); err == nil {
		log.Info("boot steps done", "since_kernel_start", up)
	}
	s := &System{}
	ok := false
	defer func() {
		if !ok {
			s.Close()
		}
	}()
	var err error
	if s.Console, err = OpenConsole(filepath.Join(root, "dev")); err != nil {
		log.Warn("no console", "err", err)
	}
	if opts.Reap || os.Getpid() == 1 {
		s.Reaper = StartReaper(ctx, ReaperOptions{Log: log.With("part", "reaper")})
	}
	if err := LoadModules(log.With("part", "modules"), opts.Modules, opts.ModuleOptions); err != nil {
		log.Error("kernel modules missing; going on without them", "err", err)
	}
	if opts.Watchdog != NoWatchdog {
		s.Watchdog, err = StartWatchdog(ctx, WatchdogOptions{Device: opts.Watchdog, Timeout: opts.WatchdogTimeout,
			Clock: opts.Clock, Log: log.With("part", "watchdog")})
		switch {
		case errors.Is(err, ErrNoWatchdog):
			log.Info("no hardware watchdog; a hung node will not reset itself", "err", err)
		case err != nil:
			log.Error("watchdog not armed; a hung node will not reset itself", "err", err)
		}
	}
	s.Boot, err = MountBoot(ctx, BootOptions{Label: opts.BootLabel, Dir: opts.BootDir, Seed: opts.SeedFile,
		Disks: opts.Disks, Wait: opts.DeviceWait, Clock: opts.Clock, Log: log.With("part", "bootfs")})
	if err != nil {
		log.Error("no boot partition; no seed file", "err", err)
	}
	s.Data, err = MountData(ctx, DataOptions{Label: opts.DataLabel, Dir: opts.DataDir,
		Disks: opts.Disks, Wait: opts.DeviceWait, Clock: opts.Clock, Log: log.With("part", "data")})
	if err != nil {
		return nil, fmt.Errorf("boot: no data directory at all: %w", err)
	}
	s.Power = &Power{Log: log.With("part", "power"), Clock: opts.Clock, Watchdog: s.Watchdog}
	if s.Data.Persistent {
		s.Power.Unmount = append(s.Power.Unmount, s.Data.Dir)
	}
	if s.Boot.Dir != "" {
		s.Power.Unmount = append(s.Power.Unmount, s.Boot.Dir)
	}
	ok = true
	return s, nil
}

// Close stops the reaper and the watchdog's petting and closes the
// console. The watchdog stays armed, so on a node Close belongs just
// before a reboot: the board resets one watchdog timeout later whatever
// happens. It is safe to call more than once.
func (s *System) Close() error {
	var errs []error
	s.closeOnce.Do(func() {
		if s.Reaper != nil {
			errs = append(errs, s.Reaper.Close())
		}
		if s.Watchdog != nil {
			errs = append(errs, s.Watchdog.Close())
		}
		if s.Console != nil {
			errs = append(errs, s.Console.Close())
		}
	})
	return errors.Join(errs...)
}
