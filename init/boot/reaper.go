package boot

import (
	"context"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
)

// The kernel re-parents every orphaned process to PID 1, and an orphan that
// exits stays a zombie until PID 1 waits for it. Left alone, zombies fill
// the process table.
//
// The usual reaper loop, wait4(-1) on SIGCHLD, would also collect the exit
// status of a child that os/exec is waiting for, and that cmd.Wait would
// then fail with "no child processes". So this reaper never waits for
// "any child": on SIGCHLD it lists its zombie children in /proc and waits
// for each by pid, skipping the children that were started through
// [Reaper.Start], which are left to [Reaper.Wait]. The node itself starts
// no child processes today; anything that does so later must start them
// through the Reaper (a nil *Reaper, as outside PID 1, just runs them).
//
// Only PID 1 (or a subreaper, in tests) is given orphans, so only PID 1
// starts a Reaper.

// ReaperOptions configure StartReaper.
type ReaperOptions struct {
	Log *slog.Logger
	// OnReap, if set, is called with each reaped pid and how it ended
	// ("exit status 0", "signal: killed").
	OnReap func(pid int, status string)
	Proc   string // procfs; "" is /proc
}

// Reaper waits for this process's orphaned children. Close stops it.
type Reaper struct {
	opts      ReaperOptions
	self      int
	mu        sync.Mutex // held while sweeping and while starting a protected child
	protected map[int]bool

	cancel    context.CancelFunc
	done      chan struct{}
	closeOnce sync.Once
}

// StartReaper starts reaping until ctx ends or Close is called.
func StartReaper(ctx context.Context, opts ReaperOptions) *Reaper {
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	if opts.Proc == "" {
		opts.Proc = "/proc"
	}
	r := &Reaper{opts: opts, self: os.Getpid(), protected: map[int]bool{}, done: make(chan struct{})}
	ctx, r.cancel = context.WithCancel(ctx)
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, childSignal)
	go r.run(ctx, sig)
	return r
}

func (r *Reaper) run(ctx context.Context, sig chan os.Signal) {
	defer close(r.done)
	defer signal.Stop(sig)
	for {
		// Signals coalesce, so every SIGCHLD sweeps all zombies; the
		// first sweep collects any that died before we started.
		r.sweep()
		select {
		case <-ctx.Done():
			return
		case <-sig:
		}
	}
}

// sweep waits for every zombie child that is not protected.
func (r *Reaper) sweep() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, pid := range zombieChildren(r.opts.Proc, r.self) {
		if r.protected[pid] {
			continue
		}
		reaped, status, err := reapPID(pid)
		if err != nil || !reaped {
			continue
		}
		r.opts.Log.Info("reaped orphan", "pid", pid, "status", status)
		if r.opts.OnReap != nil {
			r.opts.OnReap(pid, status)
		}
	}
}

// Start starts cmd and keeps the reaper away from it, so that its exit
// status goes to cmd.Wait. Call r.Wait(cmd), not cmd.Wait, afterwards.
// On a nil Reaper it is cmd.Start.
func (r *Reaper) Start(cmd *exec.Cmd) error {
	if r == nil {
		return cmd.Start()
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := cmd.Start(); err != nil {
		return err
	}
	r.protected[cmd.Process.Pid] = true
	return nil
}

// Wait waits for a command started with r.Start and hands its pid back to
// the reaper. On a nil Reaper it is cmd.Wait.
func (r *Reaper) Wait(cmd *exec.Cmd) error {
	err := cmd.Wait()
	if r != nil && cmd.Process != nil {
		r.mu.Lock()
		delete(r.protected, cmd.Process.Pid)
		r.mu.Unlock()
	}
	return err
}

// Close stops reaping. It is safe to call more than once.
func (r *Reaper) Close() error {
	r.closeOnce.Do(func() {
		r.cancel()
		<-r.done
	})
	return nil
}

// zombieChildren lists the processes in proc that are zombies and
// children of parent.
func zombieChildren(proc string, parent int) []int {
	entries, err := os.ReadDir(proc)
	if err != nil {
		return nil
	}
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join(proc, e.Name(), "stat"))
		if err != nil {
			continue
		}
		state, ppid, ok := parseProcStat(string(b))
		if ok && ppid == parent && state == "Z" {
			pids = append(pids, pid)
		}
	}
	return pids
}

// parseProcStat reads the state and parent pid from /proc/PID/stat. The
// command name may hold spaces and parentheses, so fields are counted from
// the last ')'.
func parseProcStat(s string) (state string, ppid int, ok bool) {
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return "", 0, false
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 2 {
		return "", 0, false
	}
	ppid, err := strconv.Atoi(f[1])
	return f[0], ppid, err == nil
}
