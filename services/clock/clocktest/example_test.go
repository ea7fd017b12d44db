package clocktest_test

import (
	"context"
	"fmt"
	"time"

	"github.com/goleudy/goleudy/services/clock/clocktest"
)

// A test drives code that waits an hour (here, an SOA refresh) without
// waiting: it lets the code arm its timer, then moves time past it.
func ExampleFake() {
	clk := clocktest.NewFake(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC))

	refreshed := make(chan time.Time)
	go func() { // the code under test
		t := clk.NewTimer(time.Hour)
		refreshed <- <-t.C()
	}()

	if err := clk.BlockUntil(context.Background(), 1); err != nil {
		fmt.Println(err)
		return
	}
	clk.Advance(time.Hour)
	fmt.Println("refreshed at", (<-refreshed).Format(time.TimeOnly))
	// Output: refreshed at 01:00:00
}
