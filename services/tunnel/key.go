package tunnel

import (
	"crypto/ecdh"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/goleudy/goleudy/services/statedir"
)

// ErrBadKey is wrapped by every error about a key's text: not base64,
// not 32 bytes.
var ErrBadKey = errors.New("bad WireGuard key")

// Key is a Curve25519 WireGuard key, private or public. Its text form is
// standard base64, as wg(8) prints it.
type Key [32]byte

// GenerateKey returns a new private key, clamped as RFC 7748 and wg genkey
// do.
func GenerateKey() (Key, error) {
	var k Key
	if _, err := rand.Read(k[:]); err != nil {
		return Key{}, fmt.Errorf("tunnel: generate key: %w", err)
	}
	k[0] &= 248
	k[31] = k[31]&127 | 64
	return k, nil
}

// ParseKey parses a key in standard base64.
func ParseKey(s string) (Key, error) {
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return Key{}, fmt.Errorf("tunnel: %w: not standard base64: %v", ErrBadKey, err)
	}
	if len(b) != len(Key{}) {
		return Key{}, fmt.Errorf("tunnel: %w: %d bytes, want 32", ErrBadKey, len(b))
	}
	return Key(b), nil
}

// Public returns the public key of private key k (X25519 with the base
// point). The scalar is clamped first, so an unclamped k gives the same
// public key as wireguard-go would use.
func (k Key) Public() Key {
	priv, err := ecdh.X25519().NewPrivateKey(k[:])
	if err != nil {
		// NewPrivateKey fails only for a length other than 32.
		panic(err)
	}
	return Key(priv.PublicKey().Bytes())
}

// String returns k in standard base64.
func (k Key) String() string { return base64.StdEncoding.EncodeToString(k[:]) }

// IsZero reports whether k is all zero, the unset key.
func (k Key) IsZero() bool { return k == Key{} }

// LoadOrCreateKey reads the base64 private key in path, or, if there is no
// such file, generates one and writes it there atomically with mode 0600,
// creating the parent directory. The key is the node's identity on the
// management network, so a file that group or others can read is refused
// rather than used.
func LoadOrCreateKey(path string) (Key, error) {
	fi, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return createKey(path)
	case err != nil:
		return Key{}, fmt.Errorf("tunnel: key %s: %w", path, err)
	case !fi.Mode().IsRegular():
		return Key{}, fmt.Errorf("tunnel: key %s: not a regular file", path)
	case fi.Mode().Perm()&0o077 != 0:
		return Key{}, fmt.Errorf("tunnel: key %s: mode %04o lets group or others read it; want 0600", path, fi.Mode().Perm())
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return Key{}, fmt.Errorf("tunnel: key %s: %w", path, err)
	}
	k, err := ParseKey(strings.TrimSpace(string(b)))
	if err != nil {
		return Key{}, fmt.Errorf("tunnel: key %s: %w", path, err)
	}
	if k.IsZero() {
		return Key{}, fmt.Errorf("tunnel: key %s: %w: all zero", path, ErrBadKey)
	}
	return k, nil
}

func createKey(path string) (Key, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return Key{}, fmt.Errorf("tunnel: key %s: %w", path, err)
	}
	k, err := GenerateKey()
	if err != nil {
		return Key{}, err
	}
	if err := statedir.WriteFile(path, []byte(k.String()+"\n"), 0o600); err != nil {
		return Key{}, fmt.Errorf("tunnel: key %s: %w", path, err)
	}
	return k, nil
}
