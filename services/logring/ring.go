package logring

import (
	"log/slog"
	"sync"
	"time"
)

// Defaults and limits.
const (
	// DefaultRecords is how many records New keeps when n <= 0.
	DefaultRecords = 2000
	// DefaultMaxBytes bounds the estimated size of the kept entries.
	DefaultMaxBytes = 1 << 20
	// MaxValueLen is the longest message or string value kept whole;
	// longer ones are cut at a rune boundary and end in "…".
	MaxValueLen = 4096
)

// entryOverhead is the estimated cost of an entry beyond its message and
// attributes: the struct, the slice header, the time and level.
const entryOverhead = 96

// Entry is one log record as the ring keeps it, ready for JSON.
type Entry struct {
	// Seq numbers records from 1 in the order the ring received them.
	Seq     uint64    `json:"seq"`
	Time    time.Time `json:"time"`
	Level   string    `json:"level"` // slog's spelling: DEBUG, INFO, WARN, ERROR, INFO+2
	Message string    `json:"msg"`
	// Attrs holds the record's attributes and those the logger was made
	// with, keys joined to their groups with dots. Values are strings,
	// int64, uint64, float64, bool or json.RawMessage.
	Attrs map[string]any `json:"attrs,omitempty"`
}

// Ring is a slog.Handler's memory: the last records logged through
// [Ring.Handler], bounded by count and by bytes. It is safe for concurrent
// use.
type Ring struct {
	next     slog.Handler
	level    slog.LevelVar
	maxBytes int

	mu    sync.Mutex
	buf   []record // circular, len(buf) is the record bound
	head  int      // index of the oldest record
	count int
	bytes int
	seq   uint64 // the last sequence number given out
}

// record is an Entry before its attributes become a map: the fields
// slice is never changed once stored, so readers may share it.
type record struct {
	seq    uint64
	time   time.Time
	level  slog.Level
	msg    string
	fields []field
	size   int
}

// New returns a ring of the last n records (DefaultRecords if n <= 0),
// bounded also by DefaultMaxBytes, that forwards every record to next
// (which may be nil: then the ring is the only destination).
func New(next slog.Handler, n int) *Ring {
	return NewBounded(next, n, DefaultMaxBytes)
}

// NewBounded is New with a byte bound other than DefaultMaxBytes
// (maxBytes <= 0 means the default). The newest record is always kept,
// however large.
func NewBounded(next slog.Handler, n, maxBytes int) *Ring {
	if n <= 0 {
		n = DefaultRecords
	}
	if maxBytes <= 0 {
		maxBytes = DefaultMaxBytes
	}
	return &Ring{next: next, maxBytes: maxBytes, buf: make([]record, n)}
}

// SetLevel sets the lowest level the ring keeps (default INFO). It does
// not change what reaches the next handler, which decides for itself.
func (r *Ring) SetLevel(l slog.Level) { r.level.Set(l) }

// Handler returns the handler to build loggers on: it keeps records in the
// ring and passes them on to the next handler.
func (r *Ring) Handler() slog.Handler { return &handler{ring: r, next: r.next} }

// Records returns up to limit entries (all if limit <= 0) with a sequence
// number above since, oldest first. A reader that follows the log passes
// the last Seq it saw; if the first entry's Seq is above since+1, records
// were dropped before it could read them.
func (r *Ring) Records(since uint64, limit int) []Entry {
	r.mu.Lock()
	if since >= r.seq || r.count == 0 {
		r.mu.Unlock()
		return nil
	}
	oldest := r.seq - uint64(r.count) + 1
	skip := 0
	if since >= oldest {
		skip = int(since - oldest + 1)
	}
	n := r.count - skip
	if limit > 0 && n > limit {
		n = limit
	}
	recs := r.copyLocked(skip, n)
	r.mu.Unlock()
	return entries(recs)
}

// Tail returns the newest n entries (all if n <= 0), oldest first.
func (r *Ring) Tail(n int) []Entry {
	r.mu.Lock()
	if n <= 0 || n > r.count {
		n = r.count
	}
	recs := r.copyLocked(r.count-n, n)
	r.mu.Unlock()
	return entries(recs)
}

// Bounds returns the sequence numbers of the oldest and the newest entry
// kept. An empty ring returns last+1, last: last is 0 before anything was
// logged.
func (r *Ring) Bounds() (first, last uint64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.seq - uint64(r.count) + 1, r.seq
}

// copyLocked copies n records starting skip records after the oldest.
func (r *Ring) copyLocked(skip, n int) []record {
	out := make([]record, n)
	for i := range out {
		out[i] = r.buf[(r.head+skip+i)%len(r.buf)]
	}
	return out
}

// add stores rec, evicting the oldest records to stay within the bounds.
func (r *Ring) add(rec record) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.count == len(r.buf) {
		r.evictLocked()
	}
	for r.count > 0 && r.bytes+rec.size > r.maxBytes {
		r.evictLocked()
	}
	r.seq++
	rec.seq = r.seq
	r.buf[(r.head+r.count)%len(r.buf)] = rec
	r.count++
	r.bytes += rec.size
}

func (r *Ring) evictLocked() {
	r.bytes -= r.buf[r.head].size
	r.buf[r.head] = record{} // let the strings go
	r.head = (r.head + 1) % len(r.buf)
	r.count--
}

// entries turns records into Entries. It runs outside the lock: records
// share only immutable data with the ring.
func entries(recs []record) []Entry {
	if len(recs) == 0 {
		return nil
	}
	out := make([]Entry, len(recs))
	for i, rec := range recs {
		e := Entry{Seq: rec.seq, Time: rec.time, Level: rec.level.String(), Message: rec.msg}
		if len(rec.fields) > 0 {
			e.Attrs = make(map[string]any, len(rec.fields))
			for _, f := range rec.fields {
				e.Attrs[f.key] = f.value() // a later attribute wins, as in slog's JSON
			}
		}
		out[i] = e
	}
	return out
}
