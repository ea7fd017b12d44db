package rpiboot

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
)

// A config file as the firmware reads it: lines of key=value, grouped in
// sections by [filter] lines ([all], [pi4], [tryboot] ...), '#' comments,
// and the one directive that is not key=value, "initramfs FILE ADDRESS".

// MaxAutoboot is the size limit the firmware puts on autoboot.txt.
const MaxAutoboot = 512

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

// ParseConfig parses config.txt, tryboot.txt or autoboot.txt. It is
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

// AutobootFor returns partition 1's autoboot.txt with committed as the
// default slot and the other slot as the tryboot target. The image builder
// writes AutobootFor(A); the node rewrites it to commit a trial.
func AutobootFor(committed Slot) []byte {
	return fmt.Appendf(nil, "[all]\ntryboot_a_b=1\nboot_partition=%d\n[tryboot]\nboot_partition=%d\n",
		committed.Partition(), committed.Other().Partition())
}

// ParseAutoboot reads autoboot.txt back and returns the committed slot. It
// accepts only what AutobootFor writes (in any order of lines within the
// sections), because a file that boots a partition other than 2 or 3, or
// lacks the tryboot target, would leave the node without its fallback.
func ParseAutoboot(data []byte) (Slot, error) {
	if len(data) > MaxAutoboot {
		return "", fmt.Errorf("rpiboot: autoboot.txt is %d bytes; the firmware reads at most %d", len(data), MaxAutoboot)
	}
	secs, err := ParseConfig(data)
	if err != nil {
		return "", fmt.Errorf("rpiboot: autoboot.txt: %w", err)
	}
	var all, try *Section
	for i := range secs {
		s := &secs[i]
		switch s.Filter {
		case "all":
			if len(s.Settings) > 0 {
				if all != nil {
					return "", errors.New("rpiboot: autoboot.txt: settings in more than one [all] section")
				}
				all = s
			}
		case "tryboot":
			if try != nil {
				return "", errors.New("rpiboot: autoboot.txt: two [tryboot] sections")
			}
			try = s
		default:
			return "", fmt.Errorf("rpiboot: autoboot.txt: filter [%s]: only [all] and [tryboot] belong here", s.Filter)
		}
	}
	if all == nil || try == nil {
		return "", errors.New("rpiboot: autoboot.txt: want an [all] and a [tryboot] section")
	}
	if v, _ := all.Get("tryboot_a_b"); v != "1" {
		return "", fmt.Errorf("rpiboot: autoboot.txt: [all] tryboot_a_b=%q, want 1", v)
	}
	committed, err := partitionSlot(*all)
	if err != nil {
		return "", fmt.Errorf("rpiboot: autoboot.txt: [all]: %w", err)
	}
	trial, err := partitionSlot(*try)
	if err != nil {
		return "", fmt.Errorf("rpiboot: autoboot.txt: [tryboot]: %w", err)
	}
	if trial != committed.Other() {
		return "", fmt.Errorf("rpiboot: autoboot.txt: [all] and [tryboot] both boot slot %s", committed)
	}
	return committed, nil
}

func partitionSlot(s Section) (Slot, error) {
	for _, st := range s.Settings {
		if st.Key != "boot_partition" && st.Key != "tryboot_a_b" {
			return "", fmt.Errorf("line %d: unexpected %s", st.Line, st.Key)
		}
	}
	v, ok := s.Get("boot_partition")
	switch {
	case !ok:
		return "", errors.New("no boot_partition")
	case v == "2":
		return A, nil
	case v == "3":
		return B, nil
	}
	return "", fmt.Errorf("boot_partition=%q: slots are partitions 2 (A) and 3 (B)", v)
}
