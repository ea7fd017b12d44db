//go:build !linux

package timesync

import (
	"errors"
	"time"
)

// SetSystemClock is supported on Linux only; nodes run Linux.
func SetSystemClock(time.Time) error {
	return errors.New("timesync: setting the system clock is supported on Linux only")
}
