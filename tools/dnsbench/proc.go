package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
)

// usage is what a server's process tree has used, read from /proc. Servers
// fork (NSD runs a main process, xfrd and server children), so every
// figure is summed over the root and all its descendants.
type usage struct {
	ticks int64 // CPU time: utime+stime, plus cutime+cstime of reaped children
	rss   int64 // bytes resident, counting shared pages once per process
	pss   int64 // bytes resident, shared pages split between sharers
	procs int
}

// clockTicks is USER_HZ, the unit of the times in /proc/PID/stat.
var clockTicks = func() int64 {
	out, err := exec.Command("getconf", "CLK_TCK").Output()
	if n, perr := strconv.ParseInt(strings.TrimSpace(string(out)), 10, 64); err == nil && perr == nil && n > 0 {
		return n
	}
	return 100 // Linux's USER_HZ on every architecture we build for
}()

// cpuSeconds converts ticks to seconds.
func cpuSeconds(ticks int64) float64 { return float64(ticks) / float64(clockTicks) }

// treeUsage sums the usage of root and every process descending from it.
func treeUsage(root int) (usage, error) {
	pids, err := processTree(root)
	if err != nil {
		return usage{}, err
	}
	var u usage
	for _, pid := range pids {
		st, err := readStat(pid)
		if err != nil {
			continue // exited meanwhile: its time is in its parent's cutime
		}
		u.ticks += st.ticks
		rss, pss, err := readRollup(pid)
		if err == nil {
			u.rss += rss
			u.pss += pss
		}
		u.procs++
	}
	if u.procs == 0 {
		return u, fmt.Errorf("process %d: gone", root)
	}
	return u, nil
}

// processTree lists root and its descendants.
func processTree(root int) ([]int, error) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil, err
	}
	children := map[int][]int{}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if st, err := readStat(pid); err == nil {
			children[st.ppid] = append(children[st.ppid], pid)
		}
	}
	tree := []int{root}
	for i := 0; i < len(tree); i++ {
		tree = append(tree, children[tree[i]]...)
	}
	return tree, nil
}

type stat struct {
	ppid  int
	ticks int64
}

// readStat reads /proc/PID/stat. The command name may hold spaces and
// parentheses, so fields are counted from the last ')': field 4 of
// proc(5) (ppid) is the second after it, utime..cstime (14-17) the 12th
// to 15th.
func readStat(pid int) (stat, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return stat{}, err
	}
	return parseStat(string(b))
}

func parseStat(s string) (stat, error) {
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return stat{}, fmt.Errorf("stat: no command name in %q", s)
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 15 {
		return stat{}, fmt.Errorf("stat: %d fields after the command name", len(f))
	}
	var st stat
	var err error
	if st.ppid, err = strconv.Atoi(f[1]); err != nil {
		return stat{}, fmt.Errorf("stat: ppid: %w", err)
	}
	for _, field := range f[11:15] {
		n, err := strconv.ParseInt(field, 10, 64)
		if err != nil {
			return stat{}, fmt.Errorf("stat: times: %w", err)
		}
		st.ticks += n
	}
	return st, nil
}

// readRollup reads a process's RSS and PSS from /proc/PID/smaps_rollup.
func readRollup(pid int) (rss, pss int64, err error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/smaps_rollup")
	if err != nil {
		return 0, 0, err
	}
	return parseRollup(b)
}

func parseRollup(b []byte) (rss, pss int64, err error) {
	sc := bufio.NewScanner(bytes.NewReader(b))
	found := 0
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) != 3 || f[2] != "kB" {
			continue
		}
		n, err := strconv.ParseInt(f[1], 10, 64)
		if err != nil {
			continue
		}
		switch f[0] {
		case "Rss:":
			rss, found = n*1024, found+1
		case "Pss:":
			pss, found = n*1024, found+1
		}
	}
	if found != 2 {
		return 0, 0, fmt.Errorf("smaps_rollup: no Rss and Pss")
	}
	return rss, pss, nil
}
