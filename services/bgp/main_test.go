package bgp_test

import (
	"testing"

	"go.uber.org/goleak"
)

// GoBGP's BgpServer.Serve loop has no way to be stopped (Stop closes the
// sessions but not the loop), so one goroutine per Run outlives the
// service. It is ignored by that GoBGP function only; every other
// goroutine, GoBGP's included, must be gone.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		goleak.IgnoreAnyFunction("github.com/osrg/gobgp/v3/pkg/server.(*BgpServer).Serve"),
	)
}
