package boot

import (
	"errors"
	"strings"
	"testing"
)

func TestDefaultStepsRead(t *testing.T) {
	want := []string{
		"mkdir -p -m 0755 /dev",
		"mount -t devtmpfs -o nosuid,mode=0755 devtmpfs /dev",
		"mkdir -p -m 0555 /proc",
		"mount -t proc -o nosuid,nodev,noexec proc /proc",
		"mkdir -p -m 0555 /sys",
		"mount -t sysfs -o nosuid,nodev,noexec sysfs /sys",
		"mkdir -p -m 0755 /dev/pts",
		"mount -t devpts -o nosuid,noexec,newinstance,ptmxmode=0666,mode=0620,gid=5 devpts /dev/pts",
		"ln -sfn pts/ptmx /dev/ptmx",
		"mkdir -p -m 0755 /dev/shm",
		"mount -t tmpfs -o nosuid,nodev,mode=1777 tmpfs /dev/shm",
		"mkdir -p -m 0755 /run",
		"mount -t tmpfs -o nosuid,nodev,mode=0755 tmpfs /run",
		"mkdir -p -m 0755 /tmp",
		"mount -t tmpfs -o nosuid,nodev,mode=1777 tmpfs /tmp",
		"mount -t cgroup2 -o nosuid,nodev,noexec cgroup2 /sys/fs/cgroup || true",
		"ln -sfn /proc/self/fd /dev/fd",
		"ln -sfn /proc/self/fd/0 /dev/stdin",
		"ln -sfn /proc/self/fd/1 /dev/stdout",
		"ln -sfn /proc/self/fd/2 /dev/stderr",
		"ip link set lo up",
		"hostname alban",
	}
	got := DefaultSteps("/", "alban")
	if len(got) != len(want) {
		t.Fatalf("%d steps, want %d: %v", len(got), len(want), got)
	}
	for i, s := range got {
		if s.String() != want[i] {
			t.Errorf("step %d = %q, want %q", i, s, want[i])
		}
	}
	// Under another root, every path moves and link targets do not.
	for _, s := range DefaultSteps("/tmp/r", "") {
		str := s.String()
		if strings.HasPrefix(str, "hostname") {
			t.Errorf("hostname step with no hostname: %q", str)
		}
		if _, ok := s.(LinkUp); ok {
			continue
		}
		if !strings.Contains(str, "/tmp/r/") {
			t.Errorf("step %q is not under the root", str)
		}
	}
}

func TestStepStrings(t *testing.T) {
	for _, tc := range []struct {
		step Step
		want string
	}{
		{Mount{"proc", "/proc", "proc", 0, ""}, "mount -t proc proc /proc"},
		{Mount{"/dev/vda3", "/data", "ext4", NoSUID | NoDev | NoExec | NoATime, "errors=remount-ro"},
			"mount -t ext4 -o nosuid,nodev,noexec,noatime,errors=remount-ro /dev/vda3 /data"},
		{Mount{"/dev/vda1", "/boot", "vfat", ReadOnly, ""}, "mount -t vfat -o ro /dev/vda1 /boot"},
		{Mount{"x", "/x", "tmpfs", 0x100000, ""}, "mount -t tmpfs -o 0x100000 x /x"},
		{Dir{"/run", 0o755}, "mkdir -p -m 0755 /run"},
		{Symlink{"/proc/self/fd", "/dev/fd"}, "ln -sfn /proc/self/fd /dev/fd"},
		{Hostname{"alban"}, "hostname alban"},
		{Optional{Dir{"/x", 0o700}}, "mkdir -p -m 0700 /x || true"},
	} {
		if got := tc.step.String(); got != tc.want {
			t.Errorf("String() = %q, want %q", got, tc.want)
		}
	}
}

// fakeStep records that it ran and fails with err.
type fakeStep struct {
	name string
	err  error
	ran  *[]string
}

func (f fakeStep) String() string { return f.name }
func (f fakeStep) Do() error      { *f.ran = append(*f.ran, f.name); return f.err }

func TestRunSteps(t *testing.T) {
	boom := errors.New("boom")
	for _, tc := range []struct {
		name    string
		steps   func(ran *[]string) []Step
		wantRan string
		wantErr string // the failed step's String, "" for none
	}{
		{"all pass", func(r *[]string) []Step {
			return []Step{fakeStep{"a", nil, r}, fakeStep{"b", nil, r}}
		}, "a b", ""},
		{"stops at the failed step", func(r *[]string) []Step {
			return []Step{fakeStep{"a", nil, r}, fakeStep{"mount -t proc proc /proc", boom, r}, fakeStep{"c", nil, r}}
		}, "a mount -t proc proc /proc", "mount -t proc proc /proc"},
		{"optional failure is passed", func(r *[]string) []Step {
			return []Step{Optional{fakeStep{"a", boom, r}}, fakeStep{"b", nil, r}}
		}, "a b", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			log, lb := newLog(t)
			var ran []string
			steps := tc.steps(&ran)
			err := RunSteps(log, steps)
			if got := strings.Join(ran, " "); got != tc.wantRan {
				t.Errorf("ran %q, want %q", got, tc.wantRan)
			}
			for _, name := range ran {
				if !strings.Contains(lb.String(), `"step":"`+name) {
					t.Errorf("step %q was not logged", name)
				}
			}
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("RunSteps: %v", err)
				}
				return
			}
			var se *StepError
			if !errors.As(err, &se) || se.Step.String() != tc.wantErr || !errors.Is(err, boom) {
				t.Fatalf("RunSteps = %v, want a StepError for %q", err, tc.wantErr)
			}
			if want := "boot: " + tc.wantErr + ": boom"; err.Error() != want {
				t.Errorf("error = %q, want %q", err, want)
			}
			if !strings.Contains(lb.String(), "boot step failed") {
				t.Errorf("failure not logged")
			}
		})
	}
}

func TestHostnameChecked(t *testing.T) {
	for _, name := range []string{"", "a b", "node/1", "ünïcode", strings.Repeat("a", 65)} {
		err := Hostname{name}.Do()
		if !errors.Is(err, ErrBadHostname) {
			t.Errorf("Hostname{%q}.Do() = %v, want ErrBadHostname", name, err)
		}
	}
	for _, name := range []string{"alban", "alban.nodes.example.net", "node-7", strings.Repeat("a", 64)} {
		if err := checkHostname(name); err != nil {
			t.Errorf("checkHostname(%q) = %v", name, err)
		}
	}
}
