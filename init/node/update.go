package node

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"fmt"
	"log/slog"
	"net/http"
	"path/filepath"
	"time"

	"github.com/goleudy/goleudy/image/grub"
	"github.com/goleudy/goleudy/init/boot"
	"github.com/goleudy/goleudy/provision/api"
	"github.com/goleudy/goleudy/provision/config"
	"github.com/goleudy/goleudy/provision/envelope"
	"github.com/goleudy/goleudy/services/bgp"
	"github.com/goleudy/goleudy/services/update"
)

// The image's partitions, by number on the boot disk (image/builder).
const (
	partSlotA = 2
	partSlotB = 3
)

// TrialDeadline is how long a node on a newly installed slot has to become
// ready and commit. After it, the node reboots without committing, and the
// bootloader brings the old slot back.
var TrialDeadline = 5 * time.Minute

// updater makes the update agent: PID 1 only, with a boot partition, a
// seed, and the release the initramfs belongs to.
func (n *node) updater(cfg *config.Config) (*update.Agent, error) {
	p := n.pid1
	trust, err := releaseTrust(n.seed)
	if err != nil {
		return nil, err
	}
	a, err := update.New(update.Options{
		Board: p.board, Running: p.release, Slot: grub.Slot(p.slot),
		BootDir: p.sys.Boot.Dir, Remount: true,
		SlotDevice: func(s grub.Slot) (update.Device, error) {
			num := partSlotA
			if s == grub.B {
				num = partSlotB
			}
			b, err := (boot.Disks{}).Sibling(p.sys.Boot.Device, num)
			if err != nil {
				return update.Device{}, err
			}
			return update.Device{Path: b.Path, Size: b.Size}, nil
		},
		Dir:    filepath.Join(n.o.State, "update"),
		Trust:  trust,
		Client: &http.Client{Transport: http.DefaultTransport},
		Drain:  n.drainForUpdate,
		Reboot: p.sys.Power.Reboot,
		OnReport: func() {
			if n.agent != nil {
				n.agent.Beat()
			}
		},
		Log: n.log.With("service", "update"),
	})
	if err != nil {
		return nil, err
	}
	if cfg != nil {
		a.Want(cfg.Update)
	}
	return a, nil
}

// releaseTrust is the seed's release keys; none is a nil set, which
// refuses every bundle.
func releaseTrust(seed api.Seed) (*envelope.TrustSet, error) {
	if len(seed.ReleaseTrust) == 0 {
		return nil, nil
	}
	var keys []ed25519.PublicKey
	for i, k := range seed.ReleaseTrust {
		b, err := base64.StdEncoding.DecodeString(k)
		if err != nil || len(b) != ed25519.PublicKeySize {
			return nil, fmt.Errorf("seed: release_trust[%d]: not a base64 ed25519 public key", i)
		}
		keys = append(keys, ed25519.PublicKey(b))
	}
	return envelope.NewTrustSet(keys...)
}

// drainForUpdate takes the node's prefixes out of BGP before the reboot:
// GRACEFUL_SHUTDOWN for the drain period, then withdrawn. It lasts until
// the reboot and is not kept: the new slot announces when it is healthy.
func (n *node) drainForUpdate(ctx context.Context) error {
	n.live.mu.Lock()
	services := n.live.services
	n.live.mu.Unlock()
	for _, s := range services {
		if sp, ok := s.(*bgp.Service); ok {
			return sp.Drain(ctx)
		}
	}
	return nil
}

// watchTrial watches a trial boot of a new release: it commits the slot
// once the node is ready (commitWhenHealthy hands it the health gate) and
// the gate is green for every anycast prefix, and reboots without
// committing if that has not happened within TrialDeadline, so that the
// bootloader brings the old slot back.
func (n *node) watchTrial(ctx context.Context) {
	if n.update == nil || !n.update.OnTrial() {
		return
	}
	w := trialWatch{
		deadline: TrialDeadline, every: 250 * time.Millisecond,
		onTrial: n.update.OnTrial,
		green: func() bool {
			gate := n.trialGate.Load()
			if gate == nil {
				return false // not ready yet
			}
			for _, p := range gate.Status() {
				if !p.Healthy {
					return false
				}
			}
			return true
		},
		commit: func() { n.commit(n.log) },
		reboot: n.pid1.sys.Power.Reboot,
		log:    n.log,
	}
	n.log.Warn("trial boot of a new release: it must be ready and healthy in time", "deadline", TrialDeadline.String())
	go w.run(ctx)
}

// trialWatch is watchTrial's loop, apart from the node.
type trialWatch struct {
	deadline, every time.Duration
	onTrial         func() bool // false once the slot is committed
	green           func() bool // ready, and the health gate green
	commit          func()
	reboot          func() error
	log             *slog.Logger
}

func (w trialWatch) run(ctx context.Context) {
	deadline := time.NewTimer(w.deadline)
	defer deadline.Stop()
	tick := time.NewTicker(w.every)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-deadline.C:
			if !w.onTrial() {
				return
			}
			w.log.Error("the new release was not ready and healthy in time; rebooting without committing, so the old slot comes back",
				"deadline", w.deadline.String())
			if err := w.reboot(); err != nil {
				w.log.Error("reboot", "err", err)
			}
			return
		case <-tick.C:
			if !w.onTrial() {
				return
			}
			if w.green() {
				w.commit()
				return
			}
		}
	}
}
