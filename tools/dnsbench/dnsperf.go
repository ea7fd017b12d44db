package main

import (
	"context"
	"fmt"
	"net"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
)

// perf is what dnsperf reports for one run.
type perf struct {
	sent, completed, lost int64
	qps                   float64
	seconds               float64 // run time
	rcodes                string  // "NOERROR 1234 (85.00%), NXDOMAIN ..."
}

// runDnsperf runs dnsperf, pinned to the client CPU, against addr with the
// query file for c.duration.
func runDnsperf(ctx context.Context, c config, tools toolPaths, addr, queryFile string) (perf, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return perf{}, err
	}
	args := []string{"-c", strconv.Itoa(c.clientCPU), tools.dnsperf,
		"-s", host, "-p", port, "-d", queryFile,
		"-l", strconv.FormatFloat(c.duration.Seconds(), 'f', -1, 64),
		"-c", strconv.Itoa(c.clients), "-T", "1", "-q", strconv.Itoa(c.outstanding), "-t", "2"}
	if c.edns {
		args = append(args, "-e")
	}
	out, err := exec.CommandContext(ctx, tools.taskset, args...).CombinedOutput()
	if err != nil {
		return perf{}, fmt.Errorf("dnsperf: %w\n%s", err, tail(string(out), 1000))
	}
	return parseDnsperf(string(out))
}

var dnsperfLine = regexp.MustCompile(`(?m)^\s*(Queries sent|Queries completed|Queries lost|Response codes|Run time \(s\)|Queries per second):\s*(.*)$`)

// parseDnsperf reads the statistics block dnsperf prints at the end.
func parseDnsperf(out string) (perf, error) {
	var p perf
	seen := map[string]bool{}
	for _, m := range dnsperfLine.FindAllStringSubmatch(out, -1) {
		key, val := m[1], strings.TrimSpace(m[2])
		first := strings.Fields(val + " 0")[0]
		var err error
		switch key {
		case "Queries sent":
			p.sent, err = strconv.ParseInt(first, 10, 64)
		case "Queries completed":
			p.completed, err = strconv.ParseInt(first, 10, 64)
		case "Queries lost":
			p.lost, err = strconv.ParseInt(first, 10, 64)
		case "Response codes":
			p.rcodes = val
		case "Run time (s)":
			p.seconds, err = strconv.ParseFloat(first, 64)
		case "Queries per second":
			p.qps, err = strconv.ParseFloat(first, 64)
		}
		if err != nil {
			return p, fmt.Errorf("dnsperf output: %s: %w", key, err)
		}
		seen[key] = true
	}
	for _, k := range []string{"Queries completed", "Queries per second", "Run time (s)"} {
		if !seen[k] {
			return p, fmt.Errorf("dnsperf output has no %q line:\n%s", k, tail(out, 1000))
		}
	}
	return p, nil
}

func tail(s string, n int) string {
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}
