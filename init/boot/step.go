package boot

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
)

// Step is one change boot makes to the system: a directory, a mount, a
// symlink, the hostname. Steps are data, as in u-root's libinit, so that
// the list can be read, tested and logged. String reads like the shell
// line that would do the same, so a console log that ends in a failed step
// says exactly what went wrong.
type Step interface {
	fmt.Stringer
	Do() error
}

// StepError is a failed step.
type StepError struct {
	Step Step
	Err  error
}

func (e *StepError) Error() string { return fmt.Sprintf("boot: %s: %v", e.Step, e.Err) }
func (e *StepError) Unwrap() error { return e.Err }

// RunSteps does steps in order, logging each. It stops at the first
// failed step and returns a *StepError naming it. A failed [Optional] step
// is logged and passed.
func RunSteps(log *slog.Logger, steps []Step) error {
	for _, s := range steps {
		log.Info("boot step", "step", s.String())
		err := s.Do()
		if err == nil {
			continue
		}
		if _, ok := s.(Optional); ok {
			log.Warn("optional boot step failed", "step", s.String(), "err", err)
			continue
		}
		log.Error("boot step failed", "step", s.String(), "err", err)
		return &StepError{Step: s, Err: err}
	}
	return nil
}

// MountFlags are mount(2) flags. The values are Linux's, the same on every
// architecture.
type MountFlags uintptr

// The flags boot uses.
const (
	ReadOnly MountFlags = 0x1
	NoSUID   MountFlags = 0x2
	NoDev    MountFlags = 0x4
	NoExec   MountFlags = 0x8
	NoATime  MountFlags = 0x400
)

var flagNames = []struct {
	f    MountFlags
	name string
}{{ReadOnly, "ro"}, {NoSUID, "nosuid"}, {NoDev, "nodev"}, {NoExec, "noexec"}, {NoATime, "noatime"}}

// options renders flags as mount(8) would take them with -o.
func (f MountFlags) options() []string {
	var o []string
	for _, n := range flagNames {
		if f&n.f != 0 {
			o = append(o, n.name)
			f &^= n.f
		}
	}
	if f != 0 {
		o = append(o, fmt.Sprintf("%#x", uintptr(f)))
	}
	return o
}

// Dir creates a directory and its parents, as a mount point.
type Dir struct {
	Path string
	Mode os.FileMode
}

func (d Dir) String() string { return fmt.Sprintf("mkdir -p -m %04o %s", d.Mode.Perm(), d.Path) }

func (d Dir) Do() error { return os.MkdirAll(d.Path, d.Mode.Perm()) }

// Mount mounts a filesystem.
type Mount struct {
	Source string
	Target string
	FSType string
	Flags  MountFlags
	Data   string // filesystem options, such as "mode=0755"
}

func (m Mount) String() string {
	opts := m.Flags.options()
	if m.Data != "" {
		opts = append(opts, m.Data)
	}
	o := ""
	if len(opts) > 0 {
		o = " -o " + strings.Join(opts, ",")
	}
	return fmt.Sprintf("mount -t %s%s %s %s", m.FSType, o, m.Source, m.Target)
}

func (m Mount) Do() error { return mount(m.Source, m.Target, m.FSType, m.Flags, m.Data) }

// Symlink makes Link point to Target, replacing whatever was at Link
// unless it already points there.
type Symlink struct {
	Target string
	Link   string
}

func (s Symlink) String() string { return fmt.Sprintf("ln -sfn %s %s", s.Target, s.Link) }

func (s Symlink) Do() error {
	if got, err := os.Readlink(s.Link); err == nil && got == s.Target {
		return nil
	}
	if err := os.Remove(s.Link); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return os.Symlink(s.Target, s.Link)
}

// Hostname sets the kernel's hostname, which shows in the log lines that
// leave the node and in the shell prompt of anyone on its console.
type Hostname struct {
	Name string
}

func (h Hostname) String() string { return "hostname " + h.Name }

func (h Hostname) Do() error {
	if err := checkHostname(h.Name); err != nil {
		return err
	}
	return sethostname(h.Name)
}

// ErrBadHostname is a hostname the kernel would take but nothing else
// should: empty, longer than 64 bytes, or not letters, digits, '-' and '.'.
var ErrBadHostname = errors.New("bad hostname")

func checkHostname(name string) error {
	if name == "" || len(name) > 64 {
		return fmt.Errorf("%w %q: must be 1..64 bytes", ErrBadHostname, name)
	}
	for _, c := range name {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.'
		if !ok {
			return fmt.Errorf("%w %q: %q is not a letter, digit, '-' or '.'", ErrBadHostname, name, c)
		}
	}
	return nil
}

// LinkUp sets a network link up. The kernel starts the loopback down, and
// until it is up nothing reaches 127.0.0.1, nor an anycast address that
// the network service puts on lo when it cannot make a dummy link: the
// health gate's probes of the node's own DNS would go unanswered, and the
// prefix would never be announced.
type LinkUp struct {
	Name string
}

func (l LinkUp) String() string { return "ip link set " + l.Name + " up" }

func (l LinkUp) Do() error { return linkUp(l.Name) }

// Optional is a step whose failure is logged and passed. It reads like
// the shell line that ignores the failure.
type Optional struct {
	Step
}

func (o Optional) String() string { return o.Step.String() + " || true" }

// DefaultSteps is what PID 1 does before anything else: the
// pseudo-filesystems, the /dev symlinks that programs and shells expect,
// the loopback, and the hostname. root is "/" on a node; tests pass a
// temp dir (and a network namespace of their own). /dev
// comes first so that /dev/kmsg and /dev/console exist for the console
// log; cgroup2 is optional because the node does not need it and older
// board kernels may lack it.
func DefaultSteps(root, hostname string) []Step {
	p := func(path string) string { return filepath.Join(root, path) }
	steps := []Step{
		Dir{p("/dev"), 0o755},
		Mount{"devtmpfs", p("/dev"), "devtmpfs", NoSUID, "mode=0755"},
		Dir{p("/proc"), 0o555},
		Mount{"proc", p("/proc"), "proc", NoSUID | NoDev | NoExec, ""},
		Dir{p("/sys"), 0o555},
		Mount{"sysfs", p("/sys"), "sysfs", NoSUID | NoDev | NoExec, ""},
		Dir{p("/dev/pts"), 0o755},
		Mount{"devpts", p("/dev/pts"), "devpts", NoSUID | NoExec, "newinstance,ptmxmode=0666,mode=0620,gid=5"},
		// A newinstance devpts has its own ptmx; /dev/ptmx must lead to it.
		Symlink{"pts/ptmx", p("/dev/ptmx")},
		Dir{p("/dev/shm"), 0o755},
		Mount{"tmpfs", p("/dev/shm"), "tmpfs", NoSUID | NoDev, "mode=1777"},
		Dir{p("/run"), 0o755},
		Mount{"tmpfs", p("/run"), "tmpfs", NoSUID | NoDev, "mode=0755"},
		Dir{p("/tmp"), 0o755},
		Mount{"tmpfs", p("/tmp"), "tmpfs", NoSUID | NoDev, "mode=1777"},
		Optional{Mount{"cgroup2", p("/sys/fs/cgroup"), "cgroup2", NoSUID | NoDev | NoExec, ""}},
		Symlink{"/proc/self/fd", p("/dev/fd")},
		Symlink{"/proc/self/fd/0", p("/dev/stdin")},
		Symlink{"/proc/self/fd/1", p("/dev/stdout")},
		Symlink{"/proc/self/fd/2", p("/dev/stderr")},
		LinkUp{"lo"},
	}
	if hostname != "" {
		steps = append(steps, Hostname{hostname})
	}
	return steps
}
