package secondary

import (
	"testing"
	"time"
)

func TestSerialNewer(t *testing.T) {
	for _, tc := range []struct {
		a, b uint32
		want bool
	}{
		{2, 1, true},
		{1, 2, false},
		{1, 1, false},
		{0, 0xffffffff, true}, // wraps
		{0xffffffff, 0, false},
		{1 << 31, 0, false}, // exactly half way: undefined, not newer
		{0, 1 << 31, false},
		{1<<31 - 1, 0, true},
		{0x80000001, 1, false},
		{100, 0x80000065, true},
	} {
		if got := serialNewer(tc.a, tc.b); got != tc.want {
			t.Errorf("serialNewer(%d, %d) = %v, want %v", tc.a, tc.b, got, tc.want)
		}
	}
}

func TestClampTimers(t *testing.T) {
	h := uint32(3600)
	for _, tc := range []struct {
		name                   string
		refresh, retry, expire uint32
		want                   timers
	}{
		{"typical", 7200, 900, 1209600, timers{2 * time.Hour, 15 * time.Minute, 1209600 * time.Second}},
		{"zeros", 0, 0, 0, timers{time.Minute, 10 * time.Second, time.Hour}},
		{"huge", 0xffffffff, 0xffffffff, 0xffffffff, timers{24 * time.Hour, 2 * time.Hour, 8 * 7 * 24 * time.Hour}},
		{"expire below refresh+retry", 20 * h, 2 * h, 2 * h, timers{20 * time.Hour, 2 * time.Hour, 22 * time.Hour}},
		{"bounds exactly", 60, 10, 3600, timers{time.Minute, 10 * time.Second, time.Hour}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := DefaultBounds.clamp(tc.refresh, tc.retry, tc.expire); got != tc.want {
				t.Errorf("clamp = %+v, want %+v", got, tc.want)
			}
		})
	}
}
