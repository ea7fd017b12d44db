package update

import (
	"log/slog"
	"testing"

	"go.uber.org/goleak"
)

// The agents' goroutines must be gone when the tests end.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// testLog logs to the test's output, at debug level.
func testLog(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
}
