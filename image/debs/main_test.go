package debs

import (
	"testing"

	"go.uber.org/goleak"
)

// HTTP clients, test servers and zstd decoders must not outlive the tests.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
