package metrics

import (
	"errors"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
)

// Type is a metric family's type, as the TYPE line spells it.
type Type string

// The types this package writes. Histograms and summaries are left out:
// nothing on a node needs them yet, and they would double the format.
const (
	CounterType Type = "counter"
	GaugeType   Type = "gauge"
	UntypedType Type = "untyped"
)

// Label is one name="value" pair of a sample.
type Label struct {
	Name, Value string
}

// Sample is one series' value.
type Sample struct {
	Labels []Label
	Value  float64
}

// Family is a metric: its name, help, type and samples. Collectors return
// families; the registry turns its counters and gauges into families too.
type Family struct {
	Name    string
	Help    string
	Type    Type
	Samples []Sample
}

// Collector is called at every scrape and returns the families it knows
// now: a DNS server's query counters, the BGP sessions' states. It may be
// called from several goroutines at once, must not block, and must not
// call back into the registry. A collector that panics is skipped for
// that scrape and the panic reported.
type Collector func() []Family

// Sentinel errors, for errors.Is.
var (
	// ErrName means a metric or label name is not valid in the format.
	ErrName = errors.New("invalid name")
	// ErrDuplicate means a metric name is registered twice, or a series
	// appears twice in one scrape.
	ErrDuplicate = errors.New("duplicate")
	// ErrLabels means the number of label values does not match the
	// label names.
	ErrLabels = errors.New("wrong number of label values")
	// ErrCollector means a collector panicked or returned a family the
	// format cannot carry.
	ErrCollector = errors.New("collector failed")
)

var (
	metricName = regexp.MustCompile(`^[a-zA-Z_:][a-zA-Z0-9_:]*$`)
	labelName  = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)
)

// checkName reports whether name is a valid metric name.
func checkName(name string) error {
	if !metricName.MatchString(name) {
		return fmt.Errorf("metric %q: %w: want [a-zA-Z_:][a-zA-Z0-9_:]*", name, ErrName)
	}
	return nil
}

// checkLabelNames reports whether names are valid, unreserved and unique.
func checkLabelNames(metric string, names []string) error {
	for i, n := range names {
		switch {
		case !labelName.MatchString(n):
			return fmt.Errorf("metric %s: label %q: %w: want [a-zA-Z_][a-zA-Z0-9_]*", metric, n, ErrName)
		case strings.HasPrefix(n, "__"):
			return fmt.Errorf("metric %s: label %q: %w: names starting __ are reserved", metric, n, ErrName)
		case slices.Contains(names[:i], n):
			return fmt.Errorf("metric %s: label %q: %w", metric, n, ErrDuplicate)
		}
	}
	return nil
}

// Registry holds a node's metrics: counters and gauges that code updates
// as things happen, and collectors asked at scrape time. It is safe for
// concurrent use.
type Registry struct {
	mu         sync.Mutex
	vecs       map[string]*vec
	collectors []Collector
	problems   []error // from With calls since the last scrape, bounded
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry {
	return &Registry{vecs: make(map[string]*vec)}
}

// maxProblems bounds the With errors kept between scrapes.
const maxProblems = 16

func (r *Registry) problem(err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.problems) < maxProblems && !slices.ContainsFunc(r.problems, func(e error) bool { return e.Error() == err.Error() }) {
		r.problems = append(r.problems, err)
	}
}

// Register adds a collector, called at every scrape from then on.
func (r *Registry) Register(c Collector) {
	if c == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.collectors = append(r.collectors, c)
}

func (r *Registry) newVec(name, help string, typ Type, labels []string) (*vec, error) {
	if err := checkName(name); err != nil {
		return nil, err
	}
	if err := checkLabelNames(name, labels); err != nil {
		return nil, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.vecs[name] != nil {
		return nil, fmt.Errorf("metric %s: %w", name, ErrDuplicate)
	}
	v := &vec{reg: r, name: name, help: help, typ: typ, labels: slices.Clone(labels), children: make(map[string]*value)}
	r.vecs[name] = v
	return v, nil
}

// NewCounter registers a counter without labels.
func (r *Registry) NewCounter(name, help string) (*Counter, error) {
	v, err := r.newVec(name, help, CounterType, nil)
	if err != nil {
		return nil, err
	}
	return &Counter{v.with(nil)}, nil
}

// NewGauge registers a gauge without labels.
func (r *Registry) NewGauge(name, help string) (*Gauge, error) {
	v, err := r.newVec(name, help, GaugeType, nil)
	if err != nil {
		return nil, err
	}
	return &Gauge{v.with(nil)}, nil
}

// NewCounterVec registers a counter with the given label names.
func (r *Registry) NewCounterVec(name, help string, labels ...string) (*CounterVec, error) {
	v, err := r.newVec(name, help, CounterType, labels)
	if err != nil {
		return nil, err
	}
	return &CounterVec{v}, nil
}

// NewGaugeVec registers a gauge with the given label names.
func (r *Registry) NewGaugeVec(name, help string, labels ...string) (*GaugeVec, error) {
	v, err := r.newVec(name, help, GaugeType, labels)
	if err != nil {
		return nil, err
	}
	return &GaugeVec{v}, nil
}

// vec is a family kept in the registry: one value per label set.
type vec struct {
	reg    *Registry
	name   string
	help   string
	typ    Type
	labels []string

	mu       sync.RWMutex
	children map[string]*value // by label values joined with \xff
}

// with returns the value for the label values, creating it. A wrong
// number of values gives a value that is never exported, and the next
// scrape reports the mistake: a counter update must not take the node
// down.
func (v *vec) with(values []string) *value {
	if len(values) != len(v.labels) {
		v.reg.problem(fmt.Errorf("metric %s: %w: got %d, want %d (%s)", v.name, ErrLabels, len(values), len(v.labels), strings.Join(v.labels, ", ")))
		return new(value)
	}
	key := strings.Join(values, "\xff")
	v.mu.RLock()
	c := v.children[key]
	v.mu.RUnlock()
	if c != nil {
		return c
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if c = v.children[key]; c == nil {
		c = &value{labels: slices.Clone(values)}
		v.children[key] = c
	}
	return c
}

func (v *vec) delete(values []string) bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	key := strings.Join(values, "\xff")
	_, ok := v.children[key]
	delete(v.children, key)
	return ok
}

func (v *vec) family() Family {
	f := Family{Name: v.name, Help: v.help, Type: v.typ}
	v.mu.RLock()
	defer v.mu.RUnlock()
	for _, c := range v.children {
		s := Sample{Value: c.get(), Labels: make([]Label, len(v.labels))}
		for i, n := range v.labels {
			s.Labels[i] = Label{n, c.labels[i]}
		}
		f.Samples = append(f.Samples, s)
	}
	return f
}

// value is one series: a float64 updated atomically.
type value struct {
	bits   atomic.Uint64
	labels []string
}

func (v *value) get() float64  { return math.Float64frombits(v.bits.Load()) }
func (v *value) set(f float64) { v.bits.Store(math.Float64bits(f)) }
func (v *value) add(d float64) {
	for {
		old := v.bits.Load()
		if v.bits.CompareAndSwap(old, math.Float64bits(math.Float64frombits(old)+d)) {
			return
		}
	}
}

// Counter is a value that only goes up, like queries answered.
type Counter struct{ v *value }

// Inc adds 1.
func (c *Counter) Inc() { c.v.add(1) }

// Add adds d; a negative or NaN d is ignored, since a counter that went
// down would read as a restart.
func (c *Counter) Add(d float64) {
	if d > 0 || math.IsInf(d, 1) {
		c.v.add(d)
	}
}

// Value returns the current count.
func (c *Counter) Value() float64 { return c.v.get() }

// Gauge is a value that goes up and down, like zones loaded.
type Gauge struct{ v *value }

// Set sets the gauge.
func (g *Gauge) Set(f float64) { g.v.set(f) }

// Add adds d, which may be negative.
func (g *Gauge) Add(d float64) { g.v.add(d) }

// Inc adds 1; Dec subtracts 1.
func (g *Gauge) Inc() { g.v.add(1) }
func (g *Gauge) Dec() { g.v.add(-1) }

// Value returns the gauge's value.
func (g *Gauge) Value() float64 { return g.v.get() }

// CounterVec is a counter with labels.
type CounterVec struct{ v *vec }

// With returns the counter for the label values, in the order of the
// label names.
func (c *CounterVec) With(values ...string) *Counter { return &Counter{c.v.with(values)} }

// Delete removes the series for the label values, reporting whether it
// existed: a peer that is gone should not be exported forever.
func (c *CounterVec) Delete(values ...string) bool { return c.v.delete(values) }

// GaugeVec is a gauge with labels.
type GaugeVec struct{ v *vec }

// With returns the gauge for the label values, in the order of the label
// names.
func (g *GaugeVec) With(values ...string) *Gauge { return &Gauge{g.v.with(values)} }

// Delete removes the series for the label values, reporting whether it
// existed.
func (g *GaugeVec) Delete(values ...string) bool { return g.v.delete(values) }
