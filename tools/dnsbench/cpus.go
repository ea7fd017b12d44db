package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"
)

// checkCPUs fails clearly when -cpus names a CPU that is not online,
// rather than leaving taskset to fail with EINVAL halfway through.
func checkCPUs(cpus ...int) error {
	b, err := os.ReadFile("/sys/devices/system/cpu/online")
	if err != nil {
		return nil // no sysfs: let taskset judge
	}
	online, err := parseCPUList(strings.TrimSpace(string(b)))
	if err != nil {
		return nil
	}
	for _, c := range cpus {
		if !online[c] {
			return fmt.Errorf("CPU %d is not online (online: %s); choose others with -cpus", c, strings.TrimSpace(string(b)))
		}
	}
	return nil
}

// parseCPUList parses the kernel's CPU list format, e.g. "0-3,5".
func parseCPUList(s string) (map[int]bool, error) {
	set := map[int]bool{}
	for _, part := range strings.Split(s, ",") {
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := strconv.Atoi(lo)
		if err != nil {
			return nil, err
		}
		b := a
		if isRange {
			if b, err = strconv.Atoi(hi); err != nil {
				return nil, err
			}
		}
		for c := a; c <= b; c++ {
			set[c] = true
		}
	}
	return set, nil
}
