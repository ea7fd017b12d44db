package logring

import (
	"context"
	"log/slog"
	"slices"
	"time"
)

// handler is the slog.Handler a Ring hands out. Attributes from WithAttrs
// are flattened once, when the logger is made, so logging a record costs
// only its own attributes.
type handler struct {
	ring   *Ring
	next   slog.Handler // with the same attributes and groups applied
	prefix string       // open groups, each followed by a dot
	fields []field      // from WithAttrs, already flattened
}

func (h *handler) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= h.ring.level.Level() || (h.next != nil && h.next.Enabled(ctx, l))
}

func (h *handler) Handle(ctx context.Context, r slog.Record) error {
	if r.Level >= h.ring.level.Level() {
		h.ring.add(h.record(r))
	}
	if h.next == nil || !h.next.Enabled(ctx, r.Level) {
		return nil
	}
	return h.next.Handle(ctx, r)
}

// record snapshots r with the handler's attributes.
func (h *handler) record(r slog.Record) record {
	msg := truncate(r.Message)
	rec := record{time: r.Time, level: r.Level, msg: msg, size: entryOverhead + len(msg)}
	if y := rec.time.Year(); y < 0 || y > 9999 {
		rec.time = time.Time{} // JSON cannot carry it, and it cannot be true
	}
	if n := len(h.fields) + r.NumAttrs(); n > 0 {
		fs := make([]field, 0, n)
		fs = append(fs, h.fields...)
		r.Attrs(func(a slog.Attr) bool {
			fs = appendAttr(fs, h.prefix, a)
			return true
		})
		rec.fields = fs
		for _, f := range fs {
			rec.size += f.size()
		}
	}
	return rec
}

func (h *handler) WithAttrs(attrs []slog.Attr) slog.Handler {
	if len(attrs) == 0 {
		return h
	}
	c := *h
	c.fields = slices.Clip(h.fields)
	for _, a := range attrs {
		c.fields = appendAttr(c.fields, h.prefix, a)
	}
	if h.next != nil {
		c.next = h.next.WithAttrs(attrs)
	}
	return &c
}

func (h *handler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	c := *h
	c.prefix = h.prefix + name + "."
	if h.next != nil {
		c.next = h.next.WithGroup(name)
	}
	return &c
}

// appendAttr flattens a onto fs under prefix. As slog's own handlers do,
// it resolves LogValuers, drops empty groups and inlines groups with an
// empty key; unlike them it also drops other attributes with an empty
// key, which a flat map could not tell apart.
func appendAttr(fs []field, prefix string, a slog.Attr) []field {
	a.Value = a.Value.Resolve()
	if a.Value.Kind() == slog.KindGroup {
		p := prefix
		if a.Key != "" {
			p = prefix + a.Key + "."
		}
		for _, g := range a.Value.Group() {
			fs = appendAttr(fs, p, g)
		}
		return fs
	}
	if a.Key == "" {
		return fs
	}
	return append(fs, snapshot(prefix+a.Key, a.Value))
}
