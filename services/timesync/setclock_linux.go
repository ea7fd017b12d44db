package timesync

import (
	"fmt"
	"time"

	"golang.org/x/sys/unix"
)

// SetSystemClock steps the system's real-time clock to t with
// clock_settime(CLOCK_REALTIME). It needs CAP_SYS_TIME, which PID 1 has.
// Go's timers and time.Since use the monotonic clock, which a step does
// not move. On 32-bit boards (386, arm) the kernel call takes a 32-bit
// time_t, so times after 2038-01-19 are refused rather than wrapped.
func SetSystemClock(t time.Time) error {
	ts, err := unix.TimeToTimespec(t)
	if err != nil {
		return fmt.Errorf("timesync: set clock to %s: %w", t.Format(time.RFC3339), err)
	}
	if err := unix.ClockSettime(unix.CLOCK_REALTIME, &ts); err != nil {
		return fmt.Errorf("timesync: set clock to %s: %w", t.Format(time.RFC3339), err)
	}
	return nil
}
