package identity

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"

	"github.com/goleudy/goleudy/services/statedir"
)

// PEM block types, as provision/envelope writes them.
const (
	pemPrivate = "PRIVATE KEY"
	pemPublic  = "PUBLIC KEY"
)

// loadFile loads identity.key, or creates it.
func loadFile(l layout, log *slog.Logger) (*Identity, error) {
	priv, err := readKey(l.key, log)
	if errors.Is(err, fs.ErrNotExist) {
		if priv, err = newKey(); err != nil {
			return nil, err
		}
		if err := writeKey(l.key, priv); err != nil {
			return nil, err
		}
		log.Info("identity created", "file", l.key, "public", pubString(priv))
	} else if err != nil {
		return nil, err
	}
	if err := writePub(l.pub, priv, log); err != nil {
		return nil, err
	}
	return &Identity{priv: priv, protected: ProtectedFile}, nil
}

func newKey() (ed25519.PrivateKey, error) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("identity: generate key: %w", err)
	}
	return priv, nil
}

// readKey reads a PEM PKCS#8 ed25519 key. A missing file is an error
// wrapping fs.ErrNotExist. A key others may read is made private (and
// logged) rather than refused: a node without a console that refused to
// boot over a mode bit could not be reached to fix it.
func readKey(name string, log *slog.Logger) (ed25519.PrivateKey, error) {
	fi, err := os.Lstat(name)
	if err != nil {
		return nil, fmt.Errorf("identity: key %s: %w", name, err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("identity: key %s: not a regular file (%s)", name, fi.Mode().Type())
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		if err := os.Chmod(name, 0o600); err != nil {
			return nil, fmt.Errorf("identity: key %s: has mode %04o and chmod 600 failed: %w", name, perm, err)
		}
		log.Warn("identity key was readable by others; made it private", "file", name, "mode", fmt.Sprintf("%04o", perm))
	}
	data, err := os.ReadFile(name)
	if err != nil {
		return nil, fmt.Errorf("identity: key %s: %w", name, err)
	}
	priv, err := parseKey(data)
	if err != nil {
		return nil, fmt.Errorf("identity: key %s: %w", name, err)
	}
	return priv, nil
}

// parseKey decodes the one PEM PKCS#8 ed25519 private key in data.
func parseKey(data []byte) (ed25519.PrivateKey, error) {
	block, rest := pem.Decode(data)
	if block == nil {
		return nil, errors.New("no PEM block found")
	}
	if block.Type != pemPrivate {
		return nil, fmt.Errorf("holds a PEM %q, want %q", block.Type, pemPrivate)
	}
	if p, _ := pem.Decode(rest); p != nil {
		return nil, errors.New("holds more than one PEM block")
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("not a PKCS#8 private key: %w", err)
	}
	priv, ok := k.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("a %T, not an ed25519 key", k)
	}
	return priv, nil
}

// writeKey replaces name with priv, mode 0600, atomically.
func writeKey(name string, priv ed25519.PrivateKey) error {
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return fmt.Errorf("identity: encode key: %w", err)
	}
	if err := statedir.WriteFile(name, pem.EncodeToMemory(&pem.Block{Type: pemPrivate, Bytes: der}), 0o600); err != nil {
		return fmt.Errorf("identity: %w", err)
	}
	return nil
}

// writePub keeps identity.pub in step with the key. Only a write failure
// of a file that needs writing is an error; it is informational, so a
// stale one is simply replaced.
func writePub(name string, priv ed25519.PrivateKey, log *slog.Logger) error {
	der, err := x509.MarshalPKIXPublicKey(priv.Public())
	if err != nil {
		return fmt.Errorf("identity: encode public key: %w", err)
	}
	want := pem.EncodeToMemory(&pem.Block{Type: pemPublic, Bytes: der})
	if have, err := os.ReadFile(name); err == nil && string(have) == string(want) {
		return nil
	}
	if err := statedir.WriteFile(name, want, 0o644); err != nil {
		return fmt.Errorf("identity: %w", err)
	}
	log.Debug("identity public key written", "file", name)
	return nil
}
