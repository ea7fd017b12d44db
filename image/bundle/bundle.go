// Package bundle is the signed update bundle: one slot's filesystem image
// with a manifest saying what it is, signed by the fleet's release key.
//
// A node downloads a bundle over its tunnel, resumably, and writes the
// slot image straight into its inactive slot partition while hashing it,
// so the format puts the small signed manifest first and the image after
// it, unchanged, at a known offset:
//
//	magic   "GOLEUDY-BUNDLE-1\n"      17 bytes
//	length  uint32, big endian       of the manifest envelope
//	manifest                         a DSSE envelope (PayloadManifest)
//	image                            Manifest.Size bytes, sha256 Manifest.SHA256
//
// The node checks the manifest's signature, board and build number before
// it writes a byte, and the image's hash before it switches slots.
package bundle

import (
	"bufio"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
	"time"

	"github.com/goleudy/goleudy/provision/api"
	"github.com/goleudy/goleudy/provision/envelope"
)

// PayloadManifest is the DSSE payload type of a bundle's manifest.
const PayloadManifest = "application/vnd.goleudy.release+json"

// Magic starts every bundle.
const Magic = "GOLEUDY-BUNDLE-1\n"

// MaxManifest bounds the manifest envelope.
const MaxManifest = 64 << 10

// Errors a bad bundle wraps.
var (
	ErrFormat   = errors.New("not a goleudy bundle")
	ErrManifest = errors.New("bad manifest")
	ErrHash     = errors.New("image does not match the manifest")
)

// Manifest says what a bundle holds.
type Manifest struct {
	Board   string    `json:"board"`
	Version string    `json:"version"`
	Build   uint64    `json:"build"` // monotonic: a node refuses a lower one
	SHA256  string    `json:"sha256"`
	Size    int64     `json:"size"`
	Created time.Time `json:"created"`
	// Downgrade is set when the operator signs a bundle on purpose for
	// nodes that run a higher build.
	Downgrade bool `json:"downgrade,omitempty"`
}

var (
	nameRE    = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,31}$`)
	versionRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9.+~_-]{0,63}$`)
)

// Check names every problem with m.
func (m Manifest) Check() error {
	var probs []string
	if !nameRE.MatchString(m.Board) {
		probs = append(probs, fmt.Sprintf("board: %q is not a board name", m.Board))
	}
	if !versionRE.MatchString(m.Version) {
		probs = append(probs, fmt.Sprintf("version: %q is not a version", m.Version))
	}
	if m.Build == 0 {
		probs = append(probs, "build: must be at least 1")
	}
	if b, err := hex.DecodeString(m.SHA256); err != nil || len(b) != sha256.Size {
		probs = append(probs, "sha256: not 64 hex digits")
	}
	if m.Size <= 0 {
		probs = append(probs, "size: must be positive")
	}
	if len(probs) > 0 {
		return fmt.Errorf("bundle: %w: %s", ErrManifest, join(probs))
	}
	return nil
}

func join(s []string) string { return strings.Join(s, "; ") }

// Write writes a bundle of the image read from img (size bytes) to w,
// with m's hash and size filled in from the image, signed by keys.
func Write(w io.Writer, m Manifest, img io.ReaderAt, size int64, keys ...ed25519.PrivateKey) (Manifest, error) {
	h := sha256.New()
	if _, err := io.Copy(h, io.NewSectionReader(img, 0, size)); err != nil {
		return m, fmt.Errorf("bundle: hashing the image: %w", err)
	}
	m.SHA256, m.Size = hex.EncodeToString(h.Sum(nil)), size
	if err := m.Check(); err != nil {
		return m, err
	}
	payload, err := json.Marshal(m)
	if err != nil {
		return m, err
	}
	env, err := envelope.Sign(PayloadManifest, payload, keys...)
	if err != nil {
		return m, fmt.Errorf("bundle: %w", err)
	}
	if len(env) > MaxManifest {
		return m, fmt.Errorf("bundle: manifest envelope is %d bytes, more than %d", len(env), MaxManifest)
	}
	bw := bufio.NewWriter(w)
	bw.WriteString(Magic)
	binary.Write(bw, binary.BigEndian, uint32(len(env)))
	bw.Write(env)
	if _, err := io.Copy(bw, io.NewSectionReader(img, 0, size)); err != nil {
		return m, fmt.Errorf("bundle: %w", err)
	}
	return m, bw.Flush()
}

// Header is a bundle's manifest, still unverified, and where its image
// starts.
type Header struct {
	Envelope []byte
	Offset   int64 // of the image, from the start of the bundle
}

// ReadHeader reads the magic and the manifest envelope from r.
func ReadHeader(r io.Reader) (Header, error) {
	var h Header
	buf := make([]byte, len(Magic)+4)
	if _, err := io.ReadFull(r, buf); err != nil {
		return h, fmt.Errorf("bundle: %w: %v", ErrFormat, err)
	}
	if string(buf[:len(Magic)]) != Magic {
		return h, fmt.Errorf("bundle: %w: bad magic", ErrFormat)
	}
	n := binary.BigEndian.Uint32(buf[len(Magic):])
	if n == 0 || n > MaxManifest {
		return h, fmt.Errorf("bundle: %w: manifest length %d out of range", ErrFormat, n)
	}
	h.Envelope = make([]byte, n)
	if _, err := io.ReadFull(r, h.Envelope); err != nil {
		return h, fmt.Errorf("bundle: %w: manifest cut short: %v", ErrFormat, err)
	}
	h.Offset = int64(len(buf)) + int64(n)
	return h, nil
}

// Verify checks the manifest's signature against trust and decodes it
// strictly.
func (h Header) Verify(trust *envelope.TrustSet) (Manifest, error) {
	var m Manifest
	payload, _, err := trust.Verify(h.Envelope, PayloadManifest)
	if err != nil {
		return m, fmt.Errorf("bundle: manifest: %w", err)
	}
	if err := api.DecodeBytes(payload, &m); err != nil {
		return m, fmt.Errorf("bundle: %w: %v", ErrManifest, err)
	}
	return m, m.Check()
}

// CopyImage copies the image from r (positioned at the header's Offset)
// to w, hashing it, and fails with ErrHash unless it is exactly m.
func CopyImage(w io.Writer, r io.Reader, m Manifest) error {
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(w, h), io.LimitReader(r, m.Size))
	if err != nil {
		return fmt.Errorf("bundle: copying the image: %w", err)
	}
	if n != m.Size {
		return fmt.Errorf("bundle: %w: %d bytes, want %d", ErrHash, n, m.Size)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != m.SHA256 {
		return fmt.Errorf("bundle: %w: sha256 %s, want %s", ErrHash, got, m.SHA256)
	}
	return nil
}
