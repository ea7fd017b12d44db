package timesync

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sync"
	"time"

	"github.com/goleudy/goleudy/services/statedir"
)

// FloorFile is the floor's file name in the state directory.
const FloorFile = "clock.floor"

// Bounds a floor must lie in. Anything else is a damaged file (or a clock
// that was badly wrong when it was written), and is not believed.
var (
	minFloor = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
	maxFloor = time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC)
)

// Floor is a time this node has known to be true, kept in a state file so
// that it survives power cuts. The true time can only be later. It only
// ever rises. It is safe for concurrent use.
//
// The file holds one RFC 3339 UTC time to the second and a newline, e.g.
// "2025-06-01T12:00:00Z\n", and is replaced atomically.
type Floor struct {
	file string

	mu sync.Mutex
	t  time.Time
}

// LoadFloor reads the floor in file. A missing file is a zero floor. A
// damaged one is an error naming the file, returned with a usable zero
// Floor that the next Raise rewrites. An empty file name keeps the floor
// in memory only.
func LoadFloor(file string) (*Floor, error) {
	f := &Floor{file: file}
	if file == "" {
		return f, nil
	}
	data, err := os.ReadFile(file)
	if errors.Is(err, fs.ErrNotExist) {
		return f, nil
	}
	if err != nil {
		return f, fmt.Errorf("timesync: floor: %w", err)
	}
	t, err := ParseFloor(data)
	if err != nil {
		return f, fmt.Errorf("timesync: floor %s: %w", file, err)
	}
	f.t = t
	return f, nil
}

// ParseFloor decodes a floor file's content.
func ParseFloor(data []byte) (time.Time, error) {
	s := bytes.TrimSuffix(data, []byte("\n"))
	if len(s) != len(time.DateOnly+"T"+time.TimeOnly+"Z") || s[len(s)-1] != 'Z' {
		return time.Time{}, fmt.Errorf("%q is not an RFC 3339 UTC time like 2025-06-01T12:00:00Z", truncate(data))
	}
	t, err := time.Parse(time.RFC3339, string(s))
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is not an RFC 3339 UTC time like 2025-06-01T12:00:00Z", truncate(data))
	}
	if t.Before(minFloor) || !t.Before(maxFloor) {
		return time.Time{}, fmt.Errorf("%s is outside %d..%d", s, minFloor.Year(), maxFloor.Year()-1)
	}
	return t, nil
}

func truncate(b []byte) []byte {
	if len(b) > 40 {
		return b[:40]
	}
	return b
}

// File returns the floor's file, or "" if it is kept in memory only.
func (f *Floor) File() string { return f.file }

// Time returns the floor; zero if there is none.
func (f *Floor) Time() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.t
}

// Raise moves the floor up to t (truncated to the second, so the floor
// never passes the time it came from) and writes it, if that is later
// than the floor. It reports whether the floor moved. A write error is
// returned, but the floor moves in memory anyway.
func (f *Floor) Raise(t time.Time) (bool, error) {
	t = t.UTC().Truncate(time.Second)
	if t.Before(minFloor) || !t.Before(maxFloor) {
		return false, fmt.Errorf("timesync: floor: %s is outside %d..%d", t.Format(time.RFC3339), minFloor.Year(), maxFloor.Year()-1)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if !t.After(f.t) {
		return false, nil
	}
	f.t = t
	if f.file == "" {
		return true, nil
	}
	if err := statedir.WriteFile(f.file, []byte(t.Format(time.RFC3339)+"\n"), 0o644); err != nil {
		return true, fmt.Errorf("timesync: floor: %w", err)
	}
	return true, nil
}
