package grub_test

import (
	"os"
	"testing"

	"go.uber.org/goleak"

	"github.com/goleudy/goleudy/image/grub/grubtest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.Cleanup(func(code int) {
		grubtest.Cleanup()
		os.Exit(code)
	}))
}
