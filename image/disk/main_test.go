package disk

import (
	"testing"

	"go.uber.org/goleak"
)

// Nothing here starts goroutines; the check keeps it that way.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
