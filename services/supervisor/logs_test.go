package supervisor_test

import (
	"context"
	"log/slog"
	"slices"
	"sync"
)

// logRecorder is a slog.Handler that keeps records for assertions.
type logRecorder struct {
	mu      *sync.Mutex
	entries *[]logEntry
	attrs   []slog.Attr // from WithAttrs
}

type logEntry struct {
	Level slog.Level
	Msg   string
	Attrs map[string]any
}

func newLogRecorder() *logRecorder {
	return &logRecorder{mu: new(sync.Mutex), entries: new([]logEntry)}
}

func (r *logRecorder) Enabled(context.Context, slog.Level) bool { return true }

func (r *logRecorder) Handle(_ context.Context, rec slog.Record) error {
	e := logEntry{Level: rec.Level, Msg: rec.Message, Attrs: make(map[string]any)}
	for _, a := range r.attrs {
		e.Attrs[a.Key] = a.Value.Resolve().Any()
	}
	rec.Attrs(func(a slog.Attr) bool {
		e.Attrs[a.Key] = a.Value.Resolve().Any()
		return true
	})
	r.mu.Lock()
	*r.entries = append(*r.entries, e)
	r.mu.Unlock()
	return nil
}

func (r *logRecorder) WithAttrs(attrs []slog.Attr) slog.Handler {
	c := *r
	c.attrs = append(slices.Clip(r.attrs), attrs...)
	return &c
}

// WithGroup is not used by the supervisor; groups are flattened.
func (r *logRecorder) WithGroup(string) slog.Handler { return r }

// find returns the entries with message msg.
func (r *logRecorder) find(msg string) []logEntry {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []logEntry
	for _, e := range *r.entries {
		if e.Msg == msg {
			out = append(out, e)
		}
	}
	return out
}
