package server

import (
	"os"
	"testing"

	"go.uber.org/goleak"

	"github.com/goleudy/goleudy/tools/lab"
)

func TestMain(m *testing.M) {
	code := m.Run()
	lab.CleanupBuilds()
	if code == 0 {
		if err := goleak.Find(); err != nil {
			os.Stderr.WriteString("goleak: " + err.Error() + "\n")
			code = 1
		}
	}
	os.Exit(code)
}
