// Package ubootenv reads and writes U-Boot's saved environment: the
// uboot.env file U-Boot keeps on the Pi's boot partition
// (CONFIG_ENV_IS_IN_FAT), where the A/B boot script keeps its state and
// the node commits its slot.
//
// The format is U-Boot's non-redundant environment (env/common.c,
// include/env.h): Size bytes in all, a little-endian CRC-32 (IEEE) of the
// rest, then "name=value" strings each ended by a NUL, an empty string
// after the last, and zero padding. Debian's rpi builds use a 16 KiB
// environment ([DefaultSize]). U-Boot refuses a block whose CRC does not
// match and falls back to its built-in environment, so a block this
// package writes must be whole: [Env.Encode] always writes Size bytes.
//
// Nothing is lost on a rewrite: every variable U-Boot saved (its own
// bootcmd, addresses, the board's fdtfile) comes back out in the same
// order, and only the variables the caller sets change.
package ubootenv

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"strings"
)

// DefaultSize is CONFIG_ENV_SIZE of Debian's u-boot-rpi builds.
const DefaultSize = 0x4000

// Errors, wrapped with what was wrong.
var (
	ErrSize   = errors.New("ubootenv: bad size")
	ErrCRC    = errors.New("ubootenv: CRC mismatch")
	ErrSyntax = errors.New("ubootenv: bad entry")
	ErrFull   = errors.New("ubootenv: environment full")
)

// Env is an environment: variables in the order they were read or set.
type Env struct {
	Size   int // bytes Encode writes, CRC included
	names  []string
	values map[string]string
}

// New returns an empty environment of size bytes.
func New(size int) Env { return Env{Size: size, values: map[string]string{}} }

// Get returns a variable's value and whether it is set.
func (e *Env) Get(name string) (string, bool) {
	v, ok := e.values[name]
	return v, ok
}

// Set sets a variable, appending it if new.
func (e *Env) Set(name, value string) error {
	if err := checkName(name); err != nil {
		return err
	}
	if strings.IndexByte(value, 0) >= 0 {
		return fmt.Errorf("%w: %s: value holds a NUL byte", ErrSyntax, name)
	}
	if e.values == nil {
		e.values = map[string]string{}
	}
	if _, ok := e.values[name]; !ok {
		e.names = append(e.names, name)
	}
	e.values[name] = value
	return nil
}

// Delete removes a variable.
func (e *Env) Delete(name string) {
	if _, ok := e.values[name]; !ok {
		return
	}
	delete(e.values, name)
	for i, n := range e.names {
		if n == name {
			e.names = append(e.names[:i:i], e.names[i+1:]...)
			break
		}
	}
}

// Names lists the variables in order.
func (e *Env) Names() []string { return append([]string(nil), e.names...) }

func checkName(name string) error {
	if name == "" || strings.ContainsAny(name, "=\x00") {
		return fmt.Errorf("%w: variable name %q: want no '=' or NUL and not empty", ErrSyntax, name)
	}
	return nil
}

// Encode returns the whole block: CRC, entries, terminator, padding.
func (e *Env) Encode() ([]byte, error) {
	if e.Size < 8 {
		return nil, fmt.Errorf("%w: %d bytes", ErrSize, e.Size)
	}
	out := make([]byte, 4, e.Size)
	for _, n := range e.names {
		out = append(out, n...)
		out = append(out, '=')
		out = append(out, e.values[n]...)
		out = append(out, 0)
	}
	out = append(out, 0)
	if len(out) > e.Size {
		return nil, fmt.Errorf("%w: %d bytes of variables, room for %d", ErrFull, len(out)-4, e.Size-4)
	}
	out = out[:e.Size]
	binary.LittleEndian.PutUint32(out, crc32.ChecksumIEEE(out[4:]))
	return out, nil
}

// Parse reads a block. Its length is the environment's size; the CRC
// must match, and every entry must be name=value.
func Parse(block []byte) (Env, error) {
	if len(block) < 8 {
		return Env{}, fmt.Errorf("%w: %d bytes, too short for an environment", ErrSize, len(block))
	}
	want, got := binary.LittleEndian.Uint32(block), crc32.ChecksumIEEE(block[4:])
	if want != got {
		return Env{}, fmt.Errorf("%w: stored %08x, computed %08x over %d bytes", ErrCRC, want, got, len(block))
	}
	e := New(len(block))
	data := block[4:]
	for off := 0; ; {
		end := bytes.IndexByte(data[off:], 0)
		if end < 0 {
			return Env{}, fmt.Errorf("%w: at byte %d: no NUL before the end of the block", ErrSyntax, off+4)
		}
		entry := string(data[off : off+end])
		if entry == "" {
			return e, nil
		}
		name, value, ok := strings.Cut(entry, "=")
		if !ok {
			return Env{}, fmt.Errorf("%w: at byte %d: %q has no '='", ErrSyntax, off+4, trim(entry))
		}
		if _, dup := e.values[name]; dup {
			return Env{}, fmt.Errorf("%w: at byte %d: %s set twice", ErrSyntax, off+4, trim(name))
		}
		if err := e.Set(name, value); err != nil {
			return Env{}, fmt.Errorf("at byte %d: %w", off+4, err)
		}
		off += end + 1
	}
}

func trim(s string) string {
	if len(s) > 40 {
		return s[:40] + "..."
	}
	return s
}
