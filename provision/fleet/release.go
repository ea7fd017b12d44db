package fleet

import (
	"encoding/hex"
	"fmt"

	"github.com/goleudy/goleudy/provision/config"
	bolt "go.etcd.io/bbolt"
)

// Release is the metadata of one firmware build; the bundle itself lives on
// disk at Bundle.
type Release struct {
	Board   string `json:"board"`
	Version string `json:"version"`
	Build   uint64 `json:"build"`
	Bundle  string `json:"bundle"`
	SHA256  string `json:"sha256"`
}

// key orders releases by board, then build number.
func (r Release) key() string { return fmt.Sprintf("%s/%020d", r.Board, r.Build) }

func (r Release) check() error {
	var errs config.Errors
	bad := func(path, msg string) { errs = append(errs, &config.FieldError{Path: path, Msg: msg}) }
	if r.Board == "" {
		bad("board", "missing")
	}
	if r.Version == "" {
		bad("version", "missing")
	}
	if r.Build == 0 {
		bad("build", "missing; must be at least 1")
	}
	if r.Bundle == "" {
		bad("bundle", "missing")
	}
	if b, err := hex.DecodeString(r.SHA256); err != nil || len(b) != 32 {
		bad("sha256", "is not 64 hex digits")
	}
	if len(errs) > 0 {
		return errs
	}
	return nil
}

// AddRelease records a release; a board's build numbers are unique.
func (s *Store) AddRelease(actor string, r Release) error {
	c := &change{actor: actor, action: "release add", subject: r.key(), detail: r.Version}
	return s.update(c, func(tx *bolt.Tx) error {
		if err := r.check(); err != nil {
			return err
		}
		b := tx.Bucket(bucketReleases)
		if b.Get([]byte(r.key())) != nil {
			return fmt.Errorf("release %s build %d: %w", r.Board, r.Build, ErrExists)
		}
		return put(b, r.key(), r)
	})
}

// Releases returns the releases for board (every board if empty), ordered
// by board and build.
func (s *Store) Releases(board string) ([]Release, error) {
	var out []Release
	err := s.db.View(func(tx *bolt.Tx) error {
		all, err := list[Release](tx.Bucket(bucketReleases))
		for _, r := range all {
			if board == "" || r.Board == board {
				out = append(out, r)
			}
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("fleet: releases: %w", err)
	}
	return out, nil
}
