// Package envelope signs and verifies DSSE envelopes with ed25519 keys.
//
// The provisioning server signs every node config (and, later, every release
// manifest) with a fleet key; a node accepts only what verifies against its
// trust set. The trust set holds several public keys so that a fleet can
// rotate keys: sign with old and new, ship the new public key, then retire the
// old one.
//
// DSSE (github.com/secure-systems-lab/dsse) is small: JSON with a payload
// type, a base64 payload and signatures over PAE(type, payload). The
// go-securesystemslib implementation prints to stdout during verification and
// pulls golang.org/x/crypto/ssh into PID 1, so the format is implemented here
// and the tests prove both implementations accept each other's envelopes.
package envelope

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
)

// MaxSize bounds an envelope; a config for ten thousand zones is a few MiB.
const MaxSize = 96 << 20

// Sentinel errors. Each refusal wraps exactly one, so callers and tests can
// tell why an envelope was refused.
var (
	ErrMalformed    = errors.New("malformed envelope")
	ErrPayloadType  = errors.New("unexpected payload type")
	ErrUntrustedKey = errors.New("signed by an untrusted key")
	ErrBadSignature = errors.New("bad signature")
)

// Envelope is the DSSE JSON envelope.
type Envelope struct {
	PayloadType string      `json:"payloadType"`
	Payload     string      `json:"payload"`
	Signatures  []Signature `json:"signatures"`
}

// Signature is one signature over PAE(payloadType, payload).
type Signature struct {
	KeyID string `json:"keyid,omitempty"`
	Sig   string `json:"sig"`
}

// PAE is DSSE's pre-authentication encoding: what is actually signed. It
// binds the payload type, so a payload cannot be re-labelled.
func PAE(payloadType string, payload []byte) []byte {
	var b bytes.Buffer
	b.WriteString("DSSEv1 ")
	b.WriteString(strconv.Itoa(len(payloadType)))
	b.WriteByte(' ')
	b.WriteString(payloadType)
	b.WriteByte(' ')
	b.WriteString(strconv.Itoa(len(payload)))
	b.WriteByte(' ')
	b.Write(payload)
	return b.Bytes()
}

// Sign wraps payload in an envelope signed by every key given, and returns
// its JSON encoding.
func Sign(payloadType string, payload []byte, keys ...ed25519.PrivateKey) ([]byte, error) {
	if len(keys) == 0 {
		return nil, errors.New("envelope: sign: no key")
	}
	if payloadType == "" {
		return nil, errors.New("envelope: sign: empty payload type")
	}
	pae := PAE(payloadType, payload)
	e := Envelope{
		PayloadType: payloadType,
		Payload:     base64.StdEncoding.EncodeToString(payload),
	}
	for _, k := range keys {
		e.Signatures = append(e.Signatures, Signature{
			KeyID: KeyID(k.Public().(ed25519.PublicKey)),
			Sig:   base64.StdEncoding.EncodeToString(ed25519.Sign(k, pae)),
		})
	}
	out, err := json.MarshalIndent(e, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("envelope: sign: %w", err)
	}
	return append(out, '\n'), nil
}

// Parse decodes an envelope strictly, without verifying it. It returns the
// envelope and its decoded payload. Unknown fields, missing fields and bad
// base64 are errors wrapping ErrMalformed.
func Parse(data []byte) (*Envelope, []byte, error) {
	if len(data) > MaxSize {
		return nil, nil, fmt.Errorf("envelope: %w: %d bytes; the limit is %d", ErrMalformed, len(data), MaxSize)
	}
	var e Envelope
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&e); err != nil {
		return nil, nil, fmt.Errorf("envelope: %w: %v", ErrMalformed, err)
	}
	if dec.More() {
		return nil, nil, fmt.Errorf("envelope: %w: data after the envelope", ErrMalformed)
	}
	if e.PayloadType == "" {
		return nil, nil, fmt.Errorf("envelope: %w: payloadType is missing", ErrMalformed)
	}
	if len(e.Signatures) == 0 {
		return nil, nil, fmt.Errorf("envelope: %w: no signatures", ErrMalformed)
	}
	payload, err := decodeBase64(e.Payload)
	if err != nil {
		return nil, nil, fmt.Errorf("envelope: %w: payload: %v", ErrMalformed, err)
	}
	for i, s := range e.Signatures {
		sig, err := decodeBase64(s.Sig)
		if err != nil {
			return nil, nil, fmt.Errorf("envelope: %w: signatures[%d].sig: %v", ErrMalformed, i, err)
		}
		if len(sig) != ed25519.SignatureSize {
			return nil, nil, fmt.Errorf("envelope: %w: signatures[%d].sig: %d bytes, an ed25519 signature is %d", ErrMalformed, i, len(sig), ed25519.SignatureSize)
		}
	}
	return &e, payload, nil
}

// IsEnvelope reports whether data looks like a DSSE envelope rather than a
// bare document, so tools can say which they were given.
func IsEnvelope(data []byte) bool {
	var probe struct {
		PayloadType *string `json:"payloadType"`
	}
	return json.Unmarshal(data, &probe) == nil && probe.PayloadType != nil
}

// decodeBase64 accepts standard and URL-safe base64, as the DSSE spec allows.
func decodeBase64(s string) ([]byte, error) {
	if b, err := base64.StdEncoding.DecodeString(s); err == nil {
		return b, nil
	}
	return base64.URLEncoding.DecodeString(s)
}
