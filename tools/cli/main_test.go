package cli

import (
	"testing"

	"go.uber.org/goleak"
)

// The commands run servers and clients in-process; none may outlive its
// test.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
