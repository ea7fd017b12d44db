package metrics

import (
	"bufio"
	"cmp"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// ContentType is the media type of the text exposition format, version
// 0.0.4, which every Prometheus server reads.
const ContentType = "text/plain; version=0.0.4; charset=utf-8"

// Gather collects every family: the registry's counters and gauges and
// what each collector returns. The result is what Encode writes: families
// sorted by name, merged when two sources give the same name and type,
// each sample's labels sorted by name and samples sorted by their labels,
// families without samples left out.
//
// Whatever the format cannot carry (a collector's panic, a bad name, a
// type clash, a series given twice, a With call with the wrong number of
// label values since the last Gather) is left out and reported in the
// error, one line each; the rest is still returned.
func (r *Registry) Gather() ([]Family, error) {
	r.mu.Lock()
	vecs := make([]*vec, 0, len(r.vecs))
	for _, v := range r.vecs {
		vecs = append(vecs, v)
	}
	collectors := slices.Clone(r.collectors)
	problems := r.problems
	r.problems = nil
	r.mu.Unlock()

	var fams []Family
	for _, v := range vecs {
		fams = append(fams, v.family())
	}
	for i, c := range collectors {
		got, err := collect(c)
		if err != nil {
			problems = append(problems, fmt.Errorf("collector %d: %w", i, err))
			continue
		}
		fams = append(fams, got...)
	}
	out, errs := canonical(fams)
	return out, errors.Join(append(problems, errs...)...)
}

// collect calls c, turning a panic into an error.
func collect(c Collector) (fams []Family, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("%w: panic: %v", ErrCollector, p)
		}
	}()
	return slices.Clone(c()), nil
}

// canonical validates, merges and sorts families, dropping what cannot be
// written.
func canonical(in []Family) ([]Family, []error) {
	var errs []error
	byName := make(map[string]*Family)
	var order []string
	for _, f := range in {
		if f.Type == "" {
			f.Type = UntypedType
		}
		if err := checkName(f.Name); err != nil {
			errs = append(errs, fmt.Errorf("%w: %w", ErrCollector, err))
			continue
		}
		if f.Type != CounterType && f.Type != GaugeType && f.Type != UntypedType {
			errs = append(errs, fmt.Errorf("%w: metric %s: type %q: want counter, gauge or untyped", ErrCollector, f.Name, f.Type))
			continue
		}
		have := byName[f.Name]
		switch {
		case have == nil:
			f.Samples = slices.Clone(f.Samples)
			byName[f.Name] = &f
			order = append(order, f.Name)
		case have.Type != f.Type:
			errs = append(errs, fmt.Errorf("%w: metric %s: given as %s and as %s; the %s is left out", ErrDuplicate, f.Name, have.Type, f.Type, f.Type))
		default:
			have.Samples = append(have.Samples, f.Samples...)
		}
	}
	out := make([]Family, 0, len(order))
	for _, name := range order {
		f := byName[name]
		samples, serrs := canonicalSamples(f.Name, f.Samples)
		errs = append(errs, serrs...)
		if len(samples) == 0 {
			continue
		}
		f.Samples = samples
		out = append(out, *f)
	}
	slices.SortFunc(out, func(a, b Family) int { return strings.Compare(a.Name, b.Name) })
	return out, errs
}

func canonicalSamples(name string, in []Sample) ([]Sample, []error) {
	var errs []error
	out := make([]Sample, 0, len(in))
	for _, s := range in {
		s.Labels = slices.Clone(s.Labels)
		slices.SortFunc(s.Labels, func(a, b Label) int { return strings.Compare(a.Name, b.Name) })
		names := make([]string, len(s.Labels))
		for i, l := range s.Labels {
			names[i] = l.Name
		}
		if err := checkLabelNames(name, names); err != nil {
			errs = append(errs, err)
			continue
		}
		out = append(out, s)
	}
	slices.SortStableFunc(out, func(a, b Sample) int { return compareLabels(a.Labels, b.Labels) })
	out = slices.CompactFunc(out, func(a, b Sample) bool {
		if compareLabels(a.Labels, b.Labels) != 0 {
			return false
		}
		errs = append(errs, fmt.Errorf("metric %s%s: %w series; the later is left out", name, labelString(b.Labels), ErrDuplicate))
		return true
	})
	return out, errs
}

func compareLabels(a, b []Label) int {
	for i := range min(len(a), len(b)) {
		if c := cmp.Or(strings.Compare(a[i].Name, b[i].Name), strings.Compare(a[i].Value, b[i].Value)); c != 0 {
			return c
		}
	}
	return cmp.Compare(len(a), len(b))
}

// Encode writes families in the text exposition format. It writes them as
// given; Gather's result is already in canonical order.
func Encode(w io.Writer, fams []Family) error {
	bw := bufio.NewWriter(w)
	for _, f := range fams {
		bw.WriteString("# HELP " + f.Name + " " + escapeHelp(f.Help) + "\n")
		bw.WriteString("# TYPE " + f.Name + " " + string(cmp.Or(f.Type, UntypedType)) + "\n")
		for _, s := range f.Samples {
			bw.WriteString(f.Name + labelString(s.Labels) + " " + formatValue(s.Value) + "\n")
		}
	}
	return bw.Flush()
}

// labelString is {a="1",b="2"}, or nothing without labels.
func labelString(ls []Label) string {
	if len(ls) == 0 {
		return ""
	}
	var b strings.Builder
	b.WriteByte('{')
	for i, l := range ls {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(l.Name + `="` + escapeLabel(l.Value) + `"`)
	}
	b.WriteByte('}')
	return b.String()
}

var (
	helpEscaper  = strings.NewReplacer(`\`, `\\`, "\n", `\n`)
	labelEscaper = strings.NewReplacer(`\`, `\\`, "\n", `\n`, `"`, `\"`)
)

// escapeHelp escapes a HELP text; the format wants UTF-8, so invalid
// bytes become U+FFFD.
func escapeHelp(s string) string { return helpEscaper.Replace(validUTF8(s)) }

// escapeLabel escapes a label value.
func escapeLabel(s string) string { return labelEscaper.Replace(validUTF8(s)) }

func validUTF8(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	return strings.ToValidUTF8(s, "\uFFFD")
}

// formatValue writes integers without an exponent (so a byte count reads
// as one) and everything else in the shortest form that parses back.
func formatValue(v float64) string {
	switch {
	case math.IsNaN(v):
		return "NaN"
	case math.IsInf(v, 1):
		return "+Inf"
	case math.IsInf(v, -1):
		return "-Inf"
	case v == math.Trunc(v) && math.Abs(v) < 1e15:
		return strconv.FormatFloat(v, 'f', -1, 64)
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}
