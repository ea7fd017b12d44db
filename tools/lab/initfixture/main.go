package main

import (
	"fmt"
	"os"
)

func main() {
	if err := run(os.Stdout); err != nil {
		fmt.Fprintf(os.Stderr, "initfixture: %v\n", err)
		os.Exit(1)
	}
}
