// Package configstore is the node's side of config acceptance: it verifies a
// signed config, refuses anything not newer than what it already accepted,
// and keeps the last accepted config on disk so the node can fail static.
//
// The state directory holds two files, both replaced atomically:
//
//	config.json    the last accepted document, exactly as received
//	config.serial  the highest serial ever accepted (the replay floor)
//
// The config is written before the serial. After a power cut between the
// two, Open takes the higher of the stored serial and the stored config's
// serial, so the floor never goes backwards and the stored config is never
// refused as a replay of itself.
package configstore

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"github.com/goleudy/goleudy/provision/config"
	"github.com/goleudy/goleudy/provision/envelope"
	"github.com/goleudy/goleudy/services/statedir"
)

// File names inside the state directory.
const (
	ConfigFile = "config.json"
	SerialFile = "config.serial"
)

// ErrStaleSerial is wrapped when a config's serial is not greater than the
// last accepted one: a replay, or a server that went backwards.
var ErrStaleSerial = errors.New("config serial is not newer")

// ErrUnsigned is wrapped when a store that requires signatures is handed a
// bare document, or an unsigned store is handed an envelope.
var ErrUnsigned = errors.New("wrong kind of config document")

// Store holds the accepted config. It is safe for concurrent use.
type Store struct {
	dir   string
	trust *envelope.TrustSet // nil: unsigned lab mode
	log   *slog.Logger

	mu      sync.Mutex
	serial  uint64         // replay floor
	current *config.Config // last accepted, nil if none
	payload []byte         // current's JSON payload
}

// Open loads the state in dir, creating dir if needed. With a nil trust set
// the store accepts bare JSON configs (labs and tests, --unsigned); otherwise
// only envelopes signed by a trusted key. A stored config that no longer
// verifies or parses is logged and ignored, but its serial floor stays.
func Open(dir string, trust *envelope.TrustSet, log *slog.Logger) (*Store, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("configstore: %w", err)
	}
	s := &Store{dir: dir, trust: trust, log: log}
	data, err := os.ReadFile(filepath.Join(dir, SerialFile))
	switch {
	case err == nil:
		n, perr := strconv.ParseUint(strings.TrimSpace(string(data)), 10, 64)
		if perr != nil {
			return nil, fmt.Errorf("configstore: %s: %q is not a serial; refusing to guess the replay floor", filepath.Join(dir, SerialFile), data)
		}
		s.serial = n
	case !errors.Is(err, os.ErrNotExist):
		return nil, fmt.Errorf("configstore: %w", err)
	}
	raw, err := os.ReadFile(filepath.Join(dir, ConfigFile))
	switch {
	case err == nil:
		c, payload, verr := s.check(raw)
		if verr != nil {
			log.Error("stored config is unusable; waiting for a new one", "file", filepath.Join(dir, ConfigFile), "err", verr)
			break
		}
		s.current, s.payload = c, payload
		s.serial = max(s.serial, c.Serial)
	case !errors.Is(err, os.ErrNotExist):
		return nil, fmt.Errorf("configstore: %w", err)
	}
	return s, nil
}

// Current returns the last accepted config, or nil if there is none. The
// caller must not modify it.
func (s *Store) Current() *config.Config {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.current
}

// Serial returns the replay floor: the highest serial accepted so far.
func (s *Store) Serial() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.serial
}

// Accept verifies, decodes and validates data, checks its serial against the
// floor, and on success persists it and makes it current. The bool reports
// whether the config is new; handing the current config in again is not an
// error, so a node restarted with the same file keeps running. On any error
// nothing changes, in memory or on disk.
func (s *Store) Accept(data []byte) (*config.Config, bool, error) {
	c, payload, err := s.check(data)
	if err != nil {
		return nil, false, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if c.Serial <= s.serial {
		if s.current != nil && c.Serial == s.current.Serial && bytes.Equal(payload, s.payload) {
			return s.current, false, nil
		}
		return nil, false, fmt.Errorf("configstore: %w: serial %d, but serial %d was already accepted", ErrStaleSerial, c.Serial, s.serial)
	}
	if err := statedir.WriteFile(filepath.Join(s.dir, ConfigFile), data, 0o600); err != nil {
		return nil, false, fmt.Errorf("configstore: keep config: %w", err)
	}
	if err := statedir.WriteFile(filepath.Join(s.dir, SerialFile), []byte(strconv.FormatUint(c.Serial, 10)+"\n"), 0o600); err != nil {
		return nil, false, fmt.Errorf("configstore: keep serial: %w", err)
	}
	s.current, s.payload, s.serial = c, payload, c.Serial
	return c, true, nil
}

// check verifies and parses data without touching the store's state.
func (s *Store) check(data []byte) (*config.Config, []byte, error) {
	payload := data
	if s.trust != nil {
		if !envelope.IsEnvelope(data) {
			return nil, nil, fmt.Errorf("configstore: %w: a bare config, but this node requires a signed envelope", ErrUnsigned)
		}
		p, _, err := s.trust.Verify(data, config.PayloadType)
		if err != nil {
			return nil, nil, fmt.Errorf("configstore: %w", err)
		}
		payload = p
	} else if envelope.IsEnvelope(data) {
		return nil, nil, fmt.Errorf("configstore: %w: a signed envelope, but no trusted keys were given to check it", ErrUnsigned)
	}
	c, err := config.Parse(payload)
	if err != nil {
		return nil, nil, fmt.Errorf("configstore: %w", err)
	}
	return c, payload, nil
}
