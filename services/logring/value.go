package logring

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"math"
	"strconv"
	"time"
	"unicode/utf8"
)

// field is one flattened attribute, stored without boxing: a string
// in s, a number or bool in n, so logging a record costs no allocation
// per attribute beyond its key.
type field struct {
	key  string
	s    string // kindString, kindRaw (JSON text), kindFloatText (NaN, ±Inf)
	n    uint64 // kindInt (two's complement), kindUint, kindFloat (bits), kindBool
	kind fieldKind
}

type fieldKind uint8

const (
	kindNull fieldKind = iota
	kindString
	kindInt
	kindUint
	kindFloat
	kindBool
	kindRaw
)

// size estimates the bytes the field holds.
func (f field) size() int { return len(f.key) + len(f.s) + 48 }

// value returns the field's value for an Entry: a string, int64, uint64,
// float64, bool, json.RawMessage (a fresh copy) or nil.
func (f field) value() any {
	switch f.kind {
	case kindString:
		return f.s
	case kindInt:
		return int64(f.n)
	case kindUint:
		return f.n
	case kindFloat:
		return math.Float64frombits(f.n)
	case kindBool:
		return f.n != 0
	case kindRaw:
		return json.RawMessage(f.s)
	}
	return nil
}

// snapshot turns v (resolved, not a group) into a field value that stays
// the same whatever happens later to what v points at, and that JSON can
// encode: NaN and infinities, which JSON cannot, become strings, as do
// times (JSON time cannot carry years past 9999) and durations.
func snapshot(key string, v slog.Value) field {
	f := field{key: key}
	switch v.Kind() {
	case slog.KindString:
		f.kind, f.s = kindString, truncate(v.String())
	case slog.KindInt64:
		f.kind, f.n = kindInt, uint64(v.Int64())
	case slog.KindUint64:
		f.kind, f.n = kindUint, v.Uint64()
	case slog.KindFloat64:
		x := v.Float64()
		if math.IsNaN(x) || math.IsInf(x, 0) {
			f.kind, f.s = kindString, strconv.FormatFloat(x, 'g', -1, 64)
		} else {
			f.kind, f.n = kindFloat, math.Float64bits(x)
		}
	case slog.KindBool:
		f.kind = kindBool
		if v.Bool() {
			f.n = 1
		}
	case slog.KindDuration:
		f.kind, f.s = kindString, v.Duration().String()
	case slog.KindTime:
		f.kind, f.s = kindString, v.Time().Format(time.RFC3339Nano)
	default:
		f.kind, f.s = snapshotAny(v.Any())
	}
	return f
}

// snapshotAny renders an arbitrary value. Errors and Stringers give their
// text; anything else its JSON, or its %+v if it has none. A method that
// panics (a nil pointer's String, say) gives a string saying so, as slog's
// handlers do, rather than taking the node down.
func snapshotAny(x any) (kind fieldKind, s string) {
	defer func() {
		if p := recover(); p != nil {
			kind, s = kindString, fmt.Sprintf("!PANIC: %v", p)
		}
	}()
	switch x := x.(type) {
	case nil:
		return kindNull, ""
	case error:
		return kindString, truncate(x.Error())
	case fmt.Stringer:
		return kindString, truncate(x.String())
	case []byte:
		return kindString, truncate(string(x))
	}
	b, err := json.Marshal(x)
	if err != nil || len(b) > MaxValueLen {
		return kindString, truncate(fmt.Sprintf("%+v", x))
	}
	return kindRaw, string(b)
}

// truncate cuts s to at most MaxValueLen bytes, at a rune boundary, marking
// the cut with "…".
func truncate(s string) string {
	if len(s) <= MaxValueLen {
		return s
	}
	cut := MaxValueLen - len("…")
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}
