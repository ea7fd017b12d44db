package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/goleudy/goleudy/tools/lab"
)

// run is dnsbench: parse flags, generate the zones and queries, measure
// each server in turn, print the table.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg, err := parseConfig(args, stderr)
	if err != nil {
		return err
	}
	tools, err := findTools()
	if err != nil {
		return err
	}
	if err := checkCPUs(cfg.serverCPU, cfg.clientCPU); err != nil {
		return err
	}
	if cfg.pinSelf {
		// Our own goroutines (zone-readiness polling) must not take
		// the server's CPU.
		self := strconv.Itoa(os.Getpid())
		if out, err := exec.Command(tools.taskset, "-a", "-p", "-c", strconv.Itoa(cfg.clientCPU), self).CombinedOutput(); err != nil {
			return fmt.Errorf("pin dnsbench to CPU %d: %w: %s", cfg.clientCPU, err, out)
		}
	}
	dir, err := os.MkdirTemp("", "dnsbench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	b, err := prepare(cfg, tools, dir, stderr)
	if err != nil {
		return err
	}
	var ms []measurement
	for _, s := range cfg.servers {
		if ctx.Err() != nil {
			break
		}
		ms = append(ms, b.measure(ctx, s))
	}
	printTable(stdout, b, ms)
	var errs []error
	for _, m := range ms {
		for _, err := range m.errs {
			errs = append(errs, fmt.Errorf("%s: %w", m.name, err))
		}
	}
	if ctx.Err() != nil {
		errs = append(errs, ctx.Err())
	}
	return errors.Join(errs...)
}

// toolPaths are the programs dnsbench runs itself; servers' own programs
// are checked by lab.Start.
type toolPaths struct{ taskset, dnsperf string }

func findTools() (toolPaths, error) {
	var t toolPaths
	var err1, err2 error
	t.taskset, err1 = lab.ToolTaskset.Path()
	t.dnsperf, err2 = lab.ToolDnsperf.Path()
	return t, errors.Join(err1, err2)
}

// bench holds the generated inputs every server is measured with.
type bench struct {
	cfg          config
	tools        toolPaths
	log          io.Writer
	queryFile    string
	bench        lab.Zone
	benchRecords int
	large        lab.Zone
	small        []lab.Zone
}

func prepare(cfg config, tools toolPaths, dir string, log io.Writer) (*bench, error) {
	b := &bench{cfg: cfg, tools: tools, log: log}
	fmt.Fprintf(log, "dnsbench: generating %s (%d names), %d zones and a %d-record zone\n", benchOrigin, cfg.names, cfg.zones, cfg.records)
	text, n := benchZone(cfg.names)
	b.bench, b.benchRecords = lab.Zone{Name: benchOrigin, Text: text}, n
	b.small = smallZones(cfg.zones)
	b.queryFile = filepath.Join(dir, "queries.txt")
	if err := writeFile(b.queryFile, func(w io.Writer) error { return writeQueries(w, cfg.names) }); err != nil {
		return nil, err
	}
	b.large = lab.Zone{Name: largeOrigin, Path: filepath.Join(dir, "large.zone")}
	if err := writeFile(b.large.Path, func(w io.Writer) error { return writeLargeZone(w, cfg.records) }); err != nil {
		return nil, err
	}
	return b, nil
}

func writeFile(path string, write func(io.Writer) error) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := write(f); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	return f.Close()
}

// measurement is one server's figures. A step that failed leaves its
// figures zero and its error in errs.
type measurement struct {
	name      string
	version   string
	base      usage         // serving a 3-record zone
	large     usage         // serving the large zone
	largeLoad time.Duration // start until the large zone answers
	one       qpsRun        // queries with the query zone alone
	many      qpsRun        // queries with cfg.zones more zones loaded
	manyLoad  time.Duration // start until every zone answers
	errs      []error
}

// qpsRun is one dnsperf run and what the server used during it.
type qpsRun struct {
	perf  perf
	ticks int64 // server CPU time over the run
	after usage // server memory after the run
}

// cpuPerQuery is server CPU microseconds per answered query.
func (r qpsRun) cpuPerQuery() float64 {
	if r.perf.completed == 0 {
		return 0
	}
	return cpuSeconds(r.ticks) * 1e6 / float64(r.perf.completed)
}

// busyPercent is how much of one CPU the server used during the run.
func (r qpsRun) busyPercent() float64 {
	if r.perf.seconds == 0 {
		return 0
	}
	return 100 * cpuSeconds(r.ticks) / r.perf.seconds
}

// measure runs every step for one server. Each step starts the server
// afresh with its own zones, so no step's state leaks into the next.
func (b *bench) measure(ctx context.Context, s server) measurement {
	m := measurement{name: s.name, version: version(s)}
	zonesMany := append([]lab.Zone{b.bench}, b.small...)
	steps := []struct {
		name string
		run  func() error
	}{
		{"memory serving a 3-record zone", func() error {
			return b.withServer(ctx, s, []lab.Zone{{Name: tinyOrigin, Text: tinyZone()}}, func(srv *lab.Server) (err error) {
				m.base, err = b.settledUsage(ctx, srv)
				return err
			})
		}},
		{fmt.Sprintf("queries to %s alone", benchOrigin), func() error {
			return b.withServer(ctx, s, []lab.Zone{b.bench}, func(srv *lab.Server) (err error) {
				m.one, err = b.queries(ctx, srv)
				return err
			})
		}},
		{fmt.Sprintf("queries to %s with %d more zones loaded", benchOrigin, len(b.small)), func() error {
			return b.withServer(ctx, s, zonesMany, func(srv *lab.Server) (err error) {
				m.manyLoad = srv.Ready.Sub(srv.Started)
				m.many, err = b.queries(ctx, srv)
				return err
			})
		}},
		{fmt.Sprintf("load a %d-record zone", b.cfg.records), func() error {
			return b.withServer(ctx, s, []lab.Zone{b.large}, func(srv *lab.Server) (err error) {
				m.largeLoad = srv.Ready.Sub(srv.Started)
				m.large, err = b.settledUsage(ctx, srv)
				return err
			})
		}},
	}
	for _, st := range steps {
		if ctx.Err() != nil {
			m.errs = append(m.errs, fmt.Errorf("%s: %w", st.name, ctx.Err()))
			break
		}
		fmt.Fprintf(b.log, "dnsbench: %s: %s\n", s.name, st.name)
		start := time.Now()
		if err := st.run(); err != nil {
			m.errs = append(m.errs, fmt.Errorf("%s: %w", st.name, err))
			fmt.Fprintf(b.log, "dnsbench: %s: %s failed: %v\n", s.name, st.name, err)
			continue
		}
		fmt.Fprintf(b.log, "dnsbench: %s: %s: done in %.1fs\n", s.name, st.name, time.Since(start).Seconds())
	}
	return m
}

// withServer starts s pinned to the server CPU, runs f, and stops it.
func (b *bench) withServer(ctx context.Context, s server, zones []lab.Zone, f func(*lab.Server) error) error {
	srv, err := lab.Start(ctx, s.daemon, lab.Options{
		Zones:        zones,
		Workers:      1,
		Prefix:       []string{b.tools.taskset, "-c", strconv.Itoa(b.cfg.serverCPU)},
		Quiet:        true,
		StartTimeout: b.cfg.startLimit,
	})
	if err != nil {
		return err
	}
	err = f(srv)
	return errors.Join(err, srv.Stop())
}

// settledUsage reads the server's memory once it has had a moment to free
// what loading needed.
func (b *bench) settledUsage(ctx context.Context, srv *lab.Server) (usage, error) {
	select {
	case <-ctx.Done():
		return usage{}, ctx.Err()
	case <-time.After(b.cfg.settle):
	}
	return treeUsage(srv.PID())
}

// queries runs dnsperf against srv and reads the server's CPU time around
// it.
func (b *bench) queries(ctx context.Context, srv *lab.Server) (qpsRun, error) {
	before, err := treeUsage(srv.PID())
	if err != nil {
		return qpsRun{}, err
	}
	p, err := runDnsperf(ctx, b.cfg, b.tools, srv.Addr, b.queryFile)
	if err != nil {
		return qpsRun{}, err
	}
	after, err := treeUsage(srv.PID())
	if err != nil {
		return qpsRun{}, err
	}
	return qpsRun{perf: p, ticks: after.ticks - before.ticks, after: after}, nil
}

// version asks a built-in server for its version, for the table header.
func version(s server) string {
	var t lab.Tool
	var arg string
	switch s.name {
	case "nsd":
		t, arg = lab.ToolNSD, "-v"
	case "knot":
		t, arg = lab.ToolKnotd, "--version"
	default:
		return "command"
	}
	p, err := t.Path()
	if err != nil {
		return "?"
	}
	out, _ := exec.Command(p, arg).CombinedOutput()
	fields := strings.Fields(strings.SplitN(string(out), "\n", 2)[0])
	if len(fields) == 0 {
		return "?"
	}
	return fields[len(fields)-1]
}
