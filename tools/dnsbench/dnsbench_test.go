package main

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/goleudy/goleudy/tools/lab"
)

const dnsperfOutput = `DNS Performance Testing Tool
Version 2.10.0

[Status] Command line: dnsperf -s 127.0.0.1 -p 25383 -d q.txt -l 2 -c 4 -q 200
[Timeout] Query timed out: msg id 799
[Status] Testing complete (time limit)

Statistics:

  Queries sent:         1190
  Queries completed:    990 (83.19%)
  Queries lost:         200 (16.81%)

  Response codes:       NOERROR 495 (50.00%), NXDOMAIN 495 (50.00%)
  Average packet size:  request 33, response 74
  Run time (s):         2.000168
  Queries per second:   494.958423

  Average Latency (s):  0.000741 (min 0.000015, max 0.001838)
`

func TestParseDnsperf(t *testing.T) {
	p, err := parseDnsperf(dnsperfOutput)
	if err != nil {
		t.Fatal(err)
	}
	want := perf{sent: 1190, completed: 990, lost: 200, qps: 494.958423, seconds: 2.000168,
		rcodes: "NOERROR 495 (50.00%), NXDOMAIN 495 (50.00%)"}
	if p != want {
		t.Errorf("got %+v, want %+v", p, want)
	}
	if _, err := parseDnsperf("dnsperf: no such file"); err == nil {
		t.Error("output without statistics parsed")
	}
}

func TestParseStat(t *testing.T) {
	// The command name may hold spaces and ')'.
	line := "4242 (nsd: a) b) S 4200 4242 4242 0 -1 4194560 100 0 0 0 150 50 7 3 20 0 1 0 100 1000 10"
	st, err := parseStat(line)
	if err != nil {
		t.Fatal(err)
	}
	if st.ppid != 4200 || st.ticks != 150+50+7+3 {
		t.Errorf("got %+v, want ppid 4200, ticks 210", st)
	}
}

func TestParseRollup(t *testing.T) {
	in := "5568e6d15000-7ffc661b7000 ---p 00000000 00:00 0  [rollup]\nRss:                1612 kB\nPss:                 408 kB\nPss_Dirty:           112 kB\n"
	rss, pss, err := parseRollup([]byte(in))
	if err != nil || rss != 1612*1024 || pss != 408*1024 {
		t.Errorf("got %d %d %v", rss, pss, err)
	}
}

// TestZones checks the generators make the record counts the table
// divides by, and that every zone parses.
func TestZones(t *testing.T) {
	text, n := benchZone(100)
	rrs, err := lab.ParseZone(text, benchOrigin)
	if err != nil || len(rrs) != n {
		t.Errorf("bench zone: %d records parsed (%v), counted %d", len(rrs), err, n)
	}
	for _, records := range []int{10, 1003} {
		var b strings.Builder
		if err := writeLargeZone(&b, records); err != nil {
			t.Fatal(err)
		}
		rrs, err := lab.ParseZone(b.String(), largeOrigin)
		if err != nil || len(rrs) != records {
			t.Errorf("large zone of %d: parsed %d (%v)", records, len(rrs), err)
		}
	}
	seen := map[string]bool{}
	for _, z := range smallZones(50) {
		if seen[z.Name] {
			t.Errorf("zone %s twice", z.Name)
		}
		seen[z.Name] = true
		if _, err := z.RRs(); err != nil {
			t.Error(err)
		}
	}
}

func TestQueriesDeterministic(t *testing.T) {
	var a, b bytes.Buffer
	if err := writeQueries(&a, 1000); err != nil {
		t.Fatal(err)
	}
	writeQueries(&b, 1000)
	if a.String() != b.String() {
		t.Error("two query files differ")
	}
	lines := strings.Split(strings.TrimSpace(a.String()), "\n")
	nx, wild := 0, 0
	for _, l := range lines {
		switch {
		case strings.HasPrefix(l, "nx"):
			nx++
		case strings.Contains(l, ".wild."):
			wild++
		}
	}
	if len(lines) != queryLines || nx < queryLines*mixNX/110 || wild < queryLines*mixWildcard/110 {
		t.Errorf("%d lines, %d NXDOMAIN, %d wildcard", len(lines), nx, wild)
	}
}

func TestParseCPUList(t *testing.T) {
	set, err := parseCPUList("0-2,5")
	if err != nil || len(set) != 4 || !set[0] || !set[2] || !set[5] || set[3] {
		t.Errorf("got %v %v", set, err)
	}
}

func readOnline(t *testing.T) string {
	b, err := os.ReadFile("/sys/devices/system/cpu/online")
	if err != nil {
		return "0"
	}
	return strings.TrimSpace(string(b))
}

func TestUsage(t *testing.T) {
	for _, args := range [][]string{
		{"-servers", "bind"},
		{"-cpus", "0"},
		{"-server", "noequals"},
		{"-servers", ""},
		{"extra"},
	} {
		if err := run(t.Context(), args, io.Discard, io.Discard); !errors.Is(err, errUsage) {
			t.Errorf("%q: %v, want a usage error", args, err)
		}
	}
}

// TestRun runs a short benchmark of NSD, and of NSD again through the
// -server command contract, and checks every figure is filled in.
func TestRun(t *testing.T) {
	lab.Require(t, lab.ToolNSD, lab.ToolDnsperf, lab.ToolTaskset)
	script, err := filepath.Abs(filepath.Join("..", "lab", "testdata", "nsd-command.sh"))
	if err != nil {
		t.Fatal(err)
	}
	cpus := "0,1"
	if online, err := parseCPUList(readOnline(t)); err == nil && !online[1] {
		cpus = "0,0" // one CPU: figures mean little, but the path is tested
	}
	var out, log bytes.Buffer
	err = run(t.Context(), []string{"-cpus", cpus,
		"-duration", "1s", "-names", "200", "-records", "2000", "-zones", "20", "-settle", "100ms",
		"-pin-self=false", "-servers", "nsd", "-server", "viacmd=" + script + " {addr} {zonesdir} {dir}",
	}, &out, &log)
	if err != nil {
		t.Fatalf("%v\n%s\n%s", err, out.String(), log.String())
	}
	table := out.String()
	if strings.Contains(table, " - ") || strings.Contains(table, "FAILED") || !strings.Contains(table, "viacmd") {
		t.Errorf("incomplete table:\n%s", table)
	}
	t.Log("\n" + table)
}
