package fleet

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Sentinel errors, wrapped with the operation; test with errors.Is.
var (
	ErrNotFound       = errors.New("not found")
	ErrExists         = errors.New("already exists")
	ErrTokenUnknown   = errors.New("enrollment token unknown")
	ErrTokenUsed      = errors.New("enrollment token already used")
	ErrTokenExpired   = errors.New("enrollment token expired")
	ErrTokenOtherNode = errors.New("enrollment token belongs to another node")
	ErrNoPrefix       = errors.New("no tunnel prefix configured")
	ErrPrefixFull     = errors.New("tunnel prefix has no free address")
	ErrPrefixInUse    = errors.New("tunnel prefix has peers allocated")
	ErrKeyInUse       = errors.New("public key belongs to another node")
	ErrNotEmpty       = errors.New("store is not empty")
	ErrNoActor        = errors.New("no actor given for the audit log")
	ErrRolloutRunning = errors.New("a rollout is running")
	ErrNoRollout      = errors.New("no rollout is running")
)

// Bucket names. meta holds the serial counter and the tunnel prefix.
var (
	bucketMeta     = []byte("meta")
	bucketNodes    = []byte("nodes")
	bucketDefaults = []byte("defaults")
	bucketZones    = []byte("zones")
	bucketTokens   = []byte("tokens")
	bucketPeers    = []byte("peers")
	bucketReleases = []byte("releases")
	bucketAudit    = []byte("audit")

	allBuckets = [][]byte{bucketMeta, bucketNodes, bucketDefaults, bucketZones,
		bucketTokens, bucketPeers, bucketReleases, bucketAudit}

	keySerial  = []byte("serial")
	keyPrefix  = []byte("tunnel_prefix")
	keyConfig  = []byte("config")
	keyRollout = []byte("rollout")
)

// DefaultLockTimeout bounds the wait for the file lock, so a second server
// started on the same data dir fails with a clear error instead of hanging.
const DefaultLockTimeout = 2 * time.Second

// Store is an open fleet store. It is safe for concurrent use: bbolt runs
// one writer at a time and readers on consistent snapshots.
type Store struct {
	db        *bolt.DB
	now       func() time.Time
	lockWait  time.Duration
	closeOnce sync.Once
	closeErr  error
}

// Option changes how Open sets up a Store.
type Option func(*Store)

// WithClock sets the clock used for audit entries; tests pass a fake one.
func WithClock(now func() time.Time) Option { return func(s *Store) { s.now = now } }

// WithLockTimeout sets how long Open waits for another process to release
// the store file (default DefaultLockTimeout).
func WithLockTimeout(d time.Duration) Option { return func(s *Store) { s.lockWait = d } }

// Open opens the store file at path, creating it (mode 0600) if needed.
func Open(path string, opts ...Option) (*Store, error) {
	s := &Store{now: time.Now, lockWait: DefaultLockTimeout}
	for _, o := range opts {
		o(s)
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: s.lockWait})
	if err != nil {
		return nil, fmt.Errorf("fleet: open %s: %w", path, err)
	}
	s.db = db
	err = db.Update(func(tx *bolt.Tx) error {
		for _, b := range allBuckets {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("fleet: open %s: %w", path, err)
	}
	return s, nil
}

// Close closes the store; later calls return the first result.
func (s *Store) Close() error {
	s.closeOnce.Do(func() { s.closeErr = s.db.Close() })
	return s.closeErr
}

// Serial is the current fleet-wide config serial; 0 before the first change.
func (s *Store) Serial() (uint64, error) {
	var n uint64
	err := s.db.View(func(tx *bolt.Tx) error {
		n = serial(tx)
		return nil
	})
	return n, err
}

func serial(tx *bolt.Tx) uint64 {
	v := tx.Bucket(bucketMeta).Get(keySerial)
	if len(v) != 8 {
		return 0
	}
	return binary.BigEndian.Uint64(v)
}

func setSerial(tx *bolt.Tx, n uint64) error {
	return tx.Bucket(bucketMeta).Put(keySerial, binary.BigEndian.AppendUint64(nil, n))
}

// change is what one mutation records in the audit log.
type change struct {
	actor, action, subject, detail string
}

// update runs fn in one write transaction, then bumps the serial and appends
// the audit entry in that same transaction, so either all of it is stored or
// none. fn may fill in c.detail.
func (s *Store) update(c *change, fn func(tx *bolt.Tx) error) error {
	if c.actor == "" {
		return fmt.Errorf("fleet: %s %s: %w", c.action, c.subject, ErrNoActor)
	}
	return s.write(c.action+" "+c.subject, func(tx *bolt.Tx) (*change, error) {
		if err := fn(tx); err != nil {
			return nil, err
		}
		return c, nil
	})
}

// write runs fn in one write transaction. When fn returns a change, the
// serial is bumped and the change's audit entry appended in that same
// transaction, as update does. When it returns nil, fn's writes are stored
// without either: bookkeeping that no node's config depends on, such as a
// node's progress through a download, must not make every node refetch.
func (s *Store) write(op string, fn func(tx *bolt.Tx) (*change, error)) error {
	err := s.db.Update(func(tx *bolt.Tx) error {
		c, err := fn(tx)
		if err != nil || c == nil {
			return err
		}
		if c.actor == "" {
			return ErrNoActor
		}
		if err := setSerial(tx, serial(tx)+1); err != nil {
			return err
		}
		return appendAudit(tx, Entry{
			Time: s.now().UTC(), Actor: c.actor, Action: c.action,
			Subject: c.subject, Detail: c.detail,
		})
	})
	if err != nil {
		return fmt.Errorf("fleet: %s: %w", op, err)
	}
	return nil
}

func put(b *bolt.Bucket, key string, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return b.Put([]byte(key), data)
}

func get(b *bolt.Bucket, key string, v any) (bool, error) {
	data := b.Get([]byte(key))
	if data == nil {
		return false, nil
	}
	return true, json.Unmarshal(data, v)
}

// list decodes every value of b, in key order.
func list[T any](b *bolt.Bucket) ([]T, error) {
	var out []T
	err := b.ForEach(func(k, v []byte) error {
		var x T
		if err := decode(k, v, &x); err != nil {
			return err
		}
		out = append(out, x)
		return nil
	})
	return out, err
}

func decode(k, v []byte, x any) error {
	if err := json.Unmarshal(v, x); err != nil {
		return fmt.Errorf("decode %q: %w", k, err)
	}
	return nil
}
