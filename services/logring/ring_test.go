package logring

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"strings"
	"sync"
	"testing"
	"testing/slogtest"
	"time"
	"unicode/utf8"
)

// TestSlogHandlerContract runs the standard library's handler conformance
// suite over the ring, reading results back through Records and
// unflattening the dotted keys into the nested maps slogtest expects.
func TestSlogHandlerContract(t *testing.T) {
	var ring *Ring
	slogtest.Run(t, func(*testing.T) slog.Handler {
		ring = New(nil, 0)
		return ring.Handler()
	}, func(t *testing.T) map[string]any {
		es := ring.Records(0, 0)
		if len(es) != 1 {
			t.Fatalf("%d entries, want 1", len(es))
		}
		return nested(es[0])
	})
}

// nested is e as slogtest wants it.
func nested(e Entry) map[string]any {
	m := map[string]any{slog.LevelKey: e.Level, slog.MessageKey: e.Message}
	if !e.Time.IsZero() {
		m[slog.TimeKey] = e.Time
	}
	for k, v := range e.Attrs {
		parts := strings.Split(k, ".")
		at := m
		for _, p := range parts[:len(parts)-1] {
			sub, ok := at[p].(map[string]any)
			if !ok {
				sub = map[string]any{}
				at[p] = sub
			}
			at = sub
		}
		at[parts[len(parts)-1]] = v
	}
	return m
}

// TestTee shows that the next handler gets every record it wants, with the
// logger's attributes and groups, exactly as it would without the ring.
func TestTee(t *testing.T) {
	var direct, teed bytes.Buffer
	opts := &slog.HandlerOptions{ReplaceAttr: dropTime}
	log := func(l *slog.Logger) {
		l = l.With("service", "dns").WithGroup("zone").With("name", "example.com.")
		l.Info("loaded", "serial", 7)
		l.Debug("not for the console")
		l.Warn("expiring", slog.Group("soa", "expire", time.Hour))
	}
	log(slog.New(slog.NewJSONHandler(&direct, opts)))
	ring := New(slog.NewJSONHandler(&teed, opts), 10)
	log(slog.New(ring.Handler()))
	if direct.String() != teed.String() {
		t.Errorf("next handler got\n%s\nwant\n%s", teed.String(), direct.String())
	}
	es := ring.Records(0, 0)
	if len(es) != 2 {
		t.Fatalf("ring kept %d entries, want 2 (INFO and WARN)", len(es))
	}
	want := map[string]any{"service": "dns", "zone.name": "example.com.", "zone.soa.expire": "1h0m0s"}
	if got := es[1].Attrs; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("attrs %v, want %v", got, want)
	}
	if es[0].Attrs["zone.serial"] != int64(7) {
		t.Errorf("zone.serial = %#v, want int64 7", es[0].Attrs["zone.serial"])
	}
}

func dropTime(groups []string, a slog.Attr) slog.Attr {
	if len(groups) == 0 && a.Key == slog.TimeKey {
		return slog.Attr{}
	}
	return a
}

// TestLevels: the ring keeps INFO and above by default whatever the next
// handler wants, and keeps DEBUG once asked to.
func TestLevels(t *testing.T) {
	var console bytes.Buffer
	ring := New(slog.NewTextHandler(&console, &slog.HandlerOptions{Level: slog.LevelWarn}), 0)
	l := slog.New(ring.Handler())
	l.Debug("d")
	l.Info("i")
	l.Warn("w")
	if got := msgs(ring.Records(0, 0)); got != "i w" {
		t.Errorf("ring kept %q, want %q", got, "i w")
	}
	if c := console.String(); strings.Contains(c, "msg=i") || !strings.Contains(c, "msg=w") {
		t.Errorf("console got %q, want only the WARN", c)
	}
	if l.Enabled(context.Background(), slog.LevelDebug) {
		t.Error("DEBUG enabled though neither the ring nor next wants it")
	}
	ring.SetLevel(slog.LevelDebug)
	l.Debug("d2")
	if got := msgs(ring.Records(2, 0)); got != "d2" {
		t.Errorf("after SetLevel(DEBUG) ring kept %q, want d2", got)
	}
	if strings.Contains(console.String(), "d2") {
		t.Error("SetLevel changed what the next handler gets")
	}
}

func msgs(es []Entry) string {
	var s []string
	for _, e := range es {
		s = append(s, e.Message)
	}
	return strings.Join(s, " ")
}

func seqs(es []Entry) []uint64 {
	var s []uint64
	for _, e := range es {
		s = append(s, e.Seq)
	}
	return s
}

// TestCountBoundAndPaging fills a ring of 5 with 12 records and reads it
// the ways the admin API does.
func TestCountBoundAndPaging(t *testing.T) {
	ring := New(nil, 5)
	if first, last := ring.Bounds(); first != 1 || last != 0 {
		t.Errorf("empty Bounds = %d, %d, want 1, 0", first, last)
	}
	if es := ring.Records(0, 0); es != nil {
		t.Errorf("empty Records = %v", es)
	}
	l := slog.New(ring.Handler())
	for i := 1; i <= 12; i++ {
		l.Info(fmt.Sprint(i))
	}
	tests := []struct {
		name         string
		since        uint64
		limit        int
		wantSeqs     string
		wantMessages string
	}{
		{"all", 0, 0, "[8 9 10 11 12]", "8 9 10 11 12"},
		{"fell behind", 3, 0, "[8 9 10 11 12]", "8 9 10 11 12"},
		{"just behind", 7, 0, "[8 9 10 11 12]", "8 9 10 11 12"},
		{"page", 8, 2, "[9 10]", "9 10"},
		{"next page", 10, 2, "[11 12]", "11 12"},
		{"caught up", 12, 2, "[]", ""},
		{"from the future", 99, 0, "[]", ""},
		{"limit above count", 0, 50, "[8 9 10 11 12]", "8 9 10 11 12"},
		{"first page of a lagging reader", 0, 1, "[8]", "8"},
	}
	for _, tt := range tests {
		es := ring.Records(tt.since, tt.limit)
		if got := fmt.Sprint(seqs(es)); got != tt.wantSeqs || msgs(es) != tt.wantMessages {
			t.Errorf("%s: Records(%d, %d) = %s %q, want %s %q", tt.name, tt.since, tt.limit, got, msgs(es), tt.wantSeqs, tt.wantMessages)
		}
	}
	if got := fmt.Sprint(seqs(ring.Tail(2))); got != "[11 12]" {
		t.Errorf("Tail(2) = %s", got)
	}
	if got := fmt.Sprint(seqs(ring.Tail(0))); got != "[8 9 10 11 12]" {
		t.Errorf("Tail(0) = %s", got)
	}
	if first, last := ring.Bounds(); first != 8 || last != 12 {
		t.Errorf("Bounds = %d, %d, want 8, 12", first, last)
	}
}

// TestByteBound: big records push old ones out long before the count
// bound, the estimate stays within the bound, and one record larger than
// the bound is still kept, alone.
func TestByteBound(t *testing.T) {
	const maxBytes = 10_000
	ring := NewBounded(nil, 1000, maxBytes)
	l := slog.New(ring.Handler())
	big := strings.Repeat("x", 1000)
	for range 100 {
		l.Info("big", "v", big)
	}
	es := ring.Records(0, 0)
	if len(es) == 0 || len(es) > maxBytes/1000 {
		t.Errorf("kept %d records of ~1 KB in a %d byte ring", len(es), maxBytes)
	}
	ring.mu.Lock()
	used := ring.bytes
	ring.mu.Unlock()
	if used > maxBytes {
		t.Errorf("estimated %d bytes held, bound %d", used, maxBytes)
	}
	huge := make([]any, 0, 40)
	for i := range 20 {
		huge = append(huge, fmt.Sprint("k", i), strings.Repeat("y", MaxValueLen))
	}
	l.Info("huge", huge...)
	if es := ring.Records(0, 0); len(es) != 1 || es[0].Message != "huge" || len(es[0].Attrs) != 20 {
		t.Errorf("after an oversized record the ring holds %d entries (%q), want just it", len(es), msgs(es))
	}
	l.Info("small")
	if got := msgs(ring.Records(0, 0)); got != "small" {
		t.Errorf("after a small record: %q, want it alone (the huge one no longer fits)", got)
	}
}

type point struct{ X, Y int }

type panicky struct{}

func (*panicky) String() string { panic("nil receiver") }

// TestSnapshot: values are captured when logged and always encode as JSON.
func TestSnapshot(t *testing.T) {
	ring := New(nil, 10)
	p := &point{1, 2}
	list := []string{"a", "b"}
	when := time.Date(2025, 3, 1, 12, 0, 0, 5, time.UTC)
	var nilStringer *panicky
	slog.New(ring.Handler()).Info("values",
		"ptr", p,
		"list", list,
		"err", fmt.Errorf("transfer: %w", errors.New("refused")),
		"nan", math.NaN(),
		"inf", math.Inf(-1),
		"when", when,
		"took", 1500*time.Millisecond,
		"u", uint64(math.MaxUint64),
		"ok", true,
		"nil", nil,
		"bytes", []byte("raw"),
		"panics", nilStringer,
		"chan", make(chan int), // JSON cannot: falls back to %+v
		"long", strings.Repeat("é", MaxValueLen),
	)
	p.X, list[0] = 100, "changed"
	e := ring.Records(0, 0)[0]
	got, err := json.Marshal(e.Attrs)
	if err != nil {
		t.Fatalf("attrs do not encode: %v", err)
	}
	var m map[string]any
	if err := json.Unmarshal(got, &m); err != nil {
		t.Fatal(err)
	}
	checks := map[string]any{
		"ptr":    map[string]any{"X": 1.0, "Y": 2.0},
		"list":   []any{"a", "b"},
		"err":    "transfer: refused",
		"nan":    "NaN",
		"inf":    "-Inf",
		"when":   "2025-03-01T12:00:00.000000005Z",
		"took":   "1.5s",
		"u":      float64(math.MaxUint64),
		"ok":     true,
		"nil":    nil,
		"bytes":  "raw",
		"panics": "!PANIC: nil receiver",
	}
	for k, want := range checks {
		if fmt.Sprint(m[k]) != fmt.Sprint(want) {
			t.Errorf("%s = %#v, want %#v", k, m[k], want)
		}
	}
	if c, _ := m["chan"].(string); !strings.HasPrefix(c, "0x") {
		t.Errorf("chan = %#v, want its %%+v", m["chan"])
	}
	long, _ := m["long"].(string)
	if len(long) > MaxValueLen || !utf8.ValidString(long) || !strings.HasSuffix(long, "é…") {
		t.Errorf("long value: %d bytes, valid UTF-8 %v, ends %q", len(long), utf8.ValidString(long), long[len(long)-8:])
	}
	// Readers get copies: changing one does not change the ring.
	e.Attrs["list"].(json.RawMessage)[1] = 'X'
	e.Attrs["ok"] = false
	again := ring.Records(0, 0)[0]
	if string(again.Attrs["list"].(json.RawMessage)) != `["a","b"]` || again.Attrs["ok"] != true {
		t.Errorf("a reader's change reached the ring: %v", again.Attrs)
	}
}

// TestTimeOutOfJSONRange: a record time JSON cannot carry becomes zero
// instead of breaking every later read of the log.
func TestTimeOutOfJSONRange(t *testing.T) {
	ring := New(nil, 2)
	h := ring.Handler()
	r := slog.NewRecord(time.Date(12000, 1, 1, 0, 0, 0, 0, time.UTC), slog.LevelError, "far future", 0)
	if err := h.Handle(context.Background(), r); err != nil {
		t.Fatal(err)
	}
	if _, err := json.Marshal(ring.Records(0, 0)); err != nil {
		t.Errorf("entries do not encode: %v", err)
	}
}

// TestConcurrent logs from many goroutines while others read: every
// sequence number is given out once, readers always see a contiguous run.
func TestConcurrent(t *testing.T) {
	ring := New(slog.NewTextHandler(io.Discard, nil), 64)
	const writers, each = 8, 500
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			l := slog.New(ring.Handler()).With("writer", w)
			for i := range each {
				l.Info("m", "i", i)
			}
		})
	}
	stop := make(chan struct{})
	var readers sync.WaitGroup
	for range 2 {
		readers.Go(func() {
			var since uint64
			for {
				select {
				case <-stop:
					return
				default:
				}
				es := ring.Records(since, 10)
				for i := 1; i < len(es); i++ {
					if es[i].Seq != es[i-1].Seq+1 {
						t.Errorf("gap: %d then %d", es[i-1].Seq, es[i].Seq)
						return
					}
				}
				if len(es) > 0 {
					if es[0].Seq <= since {
						t.Errorf("Records(%d) returned seq %d", since, es[0].Seq)
						return
					}
					since = es[len(es)-1].Seq
				}
			}
		})
	}
	wg.Wait()
	close(stop)
	readers.Wait()
	if _, last := ring.Bounds(); last != writers*each {
		t.Errorf("last seq %d, want %d", last, writers*each)
	}
}

// FuzzRecord logs arbitrary text as message, key, group and value, and
// checks the entry encodes as valid JSON within the length bound.
func FuzzRecord(f *testing.F) {
	f.Add("msg", "key", "group", "value")
	f.Add(strings.Repeat("\xff", MaxValueLen+3), "", "", "\x00")
	f.Add("é", "a.b", "", strings.Repeat("é", MaxValueLen))
	f.Fuzz(func(t *testing.T, msg, key, group, val string) {
		ring := New(nil, 4)
		slog.New(ring.Handler()).WithGroup(group).Info(msg, key, val, slog.Group(key, key, val))
		es := ring.Records(0, 0)
		if len(es) != 1 {
			t.Fatalf("%d entries", len(es))
		}
		b, err := json.Marshal(es)
		if err != nil || !json.Valid(b) {
			t.Fatalf("entry does not encode: %v", err)
		}
		if len(es[0].Message) > MaxValueLen {
			t.Errorf("message of %d bytes kept", len(es[0].Message))
		}
		for k, v := range es[0].Attrs {
			if s, ok := v.(string); ok && len(s) > MaxValueLen {
				t.Errorf("%q: value of %d bytes kept", k, len(s))
			}
		}
		if utf8.ValidString(msg) && !utf8.ValidString(es[0].Message) {
			t.Errorf("truncation broke UTF-8: %q", es[0].Message)
		}
	})
}
