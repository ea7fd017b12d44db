package boot

import (
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func bootTime() (time.Duration, error) {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_BOOTTIME, &ts); err != nil {
		return 0, err
	}
	return time.Duration(ts.Nano()), nil
}

// TestSinceKernelStart reads the real /proc/uptime and compares it with
// the boot-time clock, which counts the same thing.
func TestSinceKernelStart(t *testing.T) {
	up, err := SinceKernelStart()
	if err != nil {
		t.Fatal(err)
	}
	boot, err := bootTime()
	if err != nil {
		t.Fatal(err)
	}
	if d := boot - up; d < -time.Second || d > time.Second {
		t.Errorf("uptime %v, CLOCK_BOOTTIME %v", up, boot)
	}
}
