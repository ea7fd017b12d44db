package rpiboot

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
)

// A config file as the firmware reads it: lines of key=value, grouped in
// sections by [filter] lines ([all], [pi4], [pi0w] ...), '#' comments,
// and the one directive that is not key=value, "initramfs FILE ADDRESS".

// ErrSyntax is wrapped by every ParseConfig error.
var ErrSyntax = errors.New("rpiboot: config syntax")

// Section is a [filter] and its settings in order. Settings before any
// filter line are in a section with Filter "all".
type Section struct {
	Filter   string
	Settings []Setting
}

// Setting is one line: Key=Value, or for initramfs the key and the rest of
// the line.
type Setting struct {
	Key, Value string
	Line       int
}

// Get returns the last value of key in the section.
func (s Section) Get(key string) (string, bool) {
	v, ok := "", false
	for _, st := range s.Settings {
		if st.Key == key {
			v, ok = st.Value, true
		}
	}
	return v, ok
}

// ParseConfig parses config.txt. It is
// stricter than the firmware, which ignores what it does not understand:
// files this package writes must not have lines the firmware would skip.
func ParseConfig(data []byte) ([]Section, error) {
	if i := bytes.IndexFunc(data, func(r rune) bool { return r == 0 || r == '\r' || r >= 0x80 }); i >= 0 {
		return nil, fmt.Errorf("%w: byte %d (%q): only ASCII text with \\n line ends", ErrSyntax, i, data[i])
	}
	secs := []Section{{Filter: "all"}}
	for n, line := range strings.Split(string(data), "\n") {
		n++
		line = strings.TrimSpace(line)
		switch {
		case line == "" || strings.HasPrefix(line, "#"):
			continue
		case strings.HasPrefix(line, "["):
			f, ok := strings.CutSuffix(line[1:], "]")
			if !ok || f == "" || strings.ContainsAny(f, "[] \t") {
				return nil, fmt.Errorf("%w: line %d: %q: a filter is [name]", ErrSyntax, n, line)
			}
			secs = append(secs, Section{Filter: f})
			continue
		}
		cur := &secs[len(secs)-1]
		if rest, ok := strings.CutPrefix(line, "initramfs "); ok {
			cur.Settings = append(cur.Settings, Setting{Key: "initramfs", Value: strings.TrimSpace(rest), Line: n})
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok || k == "" || strings.ContainsAny(k, " \t") {
			return nil, fmt.Errorf("%w: line %d: %q: want key=value", ErrSyntax, n, line)
		}
		cur.Settings = append(cur.Settings, Setting{Key: k, Value: v, Line: n})
	}
	return secs, nil
}
