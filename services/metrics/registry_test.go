package metrics

import (
	"errors"
	"fmt"
	"math"
	"reflect"
	"strings"
	"sync"
	"testing"
)

func must[T any](t *testing.T) func(T, error) T {
	return func(v T, err error) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

func encode(t *testing.T, r *Registry) (string, error) {
	t.Helper()
	fams, problems := r.Gather()
	var b strings.Builder
	if err := Encode(&b, fams); err != nil {
		t.Fatal(err)
	}
	return b.String(), problems
}

// TestExposition is the golden output of a registry with every kind of
// series and every character that needs escaping, checked byte for byte
// and by the strict parser.
func TestExposition(t *testing.T) {
	r := NewRegistry()
	queries := must[*CounterVec](t)(r.NewCounterVec("goleudy_dns_queries_total", "Queries answered, by rcode.", "rcode", "proto"))
	zones := must[*Gauge](t)(r.NewGauge("goleudy_dns_zones", `Zones loaded. Backslash \ and`+"\nnewline."))
	odd := must[*GaugeVec](t)(r.NewGaugeVec("goleudy_odd", "", "v"))
	restarts := must[*Counter](t)(r.NewCounter("goleudy_restarts_total", "Service restarts."))
	queries.With("NOERROR", "udp").Add(1234567)
	queries.With("NXDOMAIN", "udp").Inc()
	queries.With("NOERROR", "tcp").Add(2)
	zones.Set(3)
	odd.With(`quote " backslash \ newline` + "\n" + `end`).Set(0.25)
	odd.With("cymraeg: ŵ ŷ").Set(math.Inf(1))
	odd.With("bad utf8 \xff").Set(math.NaN())
	odd.With("").Set(-1e-7)
	restarts.Inc()
	r.Register(func() []Family {
		return []Family{
			{Name: "goleudy_bgp_session_up", Help: "1 while the session is established.", Type: GaugeType, Samples: []Sample{
				{Labels: []Label{{"peer", "fluency"}, {"family", "ipv6"}}, Value: 0},
				{Labels: []Label{{"peer", "fluency"}, {"family", "ipv4"}}, Value: 1},
			}},
			{Name: "goleudy_build_info", Help: "Always 1; the labels say what is running.", Samples: []Sample{
				{Labels: []Label{{"version", "v1.2.0"}, {"board", "pi3"}}, Value: 1},
			}},
		}
	})
	got, problems := encode(t, r)
	if problems != nil {
		t.Errorf("problems: %v", problems)
	}
	want := `# HELP goleudy_bgp_session_up 1 while the session is established.
# TYPE goleudy_bgp_session_up gauge
goleudy_bgp_session_up{family="ipv4",peer="fluency"} 1
goleudy_bgp_session_up{family="ipv6",peer="fluency"} 0
# HELP goleudy_build_info Always 1; the labels say what is running.
# TYPE goleudy_build_info untyped
goleudy_build_info{board="pi3",version="v1.2.0"} 1
# HELP goleudy_dns_queries_total Queries answered, by rcode.
# TYPE goleudy_dns_queries_total counter
goleudy_dns_queries_total{proto="tcp",rcode="NOERROR"} 2
goleudy_dns_queries_total{proto="udp",rcode="NOERROR"} 1234567
goleudy_dns_queries_total{proto="udp",rcode="NXDOMAIN"} 1
# HELP goleudy_dns_zones Zones loaded. Backslash \\ and\nnewline.
# TYPE goleudy_dns_zones gauge
goleudy_dns_zones 3
# HELP goleudy_odd 
# TYPE goleudy_odd gauge
goleudy_odd{v=""} -1e-07
goleudy_odd{v="bad utf8 ` + "\uFFFD" + `"} NaN
goleudy_odd{v="cymraeg: ŵ ŷ"} +Inf
goleudy_odd{v="quote \" backslash \\ newline\nend"} 0.25
# HELP goleudy_restarts_total Service restarts.
# TYPE goleudy_restarts_total counter
goleudy_restarts_total 1
`
	if got != want {
		t.Errorf("exposition:\n%s\nwant:\n%s", got, want)
	}
	fams, err := parseExposition(got)
	if err != nil {
		t.Fatalf("strict parse: %v", err)
	}
	if len(fams) != 6 || fams[2].Help != "Queries answered, by rcode." || fams[3].Help != "Zones loaded. Backslash \\ and\nnewline." {
		t.Errorf("parsed families: %+v", fams)
	}
	if v := fams[3].Samples[0].Value; v != 3 {
		t.Errorf("zones parsed as %v", v)
	}
	if l := findLabel(fams, "goleudy_odd", 3); l != "quote \" backslash \\ newline\nend" {
		t.Errorf("escaped label value parsed back as %q", l)
	}
	again, _ := encode(t, r)
	if again != got {
		t.Error("a second scrape of an unchanged registry differs")
	}
}

func findLabel(fams []Family, name string, i int) string {
	for _, f := range fams {
		if f.Name == name {
			return f.Samples[i].Labels[0].Value
		}
	}
	return ""
}

// TestStrictParserRejects shows the parser catches what the format forbids
// or this package promises never to write.
func TestStrictParserRejects(t *testing.T) {
	good := "# HELP a A.\n# TYPE a gauge\na 1\n"
	if _, err := parseExposition(good); err != nil {
		t.Fatalf("good input: %v", err)
	}
	bad := map[string]string{
		"no final newline":        strings.TrimSuffix(good, "\n"),
		"no HELP":                 "# TYPE a gauge\na 1\n",
		"no TYPE":                 "# HELP a A.\na 1\n",
		"TYPE before HELP":        "# TYPE a gauge\n# HELP a A.\na 1\n",
		"no samples":              "# HELP a A.\n# TYPE a gauge\n",
		"unsorted families":       "# HELP b B.\n# TYPE b gauge\nb 1\n" + good,
		"family twice":            good + good,
		"sample of another":       "# HELP a A.\n# TYPE a gauge\nb 1\n",
		"unsorted labels":         "# HELP a A.\n# TYPE a gauge\na{y=\"1\",x=\"2\"} 1\n",
		"unsorted series":         "# HELP a A.\n# TYPE a gauge\na{x=\"2\"} 1\na{x=\"1\"} 1\n",
		"repeated series":         "# HELP a A.\n# TYPE a gauge\na{x=\"1\"} 1\na{x=\"1\"} 2\n",
		"raw quote":               "# HELP a A.\n# TYPE a gauge\na{x=\"a\"b\"} 1\n",
		"bad escape":              "# HELP a A.\n# TYPE a gauge\na{x=\"\\t\"} 1\n",
		"quote escaped in help":   "# HELP a \\\"A\\\".\n# TYPE a gauge\na 1\n",
		"trailing comma":          "# HELP a A.\n# TYPE a gauge\na{x=\"1\",} 1\n",
		"reserved label":          "# HELP a A.\n# TYPE a gauge\na{__name__=\"1\"} 1\n",
		"timestamp":               "# HELP a A.\n# TYPE a gauge\na 1 1700000000000\n",
		"bad value":               "# HELP a A.\n# TYPE a gauge\na one\n",
		"Go-only infinity":        "# HELP a A.\n# TYPE a gauge\na Inf\n",
		"hex float":               "# HELP a A.\n# TYPE a gauge\na 0x1p3\n",
		"histogram":               "# HELP a A.\n# TYPE a histogram\na 1\n",
		"blank line":              good + "\n",
		"stray comment":           "# hello\n" + good,
		"bad name":                "# HELP 1a A.\n# TYPE 1a gauge\n1a 1\n",
		"two spaces before value": "# HELP a A.\n# TYPE a gauge\na  1\n",
		"invalid UTF-8":           "# HELP a \xff.\n# TYPE a gauge\na 1\n",
	}
	for name, text := range bad {
		if _, err := parseExposition(text); err == nil {
			t.Errorf("%s: accepted %q", name, text)
		}
	}
}

// TestGatherProblems: what cannot be written is left out and reported;
// everything else is still scraped.
func TestGatherProblems(t *testing.T) {
	r := NewRegistry()
	ok := must[*GaugeVec](t)(r.NewGaugeVec("goleudy_ok", "Fine.", "a", "b"))
	ok.With("1", "2").Set(1)
	ok.With("only one").Set(5) // wrong arity: dropped, reported once
	ok.With("only one").Set(6)
	r.Register(func() []Family { panic("collector bug") })
	r.Register(func() []Family {
		return []Family{
			{Name: "bad-name", Type: GaugeType, Samples: []Sample{{Value: 1}}},
			{Name: "goleudy_ok", Type: CounterType, Samples: []Sample{{Value: 1}}}, // type clash
			{Name: "goleudy_weird", Type: "histogram", Samples: []Sample{{Value: 1}}},
			{Name: "goleudy_dup", Help: "Dup.", Type: GaugeType, Samples: []Sample{
				{Labels: []Label{{"x", "1"}}, Value: 1},
				{Labels: []Label{{"x", "1"}}, Value: 2},
				{Labels: []Label{{"__x", "1"}}, Value: 3},
				{Labels: []Label{{"x", "2"}, {"x", "3"}}, Value: 4},
			}},
			{Name: "goleudy_ok", Type: GaugeType, Samples: []Sample{{Labels: []Label{{"a", "3"}, {"b", "4"}}, Value: 7}}}, // merged
			{Name: "goleudy_empty", Type: GaugeType},
		}
	})
	got, problems := encode(t, r)
	want := `# HELP goleudy_dup Dup.
# TYPE goleudy_dup gauge
goleudy_dup{x="1"} 1
# HELP goleudy_ok Fine.
# TYPE goleudy_ok gauge
goleudy_ok{a="1",b="2"} 1
goleudy_ok{a="3",b="4"} 7
`
	if got != want {
		t.Errorf("exposition:\n%s\nwant:\n%s", got, want)
	}
	if _, err := parseExposition(got); err != nil {
		t.Errorf("strict parse: %v", err)
	}
	for _, w := range []struct {
		text string
		is   error
	}{
		{"collector 0: collector failed: panic: collector bug", ErrCollector},
		{`metric "bad-name": invalid name`, ErrName},
		{"metric goleudy_ok: given as gauge and as counter", ErrDuplicate},
		{`goleudy_weird: type "histogram"`, ErrCollector},
		{`metric goleudy_dup{x="1"}: duplicate series`, ErrDuplicate},
		{`label "__x"`, ErrName},
		{`label "x": duplicate`, ErrDuplicate},
		{"metric goleudy_ok: wrong number of label values: got 1, want 2 (a, b)", ErrLabels},
	} {
		if problems == nil || !strings.Contains(problems.Error(), w.text) || !errors.Is(problems, w.is) {
			t.Errorf("problems %v\nwant one with %q matching %v", problems, w.text, w.is)
		}
	}
	if n := strings.Count(problems.Error(), "wrong number of label values"); n != 1 {
		t.Errorf("arity problem reported %d times, want once", n)
	}
	// Arity problems are reported at the next scrape only.
	if _, problems := encode(t, r); strings.Contains(fmt.Sprint(problems), "wrong number") {
		t.Errorf("arity problem reported again: %v", problems)
	}
}

func TestRegistrationErrors(t *testing.T) {
	r := NewRegistry()
	must[*Counter](t)(r.NewCounter("goleudy_x_total", "X."))
	for _, tt := range []struct {
		name   string
		labels []string
		is     error
	}{
		{"goleudy_x_total", nil, ErrDuplicate},
		{"goleudy-x", nil, ErrName},
		{"", nil, ErrName},
		{"9lives", nil, ErrName},
		{"goleudy_y", []string{"ok", "bad-label"}, ErrName},
		{"goleudy_y", []string{"__reserved"}, ErrName},
		{"goleudy_y", []string{"a", "a"}, ErrDuplicate},
	} {
		_, err := r.NewGaugeVec(tt.name, "", tt.labels...)
		if !errors.Is(err, tt.is) || !strings.Contains(err.Error(), fmt.Sprintf("%q", tt.name)) && !strings.Contains(err.Error(), tt.name) {
			t.Errorf("NewGaugeVec(%q, %q) = %v, want %v naming it", tt.name, tt.labels, err, tt.is)
		}
	}
}

func TestValues(t *testing.T) {
	r := NewRegistry()
	c := must[*Counter](t)(r.NewCounter("c_total", ""))
	c.Add(2.5)
	c.Add(-1)
	c.Add(math.NaN())
	c.Inc()
	if c.Value() != 3.5 {
		t.Errorf("counter = %v, want 3.5 (negative and NaN ignored)", c.Value())
	}
	g := must[*GaugeVec](t)(r.NewGaugeVec("g", "", "peer"))
	g.With("a").Set(5)
	g.With("a").Dec()
	g.With("b").Add(-2)
	g.With("b").Inc()
	if g.With("a").Value() != 4 || g.With("b").Value() != -1 {
		t.Errorf("gauges a=%v b=%v", g.With("a").Value(), g.With("b").Value())
	}
	if !g.Delete("a") || g.Delete("a") {
		t.Error("Delete did not report existence")
	}
	fams, _ := r.Gather()
	if len(fams) != 2 || len(fams[1].Samples) != 1 || fams[1].Samples[0].Labels[0].Value != "b" {
		t.Errorf("after Delete: %+v", fams)
	}

	// Many writers, no lost updates.
	var wg sync.WaitGroup
	cv := must[*CounterVec](t)(r.NewCounterVec("q_total", "", "w"))
	for w := range 8 {
		wg.Go(func() {
			for range 1000 {
				c.Inc()
				cv.With(fmt.Sprint(w % 2)).Add(0.5)
			}
		})
	}
	wg.Add(1)
	go func() { defer wg.Done(); r.Gather() }()
	wg.Wait()
	if c.Value() != 8003.5 || cv.With("0").Value() != 2000 {
		t.Errorf("after concurrent updates: c=%v q{w=0}=%v", c.Value(), cv.With("0").Value())
	}
}

func TestFormatValue(t *testing.T) {
	for v, want := range map[float64]string{
		0: "0", 1: "1", -3: "-3", 1234567: "1234567", 1e15: "1e+15", 0.1: "0.1", 1.5e-9: "1.5e-09",
		math.Inf(1): "+Inf", math.Inf(-1): "-Inf", math.MaxUint32: "4294967295",
	} {
		if got := formatValue(v); got != want {
			t.Errorf("formatValue(%v) = %q, want %q", v, got, want)
		}
	}
	if got := formatValue(math.NaN()); got != "NaN" {
		t.Errorf("NaN = %q", got)
	}
}

func TestRuntimeCollector(t *testing.T) {
	fams := RuntimeCollector()()
	names := map[string]float64{}
	for _, f := range fams {
		names[f.Name] = f.Samples[0].Value
	}
	if names["go_goroutines"] < 1 || names["go_memory_total_bytes"] < 1<<20 {
		t.Errorf("runtime families: %v", names)
	}
	out, errs := canonical(fams)
	if errs != nil || len(out) != len(runtimeSamples) {
		t.Errorf("runtime families not all valid: %v, %d of %d", errs, len(out), len(runtimeSamples))
	}
}

// FuzzExposition writes a family with arbitrary help, label value and
// value, and checks the strict parser reads back exactly that.
func FuzzExposition(f *testing.F) {
	f.Add("help", "value", 1.0)
	f.Add("back\\slash\nnew\"line", "\"\\\n", math.Inf(-1))
	f.Add("\xff", "\xfe\x00", 1e300)
	f.Fuzz(func(t *testing.T, help, label string, v float64) {
		r := NewRegistry()
		g, err := r.NewGaugeVec("fuzz", help, "l")
		if err != nil {
			t.Fatal(err)
		}
		g.With(label).Set(v)
		text, problems := encode(t, r)
		if problems != nil {
			t.Fatal(problems)
		}
		fams, err := parseExposition(text)
		if err != nil {
			t.Fatalf("%v in\n%s", err, text)
		}
		want := []Family{{Name: "fuzz", Help: validUTF8(help), Type: GaugeType, Samples: []Sample{{Labels: []Label{{"l", validUTF8(label)}}, Value: v}}}}
		if math.IsNaN(v) {
			if !math.IsNaN(fams[0].Samples[0].Value) {
				t.Fatalf("NaN read back as %v", fams[0].Samples[0].Value)
			}
			fams[0].Samples[0].Value = v
			want[0].Samples[0].Value = v
		}
		if !reflect.DeepEqual(fmt.Sprint(fams), fmt.Sprint(want)) {
			t.Errorf("read back %+v, want %+v", fams, want)
		}
	})
}

// FuzzParseExposition: the strict parser never panics, and what it
// accepts, Encode writes back identically.
func FuzzParseExposition(f *testing.F) {
	f.Add("# HELP a A.\n# TYPE a gauge\na{x=\"1\\n\"} 1\n")
	f.Add("# HELP a \\\\\n# TYPE a counter\na NaN\n# HELP b \n# TYPE b untyped\nb{a=\"\",b=\"\\\"\"} -1e-07\n")
	f.Fuzz(func(t *testing.T, text string) {
		fams, err := parseExposition(text)
		if err != nil {
			return
		}
		var b strings.Builder
		if err := Encode(&b, fams); err != nil {
			t.Fatal(err)
		}
		again, err := parseExposition(b.String())
		if err != nil || fmt.Sprint(again) != fmt.Sprint(fams) {
			t.Errorf("accepted %q but its re-encoding %q reads as %v, %v", text, b.String(), again, err)
		}
	})
}
