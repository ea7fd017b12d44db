// Command dnsbench measures authoritative DNS servers side by side on this
// machine, for `make bench`: NSD and Knot from Debian's packages and, given
// as command lines, any other server (our own service, once it can serve
// zone files). The issue it serves asks that our service use no more CPU
// per query and no more memory per record than NSD, load a 1M-record zone
// in under 2 s, and not slow down with 10,000 zones; this prints those
// figures.
//
// Every server runs pinned to one CPU and dnsperf to another, each server
// loads the same generated zones, and CPU time is read from /proc for the
// server's whole process tree (NSD forks its workers). Everything listens
// on loopback, and every process started is stopped before it returns.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	switch {
	case errors.Is(err, flag.ErrHelp):
	case errors.Is(err, errUsage):
		os.Exit(2)
	case err != nil:
		fmt.Fprintln(os.Stderr, "dnsbench:", err)
		os.Exit(1)
	}
}
