package fleet

import (
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/goleudy/goleudy/provision/config"
	bolt "go.etcd.io/bbolt"
)

// ErrBuildOrder refuses a release whose build number is not above every
// build already published for its board, unless its manifest was signed
// as a downgrade: build numbers are what nodes compare, so they must only
// grow.
var ErrBuildOrder = errors.New("build number does not grow")

// Release is the metadata of one firmware build; the bundle itself lives on
// disk at Bundle. The fields from Version to Downgrade are the bundle's
// signed manifest; Size and SHA256 are the slot image's, which is what a
// node's config names (config.Update).
type Release struct {
	Board      string    `json:"board"`
	Version    string    `json:"version"`
	Build      uint64    `json:"build"`
	Bundle     string    `json:"bundle"`
	SHA256     string    `json:"sha256"`
	Size       int64     `json:"size,omitempty"`        // of the slot image
	Created    time.Time `json:"created,omitzero"`      // as the manifest says
	Downgrade  bool      `json:"downgrade,omitempty"`   // signed for nodes on a higher build
	BundleSize int64     `json:"bundle_size,omitempty"` // of the bundle file: header and image
	Published  time.Time `json:"published,omitzero"`    // when the server stored it
}

// key orders releases by board, then build number.
func (r Release) key() string { return releaseKey(r.Board, r.Build) }

func releaseKey(board string, build uint64) string { return fmt.Sprintf("%s/%020d", board, build) }

func (r Release) check() error {
	var errs config.Errors
	bad := func(path, msg string) { errs = append(errs, &config.FieldError{Path: path, Msg: msg}) }
	if r.Board == "" {
		bad("board", "missing")
	}
	switch {
	case r.Version == "":
		bad("version", "missing")
	case len(r.Version) > 64 || strings.ContainsAny(r.Version, " \t\n/"):
		bad("version", fmt.Sprintf("%q is not a version", r.Version))
	}
	if r.Build == 0 {
		bad("build", "missing; must be at least 1")
	}
	if r.Bundle == "" {
		bad("bundle", "missing")
	}
	if b, err := hex.DecodeString(r.SHA256); err != nil || len(b) != 32 || r.SHA256 != strings.ToLower(r.SHA256) {
		bad("sha256", "is not 64 lower-case hex digits")
	}
	if r.Size <= 0 {
		bad("size", "missing; must be the slot image's size in bytes")
	}
	if len(errs) > 0 {
		return errs
	}
	return nil
}

// AddRelease records a release. A board's build numbers are unique and
// grow (ErrBuildOrder) unless the release is a signed downgrade, and a
// board has one build per version (ErrExists): a rollout names a version.
func (s *Store) AddRelease(actor string, r Release) error {
	c := &change{actor: actor, action: "release add", subject: r.key(), detail: r.Version}
	if !r.Published.IsZero() {
		r.Published = r.Published.UTC()
	}
	if !r.Created.IsZero() {
		r.Created = r.Created.UTC()
	}
	return s.update(c, func(tx *bolt.Tx) error {
		if err := checkNewRelease(tx, r); err != nil {
			return err
		}
		return put(tx.Bucket(bucketReleases), r.key(), r)
	})
}

// CheckRelease says whether AddRelease would take r now, without storing
// it: the server asks before it stores a bundle's image, so that a
// duplicate is refused before the upload rather than after it.
func (s *Store) CheckRelease(r Release) error {
	err := s.db.View(func(tx *bolt.Tx) error { return checkNewRelease(tx, r) })
	if err != nil {
		return fmt.Errorf("fleet: release %s: %w", r.key(), err)
	}
	return nil
}

func checkNewRelease(tx *bolt.Tx, r Release) error {
	if err := r.check(); err != nil {
		return err
	}
	if tx.Bucket(bucketReleases).Get([]byte(r.key())) != nil {
		return fmt.Errorf("%s build %d is published already: %w", r.Board, r.Build, ErrExists)
	}
	others, err := boardReleases(tx, r.Board)
	if err != nil {
		return err
	}
	for _, o := range others {
		if o.Version == r.Version {
			return fmt.Errorf("%s version %s is published already, as build %d: %w", r.Board, r.Version, o.Build, ErrExists)
		}
	}
	if n := len(others); n > 0 && others[n-1].Build > r.Build && !r.Downgrade {
		return fmt.Errorf("%s build %d is below build %d, published already; sign a downgrade bundle to publish it on purpose: %w",
			r.Board, r.Build, others[n-1].Build, ErrBuildOrder)
	}
	return nil
}

// Releases returns the releases for board (every board if empty), ordered
// by board and build.
func (s *Store) Releases(board string) ([]Release, error) {
	var out []Release
	err := s.db.View(func(tx *bolt.Tx) error {
		var err error
		if board == "" {
			out, err = list[Release](tx.Bucket(bucketReleases))
		} else {
			out, err = boardReleases(tx, board)
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("fleet: releases: %w", err)
	}
	return out, nil
}

// Release returns one board's build, or ErrNotFound.
func (s *Store) Release(board string, build uint64) (Release, error) {
	var r Release
	err := s.db.View(func(tx *bolt.Tx) error {
		var err error
		r, err = loadRelease(tx, board, build)
		return err
	})
	if err != nil {
		return Release{}, fmt.Errorf("fleet: release: %w", err)
	}
	return r, nil
}

func loadRelease(tx *bolt.Tx, board string, build uint64) (Release, error) {
	var r Release
	ok, err := get(tx.Bucket(bucketReleases), releaseKey(board, build), &r)
	if err == nil && !ok {
		err = fmt.Errorf("release %s build %d: %w", board, build, ErrNotFound)
	}
	return r, err
}

// boardReleases lists one board's releases in build order, seeking to the
// board's keys rather than reading every board's.
func boardReleases(tx *bolt.Tx, board string) ([]Release, error) {
	var out []Release
	prefix := []byte(board + "/")
	c := tx.Bucket(bucketReleases).Cursor()
	for k, v := c.Seek(prefix); k != nil && strings.HasPrefix(string(k), string(prefix)); k, v = c.Next() {
		var r Release
		if err := decode(k, v, &r); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}

// releaseOf finds board's build of version.
func releaseOf(tx *bolt.Tx, board, version string) (Release, bool, error) {
	rs, err := boardReleases(tx, board)
	if err != nil {
		return Release{}, false, err
	}
	for _, r := range rs {
		if r.Version == version {
			return r, true, nil
		}
	}
	return Release{}, false, nil
}
