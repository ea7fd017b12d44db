package main

import (
	"testing"

	"go.uber.org/goleak"
)

// Servers started through lab each have a reaper goroutine; all must end.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
