package envelope

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
)

// KeyID names a public key: the hex SHA-256 of its raw 32 bytes. It lets a
// verifier pick the right key from its trust set without trying them all.
func KeyID(pub ed25519.PublicKey) string {
	sum := sha256.Sum256(pub)
	return hex.EncodeToString(sum[:])
}

// ShortID is the first 12 hex digits of a key id, for log lines.
func ShortID(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

// NewKeyPair creates prefix.key (PKCS#8 PEM, mode 0600) and prefix.pub
// (PKIX PEM). It refuses to overwrite an existing key, since losing a fleet
// key strands every node that trusts only it.
func NewKeyPair(prefix string) (ed25519.PublicKey, error) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("envelope: generate key: %w", err)
	}
	privDER, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, fmt.Errorf("envelope: encode key: %w", err)
	}
	pubDER, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("envelope: encode key: %w", err)
	}
	keyFile, pubFile := prefix+".key", prefix+".pub"
	for _, f := range []string{keyFile, pubFile} {
		if _, err := os.Lstat(f); err == nil {
			return nil, fmt.Errorf("envelope: %s already exists; refusing to overwrite a key", f)
		}
	}
	if err := writeNew(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: privDER}), 0o600); err != nil {
		return nil, err
	}
	if err := writeNew(pubFile, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER}), 0o644); err != nil {
		os.Remove(keyFile)
		return nil, err
	}
	return pub, nil
}

func writeNew(name string, data []byte, perm os.FileMode) error {
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return fmt.Errorf("envelope: %w", err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		os.Remove(name)
		return fmt.Errorf("envelope: write %s: %w", name, err)
	}
	if err := f.Close(); err != nil {
		os.Remove(name)
		return fmt.Errorf("envelope: write %s: %w", name, err)
	}
	return nil
}

// LoadPrivateKey reads an ed25519 private key written by NewKeyPair. A key
// that others can read is refused, as ssh does.
func LoadPrivateKey(name string) (ed25519.PrivateKey, error) {
	fi, err := os.Stat(name)
	if err != nil {
		return nil, fmt.Errorf("envelope: %w", err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("envelope: private key %s has mode %04o; it must not be readable by others (chmod 600)", name, fi.Mode().Perm())
	}
	block, err := readPEM(name, "PRIVATE KEY")
	if err != nil {
		return nil, err
	}
	k, err := x509.ParsePKCS8PrivateKey(block)
	if err != nil {
		return nil, fmt.Errorf("envelope: %s: %w", name, err)
	}
	priv, ok := k.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("envelope: %s: a %T, not an ed25519 key", name, k)
	}
	return priv, nil
}

// LoadPublicKey reads an ed25519 public key written by NewKeyPair.
func LoadPublicKey(name string) (ed25519.PublicKey, error) {
	block, err := readPEM(name, "PUBLIC KEY")
	if err != nil {
		return nil, err
	}
	k, err := x509.ParsePKIXPublicKey(block)
	if err != nil {
		return nil, fmt.Errorf("envelope: %s: %w", name, err)
	}
	pub, ok := k.(ed25519.PublicKey)
	if !ok {
		return nil, fmt.Errorf("envelope: %s: a %T, not an ed25519 key", name, k)
	}
	return pub, nil
}

func readPEM(name, typ string) ([]byte, error) {
	data, err := os.ReadFile(name)
	if err != nil {
		return nil, fmt.Errorf("envelope: %w", err)
	}
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, fmt.Errorf("envelope: %s: no PEM block found", name)
	}
	if block.Type != typ {
		return nil, fmt.Errorf("envelope: %s: holds a %q, want a %q", name, block.Type, typ)
	}
	return block.Bytes, nil
}

// errNoKeys is returned when a trust set would be empty.
var errNoKeys = errors.New("envelope: a trust set needs at least one public key")
