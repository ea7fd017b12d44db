package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"strconv"
	"strings"
)

// MaxSize bounds a config document. Ten thousand zones fit in a few MiB; the
// bound stops a hostile or broken server from exhausting a Pi's memory.
const MaxSize = 64 << 20

// Load reads, decodes, defaults and validates the config in file.
func Load(file string) (*Config, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return Parse(data)
}

// Parse decodes data strictly, fills in defaults and validates the result.
// Every problem found is reported in one Errors value.
func Parse(data []byte) (*Config, error) {
	c, err := Decode(data)
	if err != nil {
		return nil, err
	}
	c.SetDefaults()
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return c, nil
}

// Decode parses data without defaults or validation. Unlike encoding/json it
// refuses unknown fields, fields given twice, fields whose case differs from
// the contract, wrong JSON types, numbers out of range and trailing data, and
// it reports all of them with their paths rather than stopping at the first.
func Decode(data []byte) (*Config, error) {
	if len(data) > MaxSize {
		return nil, Errors{{Msg: fmt.Sprintf("document is %d bytes; the limit is %d", len(data), MaxSize)}}
	}
	var p problems
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	w := walker{dec: dec, p: &p}
	if err := w.value(reflect.TypeFor[Config](), ""); err != nil {
		return nil, Errors{{Msg: syntaxMessage(data, err)}}
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, Errors{{Msg: fmt.Sprintf("unexpected data after the config object at %s", position(data, dec.InputOffset()))}}
	}
	if err := p.err(); err != nil {
		return nil, err
	}
	// The walk proved the document matches the types, so this cannot fail
	// except through a bug in the walk; keep encoding/json's own strictness
	// as a second line.
	var c Config
	strict := json.NewDecoder(bytes.NewReader(data))
	strict.DisallowUnknownFields()
	if err := strict.Decode(&c); err != nil {
		return nil, Errors{{Msg: err.Error()}}
	}
	dropEmpty(reflect.ValueOf(&c).Elem())
	return &c, nil
}

// dropEmpty turns empty lists into absent ones, so that "allowed_ips": []
// and no allowed_ips mean the same and encode the same.
func dropEmpty(v reflect.Value) {
	switch v.Kind() {
	case reflect.Struct:
		for i := range v.NumField() {
			dropEmpty(v.Field(i))
		}
	case reflect.Slice:
		if v.Len() == 0 {
			v.SetZero()
			return
		}
		for i := range v.Len() {
			dropEmpty(v.Index(i))
		}
	}
}

// walker checks a JSON token stream against a Go type, recording problems
// with their paths. It returns an error only when the JSON itself is broken.
type walker struct {
	dec *json.Decoder
	p   *problems
}

func (w *walker) value(t reflect.Type, path string) error {
	tok, err := w.dec.Token()
	if err != nil {
		return err
	}
	if tok == nil { // null leaves the zero value, as if absent
		return nil
	}
	switch t.Kind() {
	case reflect.Struct:
		if tok != json.Delim('{') {
			w.p.add(path, "must be an object, not %s", describe(tok))
			return w.skip(tok)
		}
		return w.object(t, path)
	case reflect.Slice:
		if tok != json.Delim('[') {
			w.p.add(path, "must be an array, not %s", describe(tok))
			return w.skip(tok)
		}
		for i := 0; w.dec.More(); i++ {
			if err := w.value(t.Elem(), index(path, i)); err != nil {
				return err
			}
		}
		_, err := w.dec.Token() // ']'
		return err
	case reflect.String:
		if _, ok := tok.(string); !ok {
			w.p.add(path, "must be a string, not %s", describe(tok))
			return w.skip(tok)
		}
	case reflect.Bool:
		if _, ok := tok.(bool); !ok {
			w.p.add(path, "must be true or false, not %s", describe(tok))
			return w.skip(tok)
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64,
		reflect.Float32, reflect.Float64:
		n, ok := tok.(json.Number)
		if !ok {
			w.p.add(path, "must be a number, not %s", describe(tok))
			return w.skip(tok)
		}
		w.number(t, path, n)
	default:
		panic("config: no decoding rule for " + t.String())
	}
	return nil
}

func (w *walker) object(t reflect.Type, path string) error {
	fields := jsonFields(t)
	seen := make(map[string]bool)
	for w.dec.More() {
		kt, err := w.dec.Token()
		if err != nil {
			return err
		}
		key := kt.(string)
		at := field(path, key)
		if seen[key] {
			w.p.add(at, "given more than once")
		}
		seen[key] = true
		ft, ok := fields[key]
		if !ok {
			w.p.add(at, "unknown field%s", suggestion(key, fields))
			if err := w.skipValue(); err != nil {
				return err
			}
			continue
		}
		if err := w.value(ft, at); err != nil {
			return err
		}
	}
	_, err := w.dec.Token() // '}'
	return err
}

func (w *walker) number(t reflect.Type, path string, n json.Number) {
	s := n.String()
	switch t.Kind() {
	case reflect.Float32, reflect.Float64:
		if _, err := strconv.ParseFloat(s, t.Bits()); err != nil {
			w.p.add(path, "%s is out of range", s)
		}
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		if _, err := strconv.ParseUint(s, 10, t.Bits()); err != nil {
			switch {
			case strings.HasPrefix(s, "-"):
				w.p.add(path, "%s must not be negative", s)
			case errors.Is(err, strconv.ErrRange):
				w.p.add(path, "%s is out of range (at most %d)", s, uint64(1)<<t.Bits()-1)
			default:
				w.p.add(path, "%s must be a whole number", s)
			}
		}
	default:
		if _, err := strconv.ParseInt(s, 10, t.Bits()); err != nil {
			if errors.Is(err, strconv.ErrRange) {
				w.p.add(path, "%s is out of range", s)
			} else {
				w.p.add(path, "%s must be a whole number", s)
			}
		}
	}
}

func (w *walker) skipValue() error {
	tok, err := w.dec.Token()
	if err != nil {
		return err
	}
	return w.skip(tok)
}

// skip consumes the rest of a value whose first token was tok.
func (w *walker) skip(tok json.Token) error {
	depth := 0
	for {
		switch tok {
		case json.Delim('{'), json.Delim('['):
			depth++
		case json.Delim('}'), json.Delim(']'):
			depth--
		}
		if depth == 0 {
			return nil
		}
		var err error
		if tok, err = w.dec.Token(); err != nil {
			return err
		}
	}
}

// jsonFields maps a struct's JSON names to their types.
func jsonFields(t reflect.Type) map[string]reflect.Type {
	m := make(map[string]reflect.Type, t.NumField())
	for f := range t.Fields() {
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "" || name == "-" {
			continue
		}
		m[name] = f.Type
	}
	return m
}

func describe(tok json.Token) string {
	switch v := tok.(type) {
	case json.Delim:
		if v == '{' {
			return "an object"
		}
		return "an array"
	case string:
		return fmt.Sprintf("the string %q", v)
	case json.Number:
		return "the number " + v.String()
	case bool:
		return strconv.FormatBool(v)
	}
	return "null"
}

// suggestion names the known field closest to a misspelt one.
func suggestion(key string, fields map[string]reflect.Type) string {
	best, bestDist := "", 3
	for name := range fields {
		d := editDistance(strings.ToLower(key), name)
		if d < bestDist || (d == bestDist && best != "" && name < best) {
			best, bestDist = name, d
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

func syntaxMessage(data []byte, err error) string {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Sprintf("not valid JSON at %s: %v", position(data, se.Offset), se)
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return "not valid JSON: the document ends early"
	}
	return "not valid JSON: " + err.Error()
}

// position turns a byte offset into "line L, column C" for humans.
func position(data []byte, off int64) string {
	off = min(max(off, 0), int64(len(data)))
	before := data[:off]
	line := bytes.Count(before, []byte("\n")) + 1
	col := int(off) - bytes.LastIndexByte(before, '\n')
	return fmt.Sprintf("line %d, column %d", line, col)
}
