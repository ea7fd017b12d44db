package supervisor_test

import (
	"context"
	"fmt"

	"github.com/goleudy/goleudy/services/supervisor"
)

// greeter says hello, then serves until it is told to stop.
type greeter struct{ ready chan struct{} }

func (greeter) Name() string { return "greeter" }

func (g greeter) Run(ctx context.Context) error {
	fmt.Println("hello")
	close(g.ready)
	<-ctx.Done()
	return ctx.Err()
}

func Example() {
	g := greeter{ready: make(chan struct{})}
	sup, err := supervisor.New(supervisor.Options{}, g)
	if err != nil {
		fmt.Println(err)
		return
	}

	ctx, cancel := context.WithCancel(context.Background())
	result := make(chan error, 1)
	go func() { result <- sup.Run(ctx) }()

	<-g.ready
	st, _ := sup.Lookup("greeter")
	fmt.Println(st.Name, st.State, "healthy:", st.Healthy())

	cancel() // as the node's signal handler does at shutdown
	fmt.Println("Run:", <-result)
	st, _ = sup.Lookup("greeter")
	fmt.Println(st.Name, st.State)
	// Output:
	// hello
	// greeter running healthy: true
	// Run: <nil>
	// greeter stopped
}
