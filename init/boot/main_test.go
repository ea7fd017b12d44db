package boot

import (
	"testing"

	"go.uber.org/goleak"
)

// The watchdog's and the reaper's goroutines must be gone when the tests
// end, in this process and in every child a test re-runs itself as.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
