package netconf

import (
	"testing"

	"go.uber.org/goleak"
)

// Every DHCP worker, netlink subscription and timer must be gone when the
// tests end.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
