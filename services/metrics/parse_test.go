package metrics

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"
)

// parseExposition is a strict reader of the text format as this package
// must write it. Beyond what Prometheus requires (HELP and TYPE at most
// once and before the family's samples, a family's samples together,
// valid names, only \\ \" \n escapes in label values and only \\ \n in
// help, values that are floats, NaN or ±Inf) it also insists on what this
// package promises: every family has HELP, then TYPE, then at least one
// sample; families sorted by name; labels sorted by name; samples sorted
// by labels and never repeated; no blank lines, comments, timestamps or
// trailing commas; valid UTF-8; a final newline.
func parseExposition(text string) ([]Family, error) {
	if text == "" {
		return nil, nil
	}
	if !utf8.ValidString(text) {
		return nil, fmt.Errorf("not valid UTF-8")
	}
	if !strings.HasSuffix(text, "\n") {
		return nil, fmt.Errorf("no final newline")
	}
	var fams []Family
	var cur *Family
	stage := "" // "help", "type" or "samples" for cur
	for n, line := range strings.Split(strings.TrimSuffix(text, "\n"), "\n") {
		fail := func(format string, args ...any) ([]Family, error) {
			return nil, fmt.Errorf("line %d %q: %s", n+1, line, fmt.Sprintf(format, args...))
		}
		switch {
		case line == "":
			return fail("blank line")
		case strings.HasPrefix(line, "# HELP "):
			name, help, ok := strings.Cut(strings.TrimPrefix(line, "# HELP "), " ")
			if !ok {
				return fail("HELP without text separator")
			}
			if !metricName.MatchString(name) {
				return fail("bad metric name")
			}
			if cur != nil && stage != "samples" {
				return fail("family %s has no samples", cur.Name)
			}
			for _, f := range fams {
				if f.Name == name {
					return fail("family %s appears twice", name)
				}
			}
			if len(fams) > 0 && fams[len(fams)-1].Name > name {
				return fail("family %s after %s: not sorted", name, fams[len(fams)-1].Name)
			}
			h, err := unescape(help, false)
			if err != nil {
				return fail("help: %v", err)
			}
			fams = append(fams, Family{Name: name, Help: h})
			cur, stage = &fams[len(fams)-1], "help"
		case strings.HasPrefix(line, "# TYPE "):
			name, typ, _ := strings.Cut(strings.TrimPrefix(line, "# TYPE "), " ")
			if cur == nil || name != cur.Name || stage != "help" {
				return fail("TYPE not straight after its HELP")
			}
			switch Type(typ) {
			case CounterType, GaugeType, UntypedType:
			default:
				return fail("type %q", typ)
			}
			cur.Type, stage = Type(typ), "type"
		case strings.HasPrefix(line, "#"):
			return fail("stray comment")
		default:
			if cur == nil || stage == "help" {
				return fail("sample before HELP and TYPE")
			}
			s, name, err := parseSample(line)
			if err != nil {
				return fail("%v", err)
			}
			if name != cur.Name {
				return fail("sample of %s inside family %s", name, cur.Name)
			}
			if k := len(cur.Samples); k > 0 && compareLabels(cur.Samples[k-1].Labels, s.Labels) >= 0 {
				return fail("series not sorted or repeated")
			}
			cur.Samples = append(cur.Samples, s)
			stage = "samples"
		}
	}
	if stage != "samples" {
		return nil, fmt.Errorf("family %s has no samples", cur.Name)
	}
	return fams, nil
}

var floatText = regexp.MustCompile(`^-?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?$`)

// parseSample reads `name{a="1",b="2"} value`.
func parseSample(line string) (Sample, string, error) {
	var s Sample
	end := strings.IndexAny(line, "{ ")
	if end < 0 {
		return s, "", fmt.Errorf("no value")
	}
	name, rest := line[:end], line[end:]
	if !metricName.MatchString(name) {
		return s, "", fmt.Errorf("bad metric name %q", name)
	}
	if strings.HasPrefix(rest, "{") {
		rest = rest[1:]
		for {
			eq := strings.Index(rest, `="`)
			if eq < 0 {
				return s, "", fmt.Errorf("label without =\"")
			}
			lname := rest[:eq]
			if !labelName.MatchString(lname) || strings.HasPrefix(lname, "__") {
				return s, "", fmt.Errorf("bad label name %q", lname)
			}
			rest = rest[eq+2:]
			raw, after, ok := cutQuoted(rest)
			if !ok {
				return s, "", fmt.Errorf("label %s: unterminated value", lname)
			}
			v, err := unescape(raw, true)
			if err != nil {
				return s, "", fmt.Errorf("label %s: %v", lname, err)
			}
			if k := len(s.Labels); k > 0 && s.Labels[k-1].Name >= lname {
				return s, "", fmt.Errorf("label %s: labels not sorted or repeated", lname)
			}
			s.Labels = append(s.Labels, Label{lname, v})
			rest = after
			if strings.HasPrefix(rest, ",") {
				rest = rest[1:]
				continue
			}
			if !strings.HasPrefix(rest, "}") {
				return s, "", fmt.Errorf("label %s: want , or } after the value", lname)
			}
			rest = rest[1:]
			break
		}
	}
	value, ok := strings.CutPrefix(rest, " ")
	if !ok {
		return s, "", fmt.Errorf("want one space before the value")
	}
	switch {
	case value == "NaN", value == "+Inf", value == "-Inf":
	case floatText.MatchString(value):
	default:
		return s, "", fmt.Errorf("value %q (timestamps are not written)", value)
	}
	f, err := strconv.ParseFloat(value, 64)
	if err != nil {
		return s, "", fmt.Errorf("value %q: %v", value, err)
	}
	s.Value = f
	return s, name, nil
}

// cutQuoted returns the text up to the first unescaped quote.
func cutQuoted(s string) (raw, after string, ok bool) {
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case '"':
			return s[:i], s[i+1:], true
		}
	}
	return "", "", false
}

// unescape undoes the format's escapes: \\ and \n, and \" in label values.
// Anything else escaped, and a raw newline or (in a label) a raw quote, is
// an error.
func unescape(s string, label bool) (string, error) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\n':
			return "", fmt.Errorf("raw newline")
		case c == '"' && label:
			return "", fmt.Errorf("raw quote")
		case c != '\\':
			b.WriteByte(c)
			continue
		}
		if i+1 == len(s) {
			return "", fmt.Errorf("trailing backslash")
		}
		i++
		switch s[i] {
		case '\\':
			b.WriteByte('\\')
		case 'n':
			b.WriteByte('\n')
		case '"':
			if !label {
				return "", fmt.Errorf(`\" in help`)
			}
			b.WriteByte('"')
		default:
			return "", fmt.Errorf(`unknown escape \%c`, s[i])
		}
	}
	return b.String(), nil
}
