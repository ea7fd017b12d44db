package main

import (
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"text/tabwriter"
	"time"
)

// row is one line of the table: a figure with its unit, for each server.
type row struct {
	label string
	value func(m measurement) (float64, bool)
	unit  string
	// format prints the value; "%.0f" when empty.
	format string
}

func (b *bench) rows() []row {
	many := fmt.Sprintf("%d zones loaded", len(b.small)+1)
	mib := func(n int64) float64 { return float64(n) / (1 << 20) }
	return []row{
		{"QPS, 1 zone", func(m measurement) (float64, bool) { return m.one.perf.qps, m.one.perf.completed > 0 }, "queries/s", "%.0f"},
		{"server CPU per query, 1 zone", func(m measurement) (float64, bool) { return m.one.cpuPerQuery(), m.one.perf.completed > 0 }, "µs", "%.2f"},
		{"server CPU busy, 1 zone", func(m measurement) (float64, bool) { return m.one.busyPercent(), m.one.perf.seconds > 0 }, "% of a CPU", "%.0f"},
		{"queries lost, 1 zone", func(m measurement) (float64, bool) { return lostPercent(m.one), m.one.perf.sent > 0 }, "%", "%.2f"},
		{"QPS, " + many, func(m measurement) (float64, bool) { return m.many.perf.qps, m.many.perf.completed > 0 }, "queries/s", "%.0f"},
		{"server CPU per query, " + many, func(m measurement) (float64, bool) { return m.many.cpuPerQuery(), m.many.perf.completed > 0 }, "µs", "%.2f"},
		{"server CPU busy, " + many, func(m measurement) (float64, bool) { return m.many.busyPercent(), m.many.perf.seconds > 0 }, "% of a CPU", "%.0f"},
		{"queries lost, " + many, func(m measurement) (float64, bool) { return lostPercent(m.many), m.many.perf.sent > 0 }, "%", "%.2f"},
		{"memory, 3-record zone (PSS)", func(m measurement) (float64, bool) { return mib(m.base.pss), m.base.procs > 0 }, "MiB", "%.1f"},
		{fmt.Sprintf("memory, %s %d records (PSS)", benchOrigin, b.benchRecords), func(m measurement) (float64, bool) { return mib(m.one.after.pss), m.one.after.procs > 0 }, "MiB", "%.1f"},
		{fmt.Sprintf("memory, %d-record zone (PSS)", b.cfg.records), func(m measurement) (float64, bool) { return mib(m.large.pss), m.large.procs > 0 }, "MiB", "%.1f"},
		{fmt.Sprintf("memory, %d-record zone (RSS summed)", b.cfg.records), func(m measurement) (float64, bool) { return mib(m.large.rss), m.large.procs > 0 }, "MiB", "%.1f"},
		{"memory per record", func(m measurement) (float64, bool) {
			return float64(m.large.pss-m.base.pss) / float64(b.cfg.records), m.large.procs > 0 && m.base.procs > 0
		}, "bytes", "%.0f"},
		{fmt.Sprintf("load time, %d-record zone", b.cfg.records), func(m measurement) (float64, bool) { return m.largeLoad.Seconds(), m.largeLoad > 0 }, "s", "%.2f"},
		{"load time, " + many, func(m measurement) (float64, bool) { return m.manyLoad.Seconds(), m.manyLoad > 0 }, "s", "%.2f"},
		{"processes (server tree)", func(m measurement) (float64, bool) { return float64(m.one.after.procs), m.one.after.procs > 0 }, "", "%.0f"},
	}
}

func lostPercent(r qpsRun) float64 {
	if r.perf.sent == 0 {
		return 0
	}
	return 100 * float64(r.perf.lost) / float64(r.perf.sent)
}

// printTable prints the setup, then one column per server, then what the
// servers answered, so a misconfigured server (REFUSED, SERVFAIL) is seen.
func printTable(w io.Writer, b *bench, ms []measurement) {
	c := b.cfg
	fmt.Fprintf(w, "\ndnsbench %s  %s, %d CPUs online (%s)\n", time.Now().UTC().Format("2006-01-02 15:04 UTC"), cpuModel(), runtime.NumCPU(), runtime.GOARCH)
	fmt.Fprintf(w, "servers pinned to CPU %d with 1 worker; dnsperf pinned to CPU %d, %d clients, %d outstanding, %s per run, EDNS %v\n",
		c.serverCPU, c.clientCPU, c.clients, c.outstanding, c.duration, c.edns)
	if c.serverCPU == c.clientCPU {
		fmt.Fprintln(w, "WARNING: servers and dnsperf share a CPU; QPS figures are not comparable")
	}
	fmt.Fprintf(w, "query zone %s: %d names, %d records; queries %d%% existing names, %d%% NXDOMAIN, %d%% wildcard\n",
		benchOrigin, c.names, b.benchRecords, mixExisting, mixNX, mixWildcard)
	fmt.Fprintf(w, "CPU = utime+stime of the server's process tree from /proc, per answered query; memory = PSS summed over the tree.\n")
	fmt.Fprintf(w, "A server busy well under 100%% was not the bottleneck (dnsperf was): compare CPU per query, not QPS.\n\n")

	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	header := []string{"", "unit"}
	versions := []string{"", ""}
	for _, m := range ms {
		header = append(header, m.name)
		versions = append(versions, m.version)
	}
	writeRow(tw, header)
	writeRow(tw, versions)
	for _, r := range b.rows() {
		cells := []string{r.label, r.unit}
		for _, m := range ms {
			v, ok := r.value(m)
			if !ok {
				cells = append(cells, "-")
				continue
			}
			cells = append(cells, fmt.Sprintf(r.format, v))
		}
		writeRow(tw, cells)
	}
	tw.Flush()
	fmt.Fprintln(w)
	for _, m := range ms {
		if m.one.perf.rcodes != "" {
			fmt.Fprintf(w, "%s answered (1 zone): %s\n", m.name, m.one.perf.rcodes)
		}
		for _, err := range m.errs {
			fmt.Fprintf(w, "%s FAILED: %v\n", m.name, firstLine(err.Error()))
		}
	}
}

// writeRow writes cells, the label left-aligned by padding it.
func writeRow(tw io.Writer, cells []string) {
	cells[0] = fmt.Sprintf("%-46s", cells[0])
	fmt.Fprintln(tw, strings.Join(cells, "\t")+"\t")
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "unknown CPU"
	}
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown CPU"
}
