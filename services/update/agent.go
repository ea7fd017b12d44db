package update

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/goleudy/goleudy/image/bundle"
	"github.com/goleudy/goleudy/image/grub"
	"github.com/goleudy/goleudy/provision/api"
	"github.com/goleudy/goleudy/provision/config"
	"github.com/goleudy/goleudy/provision/envelope"
	"github.com/goleudy/goleudy/services/clock"
)

// Release is what a slot runs: the initramfs's board.json says.
type Release struct {
	Version string
	Build   uint64
}

// Options configure an Agent.
type Options struct {
	Board   string
	Running Release   // the booted slot's release
	Slot    grub.Slot // the booted slot
	// BootDir is the boot partition's mount point, with grubenv or
	// uboot.env; Remount says it is mounted read-only (PID 1).
	BootDir string
	Remount bool
	// SlotDevice finds a slot's partition.
	SlotDevice func(grub.Slot) (Device, error)
	// Dir is the agent's directory on the data partition.
	Dir string
	// Trust holds the release keys from the seed; nil refuses every
	// bundle.
	Trust *envelope.TrustSet
	// Client fetches bundles over the management tunnel.
	Client *http.Client
	// Drain takes the node out of service before the reboot: BGP
	// announces with GRACEFUL_SHUTDOWN, then withdraws. Nil skips it.
	Drain func(context.Context) error
	// DrainTimeout bounds Drain; default 2 minutes.
	DrainTimeout time.Duration
	// Reboot restarts the machine into the slot on trial.
	Reboot func() error
	// OnReport, if set, is called when the report's state changes, so
	// the node can send a heartbeat at once.
	OnReport func()
	// Retry is the wait after a failed download or write; it doubles up
	// to 16 times. Default 15 s.
	Retry time.Duration
	Clock clock.Clock
	Log   *slog.Logger
}

// An Agent installs the release the node's config asks for into the
// inactive slot and switches to it. Want tells it what the config says;
// Booted, what the commit at this boot found.
type Agent struct {
	o Options

	mu     sync.Mutex
	rec    record
	want   config.Update
	booted bool // Booted has run

	poke chan struct{}
}

// New loads the agent's record from Dir (creating Dir).
func New(o Options) (*Agent, error) {
	if o.Clock == nil {
		o.Clock = clock.Real()
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Client == nil {
		o.Client = http.DefaultClient
	}
	if o.Retry <= 0 {
		o.Retry = 15 * time.Second
	}
	if o.DrainTimeout <= 0 {
		o.DrainTimeout = 2 * time.Minute
	}
	var probs []error
	if o.Board == "" {
		probs = append(probs, errors.New("no board"))
	}
	if _, err := grub.ParseSlot(string(o.Slot)); err != nil {
		probs = append(probs, fmt.Errorf("booted slot: %w", err))
	}
	if o.Dir == "" || o.BootDir == "" || o.SlotDevice == nil || o.Reboot == nil {
		probs = append(probs, errors.New("the options Dir, BootDir, SlotDevice and Reboot are all needed"))
	}
	if len(probs) > 0 {
		return nil, fmt.Errorf("update: agent: %w", errors.Join(probs...))
	}
	if err := os.MkdirAll(o.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("update: agent: %w", err)
	}
	rec, err := loadRecord(o.Dir)
	if err != nil {
		o.Log.Error("update record unreadable; starting afresh", "err", err)
	}
	return &Agent{o: o, rec: rec, poke: make(chan struct{}, 1)}, nil
}

// OnTrial says this boot is the trial of a newly installed slot: the
// node must become healthy and commit within its deadline, or reboot
// without committing so that the bootloader brings the old slot back.
func (a *Agent) OnTrial() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.rec.Phase == phaseTrial && a.rec.Slot == a.o.Slot
}

// Report is the agent's latest word, for heartbeats; nil if it never
// had an update to make.
func (a *Agent) Report() *api.UpdateReport {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.rec.Report == nil {
		return nil
	}
	r := *a.rec.Report
	return &r
}

// Want tells the agent the release the config asks for (empty: none).
func (a *Agent) Want(u config.Update) {
	a.mu.Lock()
	a.want = u
	a.mu.Unlock()
	a.kick()
}

func (a *Agent) kick() {
	select {
	case a.poke <- struct{}{}:
	default:
	}
}

// Booted tells the agent how the commit at this boot went (the node calls
// it once it is healthy and has committed the booted slot). A trial that
// is running is committed; a trial that the bootloader gave up on is
// rolled back, and never tried again.
func (a *Agent) Booted(out Outcome) {
	a.mu.Lock()
	defer a.kick()
	defer a.mu.Unlock()
	a.booted = true
	r := &a.rec
	if r.Phase != phaseTrial {
		return
	}
	switch {
	case r.Slot == a.o.Slot && a.o.Running.Build == r.Target.Build:
		a.finishLocked(api.UpdateCommitted, "")
		a.o.Log.Info("update committed", "version", r.Target.Version, "build", r.Target.Build, "slot", a.o.Slot)
	case r.Slot == a.o.Slot:
		// The slot holds another build than the one written: never
		// expected, but do not loop on it.
		a.failLocked(fmt.Sprintf("slot %s runs build %d, not the build %d written to it", a.o.Slot, a.o.Running.Build, r.Target.Build))
	case out.RolledBack:
		reason := fmt.Sprintf("slot %s (build %d) did not become healthy and commit; the bootloader went back to slot %s", r.Slot, r.Target.Build, a.o.Slot)
		a.failLocked(reason)
		a.o.Log.Warn("update rolled back", "version", r.Target.Version, "build", r.Target.Build, "reason", reason)
	default:
		// The bootloader never took the trial: power went between the
		// write and the switch. Write and switch again.
		r.Phase = phaseWriting
		a.saveLocked()
		a.o.Log.Warn("the switch to the new slot did not happen; writing it again", "slot", r.Slot, "build", r.Target.Build)
	}
}

// finishLocked ends the record's update with an outcome.
func (a *Agent) finishLocked(state, reason string) {
	r := &a.rec
	r.Phase = phaseDone
	r.Report = &api.UpdateReport{Version: r.Target.Version, Build: r.Target.Build, State: state, Reason: reason, At: a.o.Clock.Now().UTC()}
	os.Remove(filepath.Join(a.o.Dir, StagedFile))
	a.saveLocked()
	a.notify()
}

// failLocked records the target as rolled back (or refused) for good.
func (a *Agent) failLocked(reason string) {
	if a.rec.Failed == nil {
		a.rec.Failed = map[string]string{}
	}
	a.rec.Failed[releaseKey(a.rec.Target)] = reason
	a.finishLocked(api.UpdateRolledBack, reason)
}

func (a *Agent) saveLocked() {
	if err := a.rec.save(a.o.Dir); err != nil {
		a.o.Log.Error("cannot save the update record", "err", err)
	}
}

// report sets the record's report, and saves it and tells OnReport when
// the state or reason changed (progress alone is not worth a write).
func (a *Agent) report(state, reason string, done, total int64) {
	a.mu.Lock()
	defer a.mu.Unlock()
	r := &a.rec
	prev := r.Report
	r.Report = &api.UpdateReport{Version: r.Target.Version, Build: r.Target.Build, State: state, Reason: reason,
		At: a.o.Clock.Now().UTC(), Done: done, Total: total}
	if prev == nil || prev.State != state || prev.Reason != reason {
		a.saveLocked()
		a.notify()
	}
}

// notify calls OnReport without holding a.mu.
func (a *Agent) notify() {
	if a.o.OnReport != nil {
		go a.o.OnReport()
	}
}

// Name is the agent's name as a supervised service.
func (a *Agent) Name() string { return "update" }

// Run works on the wanted release until ctx ends. An update cut short
// resumes at the next Run, in this boot or the next.
func (a *Agent) Run(ctx context.Context) error {
	a.run(ctx)
	return nil
}

func (a *Agent) run(ctx context.Context) {
	wait := time.Duration(0)
	fails := 0
	for {
		var retry <-chan time.Time
		var t clock.Timer
		if wait > 0 {
			t = a.o.Clock.NewTimer(wait)
			retry = t.C()
		}
		select {
		case <-ctx.Done():
		case <-a.poke:
		case <-retry:
		}
		if t != nil {
			t.Stop()
		}
		if ctx.Err() != nil {
			return
		}
		err := a.step(ctx)
		switch {
		case ctx.Err() != nil:
			return
		case err == nil:
			wait, fails = 0, 0
		default:
			fails++
			wait = a.o.Retry << min(fails-1, 4)
			a.o.Log.Warn("update failed; retrying", "err", err, "in", wait)
			a.report(api.UpdateFailed, err.Error(), 0, 0)
		}
	}
}

// step moves the update on as far as it can.
func (a *Agent) step(ctx context.Context) error {
	a.mu.Lock()
	u, r, booted := a.want, a.rec, a.booted
	a.mu.Unlock()
	switch {
	case r.Phase == phaseTrial && !booted:
		return nil // Booted decides how the trial went
	case r.Phase == phaseWriting || r.Phase == phaseTrial:
		// Carry on with the update under way, whatever the config
		// says now: its slot is marked bad until it is done.
		return a.install(ctx, r.Target)
	case u == (config.Update{}) || u.Build == a.o.Running.Build:
		return nil
	}
	if why, failed := r.Failed[releaseKey(u)]; failed {
		a.o.Log.Debug("not retrying a failed release", "build", u.Build, "reason", why)
		return nil
	}
	if r.Target != u || r.Phase == phaseDone || r.Phase == phaseIdle {
		a.mu.Lock()
		a.rec.Target, a.rec.Phase, a.rec.Slot = u, phaseDownloading, a.o.Slot.Other()
		a.mu.Unlock()
		os.Remove(filepath.Join(a.o.Dir, StagedFile))
		a.o.Log.Info("update offered", "version", u.Version, "build", u.Build, "running", a.o.Running.Build, "slot", a.o.Slot.Other())
	}
	return a.install(ctx, u)
}

// install downloads (or resumes), writes, switches and reboots.
func (a *Agent) install(ctx context.Context, u config.Update) error {
	staged := filepath.Join(a.o.Dir, StagedFile)
	a.mu.Lock()
	phase := a.rec.Phase
	a.mu.Unlock()
	var h bundle.Header
	var err error
	if phase == phaseDownloading {
		h, err = fetchHeader(ctx, a.o.Client, u.URL)
	} else if h, err = stagedHeader(staged); err != nil {
		// Whatever happened to the staged bundle, stage() finds
		// out; the header comes from the server meanwhile.
		h, err = fetchHeader(ctx, a.o.Client, u.URL)
	}
	if err == nil {
		var m bundle.Manifest
		if m, err = checkManifest(h, u, a.o.Board, a.o.Running.Build, a.o.Trust); err == nil {
			err = a.stage(ctx, u, staged, h, m)
			if err == nil {
				err = a.writeAndSwitch(ctx, staged, h, m)
			}
		}
	}
	if errors.Is(err, errRefused) {
		a.mu.Lock()
		defer a.mu.Unlock()
		if a.rec.Failed == nil {
			a.rec.Failed = map[string]string{}
		}
		a.rec.Failed[releaseKey(u)] = err.Error()
		a.finishLocked(api.UpdateRefused, err.Error())
		a.o.Log.Error("update refused", "version", u.Version, "build", u.Build, "reason", err)
		return nil
	}
	return err
}

// stage downloads the bundle into the staged file and checks its image.
func (a *Agent) stage(ctx context.Context, u config.Update, staged string, h bundle.Header, m bundle.Manifest) error {
	a.mu.Lock()
	phase := a.rec.Phase
	a.mu.Unlock()
	if phase == phaseDownloading {
		total := h.Offset + m.Size
		a.report(api.UpdateDownloading, "", 0, total)
		start := a.o.Clock.Now()
		err := download(ctx, a.o.Client, u.URL, staged, total, func(done, total int64) {
			a.report(api.UpdateDownloading, "", done, total)
		})
		if err != nil {
			return err
		}
		a.o.Log.Info("bundle downloaded", "build", m.Build, "bytes", total, "took", a.o.Clock.Since(start).Round(time.Millisecond).String())
	}
	if err := checkStaged(staged, h, m); err != nil {
		os.Remove(staged)
		if phase == phaseDownloading {
			return err // the server's bundle is bad: refused
		}
		// It was good when downloaded: the data partition lost it.
		a.mu.Lock()
		a.rec.Phase = phaseDownloading
		a.saveLocked()
		a.mu.Unlock()
		return errors.New("the staged bundle is gone or damaged; downloading it again: " + strings.TrimPrefix(err.Error(), errRefused.Error()+": "))
	}
	return nil
}

// writeAndSwitch writes the inactive slot (marked bad first, so a slot
// half written is never booted), then drains, marks it for one trial
// boot, and reboots.
func (a *Agent) writeAndSwitch(ctx context.Context, staged string, h bundle.Header, m bundle.Manifest) error {
	a.mu.Lock()
	slot := a.rec.Slot
	a.rec.Phase = phaseWriting
	a.saveLocked()
	a.mu.Unlock()
	dev, err := a.o.SlotDevice(slot)
	if err != nil {
		return fmt.Errorf("slot %s: %w", slot, err)
	}
	if _, err := EditBootState(a.o.BootDir, a.o.Remount, "mark slot "+string(slot)+" bad", func(st *grub.State) error {
		st.MarkBad(slot)
		return nil
	}); err != nil {
		return err
	}
	a.report(api.UpdateWriting, "", 0, m.Size)
	a.o.Log.Info("writing slot", "slot", slot, "device", dev.String(), "version", m.Version, "build", m.Build, "bytes", m.Size)
	start := a.o.Clock.Now()
	if err := writeSlot(staged, h, m, dev, slot, func(done, total int64) {
		a.report(api.UpdateWriting, "", done, total)
	}); err != nil {
		return err
	}
	a.o.Log.Info("slot written and verified", "slot", slot, "device", dev.String(), "bytes", m.Size,
		"took", a.o.Clock.Since(start).Round(time.Millisecond).String())

	if a.o.Drain != nil {
		dctx, cancel := context.WithTimeout(ctx, a.o.DrainTimeout)
		err := a.o.Drain(dctx)
		cancel()
		if err != nil && ctx.Err() == nil {
			a.o.Log.Warn("drain before the switch did not finish; switching anyway", "err", err)
		}
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	a.mu.Lock()
	a.rec.Phase = phaseTrial
	a.mu.Unlock()
	a.report(api.UpdateTrial, "", 0, 0)
	ch, err := EditBootState(a.o.BootDir, a.o.Remount, "trial of slot "+string(slot), func(st *grub.State) error {
		st.Trial(slot)
		return nil
	})
	if err != nil {
		return err
	}
	a.o.Log.Warn("rebooting into the new slot for a trial boot", "slot", slot, "version", m.Version, "build", m.Build, "state", ch.After)
	if err := a.o.Reboot(); err != nil {
		return fmt.Errorf("reboot: %w", err)
	}
	return nil
}

// Apply takes a new config: the release it names is the one wanted.
func (a *Agent) Apply(cfg *config.Config) error {
	a.Want(cfg.Update)
	return nil
}
