package admin

import (
	"fmt"
	"net/url"
	"slices"
	"strconv"
)

// Limits of GET /v1/log.
const (
	DefaultLogLimit = 100
	MaxLogLimit     = 1000
)

// LogQuery is the parsed query of GET /v1/log.
type LogQuery struct {
	// Since is the sequence number after which to read; HasSince says
	// whether it was given (without it the newest entries are read).
	Since    uint64
	HasSince bool
	// Limit is how many entries at most, 1..MaxLogLimit.
	Limit int
}

// ParseLogQuery reads a raw query string such as "since=42&limit=10". It is
// strict, because a typo that was silently ignored ("limt=5") would answer
// something other than what was asked: only since and limit, each at most
// once, each a plain decimal number; limit 1..MaxLogLimit. The error names
// the parameter.
func ParseLogQuery(raw string) (LogQuery, error) {
	q := LogQuery{Limit: DefaultLogLimit}
	vals, err := url.ParseQuery(raw)
	if err != nil {
		return q, fmt.Errorf("query %q: %w", raw, err)
	}
	keys := make([]string, 0, len(vals))
	for k := range vals {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		v := vals[k]
		if k != "since" && k != "limit" {
			return q, fmt.Errorf("unknown parameter %q; use since and limit", k)
		}
		if len(v) > 1 {
			return q, fmt.Errorf("parameter %q given %d times", k, len(v))
		}
		n, err := decimal(v[0])
		if err != nil {
			return q, fmt.Errorf("parameter %s=%q: %w", k, v[0], err)
		}
		switch k {
		case "since":
			q.Since, q.HasSince = n, true
		case "limit":
			if n < 1 || n > MaxLogLimit {
				return q, fmt.Errorf("parameter limit=%q: must be 1..%d", v[0], MaxLogLimit)
			}
			q.Limit = int(n)
		}
	}
	return q, nil
}

// decimal reads digits only: no sign, no spaces, no 0x, no underscores,
// which strconv's parsers would take in some cases.
func decimal(s string) (uint64, error) {
	if s == "" {
		return 0, fmt.Errorf("empty; want a decimal number")
	}
	for i := range len(s) {
		if s[i] < '0' || s[i] > '9' {
			return 0, fmt.Errorf("want a decimal number")
		}
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("out of range")
	}
	return n, nil
}
