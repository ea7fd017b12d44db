package lab

import (
	"testing"

	"go.uber.org/goleak"
)

// Every server's reaper goroutine and every worker must be gone when the
// tests end.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
