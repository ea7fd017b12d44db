package debugtools

import (
	"os"
	"testing"

	"go.uber.org/goleak"
)

// Build runs go and gobusybox's package loader; neither may leave a
// goroutine behind. GOPROXY=off proves the build needs nothing beyond
// the module cache that `go mod download` fills.
func TestMain(m *testing.M) {
	os.Setenv("GOPROXY", "off")
	goleak.VerifyTestMain(m)
}
