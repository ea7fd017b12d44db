package netconf

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"net/netip"
	"runtime/debug"
	"time"

	"github.com/goleudy/goleudy/services/clock"
)

// lease is an address a DHCP server gave us, DHCPv4 or DHCPv6 alike.
type lease struct {
	addr    netip.Prefix
	router  netip.Addr // DHCPv4 only
	dns     []netip.Addr
	server  string // the server's identifier, for logs
	start   time.Time
	t1, t2  time.Duration // renew and rebind, from start
	valid   time.Duration // expiry, from start
	forever bool          // an infinite lease: never renewed, never expires
	raw     any           // the protocol's own state for renewing
}

func (l *lease) renewAt() time.Time  { return l.start.Add(l.t1) }
func (l *lease) rebindAt() time.Time { return l.start.Add(l.t2) }
func (l *lease) expiry() time.Time   { return l.start.Add(l.valid) }

// timers fixes T1 and T2 so that 0 < T1 <= T2 <= valid, filling in the
// defaults (RFC 2131: 0.5 and 0.875 of the lease) for those not given.
func timers(valid, t1, t2 time.Duration, t2Default float64) (time.Duration, time.Duration) {
	if t2 <= 0 || t2 > valid {
		t2 = time.Duration(float64(valid) * t2Default)
	}
	if t1 <= 0 || t1 > t2 {
		t1 = min(valid/2, t2)
	}
	return t1, t2
}

// leaseClient is one DHCP protocol on one port. Each call is one exchange,
// with the protocol's own retransmissions, ended early by ctx.
type leaseClient interface {
	// acquire gets a fresh lease (DISCOVER/REQUEST, SOLICIT/REQUEST).
	acquire(ctx context.Context) (*lease, error)
	// renew and rebind extend l with the server that gave it, or any
	// server. They return an error wrapping errNak if the server says
	// the lease is gone.
	renew(ctx context.Context, l *lease) (*lease, error)
	rebind(ctx context.Context, l *lease) (*lease, error)
	close() error
}

// leaseEvent is a worker telling its owner that it has a lease (new or
// renewed) or lost one.
type leaseEvent struct {
	w     *leaseWorker
	lease *lease
	lost  bool
}

type leasePhase uint8

const (
	phaseInit leasePhase = iota
	phaseBound
	phaseRenewing
	phaseRebinding
)

// leaseWorker runs the lease state machine of RFC 2131 section 4.4 (the
// same shape serves DHCPv6's RFC 8415 section 18): acquire, renew at T1
// with the server, rebind at T2 with any server, drop the address at
// expiry. Every wait is on the injected clock, so tests step through a
// day-long lease in microseconds. It changes nothing in the kernel itself:
// it reports to its owner, which does.
type leaseWorker struct {
	proto   string // "dhcp4" or "dhcp6"
	link    string
	c       leaseClient
	clk     clock.Clock
	log     *slog.Logger
	t       tuning
	events  chan<- leaseEvent
	restart chan struct{} // buffer 1: a fresh exchange is wanted now
	cancel  context.CancelFunc
	done    chan struct{}
}

func newLeaseWorker(proto, link string, c leaseClient, clk clock.Clock, log *slog.Logger, t tuning, events chan<- leaseEvent) *leaseWorker {
	return &leaseWorker{
		proto: proto, link: link, c: c, clk: clk, t: t, events: events,
		log:     log.With("proto", proto, "port", link),
		restart: make(chan struct{}, 1),
		done:    make(chan struct{}),
	}
}

// start runs the worker until stop or until parent ends.
func (w *leaseWorker) start(parent context.Context) {
	ctx, cancel := context.WithCancel(parent)
	w.cancel = cancel
	go w.run(ctx)
}

// stop ends the worker and waits for it. It is idempotent. The worker never
// blocks on its owner once stopped, so the owner may call stop while it
// holds the lock that guards event handling.
func (w *leaseWorker) stop() {
	w.cancel()
	<-w.done
}

// redo asks for a fresh exchange at once, keeping the current lease until
// the new one arrives or it expires: the carrier came back, perhaps in
// another LAN.
func (w *leaseWorker) redo() {
	select {
	case w.restart <- struct{}{}:
	default:
	}
}

func (w *leaseWorker) run(ctx context.Context) {
	defer close(w.done)
	defer func() {
		if err := w.c.close(); err != nil {
			w.log.Debug("close client", "err", err)
		}
	}()
	// The node's PID 1 must not die of a DHCP packet: a panic restarts
	// the state machine after a pause, holding on to the lease it had.
	var cur *lease
	for ctx.Err() == nil {
		if !w.loopSafe(ctx, &cur) {
			return
		}
		w.wait(ctx, w.t.retryMax)
	}
}

// loopSafe runs loop and reports whether it panicked.
func (w *leaseWorker) loopSafe(ctx context.Context, cur **lease) (panicked bool) {
	defer func() {
		if r := recover(); r != nil {
			w.log.Error("DHCP client panicked; restarting it", "panic", r, "stack", string(debug.Stack()))
			panicked = true
		}
	}()
	w.loop(ctx, cur)
	return false
}

// loop is the state machine; *curp is the lease held, kept across a panic.
func (w *leaseWorker) loop(ctx context.Context, curp **lease) {
	cur := *curp
	defer func() { *curp = cur }()
	phase := phaseInit
	backoff := w.t.retryMin
	for ctx.Err() == nil {
		switch phase {
		case phaseInit:
			if cur != nil && !cur.forever && !w.clk.Now().Before(cur.expiry()) {
				w.lose(ctx, cur, "expired")
				cur = nil
			}
			start := w.clk.Now()
			l, err := w.c.acquire(ctx)
			if ctx.Err() != nil {
				return
			}
			if err == nil {
				l.start = start
				cur, phase, backoff = l, phaseBound, w.t.retryMin
				w.log.Info("lease", "addr", l.addr, "server", l.server, "valid", l.valid, "forever", l.forever)
				w.emit(ctx, leaseEvent{w: w, lease: l})
				continue
			}
			w.log.Debug("no lease yet", "err", err, "retry_in", backoff)
			d := jitter(backoff)
			backoff = min(2*backoff, w.t.retryMax)
			if cur != nil && !cur.forever {
				left := cur.expiry().Sub(w.clk.Now())
				if left <= 0 {
					w.lose(ctx, cur, "expired")
					cur = nil
					continue
				}
				d = min(d, left)
			}
			if w.wait(ctx, d) == woken {
				backoff = w.t.retryMin
			}
		case phaseBound:
			var r waitResult
			if cur.forever {
				r = w.sel(ctx, nil)
			} else {
				r = w.wait(ctx, cur.renewAt().Sub(w.clk.Now()))
			}
			if r == woken {
				phase = phaseInit
				continue
			}
			phase = phaseRenewing
		case phaseRenewing, phaseRebinding:
			deadline, op, name := cur.rebindAt(), w.c.renew, "renew"
			if phase == phaseRebinding {
				deadline, op, name = cur.expiry(), w.c.rebind, "rebind"
			}
			now := w.clk.Now()
			if !now.Before(deadline) {
				if phase == phaseRenewing {
					phase = phaseRebinding
					continue
				}
				w.lose(ctx, cur, "expired")
				cur, phase = nil, phaseInit
				continue
			}
			l, err := op(ctx, cur)
			switch {
			case ctx.Err() != nil:
				return
			case err == nil:
				l.start = now
				if l.addr != cur.addr {
					w.log.Info("lease changed on "+name, "old", cur.addr, "addr", l.addr)
				}
				cur, phase = l, phaseBound
				w.emit(ctx, leaseEvent{w: w, lease: l})
			case errors.Is(err, errNak):
				w.lose(ctx, cur, name+" refused: "+err.Error())
				cur, phase = nil, phaseInit
			default:
				// RFC 2131 4.4.5: wait half the time left, at least a minute.
				left := deadline.Sub(now)
				d := min(max(left/2, w.t.renewMin), left)
				w.log.Debug(name+" failed", "err", err, "retry_in", d)
				if w.wait(ctx, d) == woken {
					phase = phaseInit
				}
			}
		}
	}
}

func (w *leaseWorker) lose(ctx context.Context, l *lease, why string) {
	w.log.Warn("lease lost", "addr", l.addr, "why", why)
	w.emit(ctx, leaseEvent{w: w, lease: l, lost: true})
}

func (w *leaseWorker) emit(ctx context.Context, ev leaseEvent) {
	select {
	case w.events <- ev:
	case <-ctx.Done():
	}
}

type waitResult uint8

const (
	timedOut waitResult = iota
	woken
	cancelled
)

// wait sleeps d on the clock, or until redo or ctx.
func (w *leaseWorker) wait(ctx context.Context, d time.Duration) waitResult {
	t := w.clk.NewTimer(d)
	defer t.Stop()
	return w.sel(ctx, t.C())
}

// sel waits for c (nil: forever), redo or ctx.
func (w *leaseWorker) sel(ctx context.Context, c <-chan time.Time) waitResult {
	select {
	case <-c:
		return timedOut
	case <-w.restart:
		return woken
	case <-ctx.Done():
		return cancelled
	}
}

// jitter spreads retries by ±10%, so nodes behind one DHCP server that
// lost power together do not retry in step.
func jitter(d time.Duration) time.Duration {
	return d + time.Duration((rand.Float64()*0.2-0.1)*float64(d))
}
