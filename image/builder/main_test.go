package builder

import (
	"os"
	"testing"

	"github.com/goleudy/goleudy/tools/lab"
)

func TestMain(m *testing.M) {
	code := m.Run()
	lab.CleanupBuilds()
	os.Exit(code)
}
