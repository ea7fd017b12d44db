package config

import (
	"errors"
	"fmt"
	"strings"
)

// ErrInvalid is wrapped by every decoding or validation failure, so callers
// can tell a bad config from an I/O problem with errors.Is.
var ErrInvalid = errors.New("invalid config")

// FieldError is one problem at one place in the document. Path uses the JSON
// names, e.g. "bgp.peers[0].neighbor"; an empty path means the document.
type FieldError struct {
	Path string
	Msg  string
}

func (e *FieldError) Error() string {
	if e.Path == "" {
		return e.Msg
	}
	return e.Path + ": " + e.Msg
}

// Errors is every problem found in one document, in document order.
type Errors []*FieldError

func (es Errors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// Is makes errors.Is(err, ErrInvalid) hold for any Errors.
func (es Errors) Is(target error) bool { return target == ErrInvalid }

// problems collects FieldErrors while walking a document.
type problems struct{ list Errors }

func (p *problems) add(path, format string, args ...any) {
	p.list = append(p.list, &FieldError{Path: path, Msg: fmt.Sprintf(format, args...)})
}

func (p *problems) err() error {
	if len(p.list) == 0 {
		return nil
	}
	return p.list
}

func field(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

func index(path string, i int) string { return fmt.Sprintf("%s[%d]", path, i) }
