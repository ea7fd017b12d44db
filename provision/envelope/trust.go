package envelope

import (
	"crypto/ed25519"
	"fmt"
	"slices"
	"strings"
)

// TrustSet is the public keys a node accepts signatures from.
type TrustSet struct {
	keys map[string]ed25519.PublicKey // by KeyID
}

// NewTrustSet trusts the given keys.
func NewTrustSet(pubs ...ed25519.PublicKey) (*TrustSet, error) {
	if len(pubs) == 0 {
		return nil, errNoKeys
	}
	t := &TrustSet{keys: make(map[string]ed25519.PublicKey, len(pubs))}
	for _, p := range pubs {
		if len(p) != ed25519.PublicKeySize {
			return nil, fmt.Errorf("envelope: public key is %d bytes, want %d", len(p), ed25519.PublicKeySize)
		}
		t.keys[KeyID(p)] = p
	}
	return t, nil
}

// LoadTrustSet trusts the public keys in the given files.
func LoadTrustSet(files ...string) (*TrustSet, error) {
	var pubs []ed25519.PublicKey
	for _, f := range files {
		p, err := LoadPublicKey(f)
		if err != nil {
			return nil, err
		}
		pubs = append(pubs, p)
	}
	return NewTrustSet(pubs...)
}

// IDs lists the trusted key ids, sorted.
func (t *TrustSet) IDs() []string {
	ids := make([]string, 0, len(t.keys))
	for id := range t.keys {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// Verify checks that data is an envelope of payloadType carrying at least one
// good signature by a trusted key, and returns the payload and the id of the
// key that verified it. The payload type is checked before any signature so
// that a correctly signed document of another kind is never mistaken for
// this one.
func (t *TrustSet) Verify(data []byte, payloadType string) (payload []byte, keyID string, err error) {
	e, payload, err := Parse(data)
	if err != nil {
		return nil, "", err
	}
	if e.PayloadType != payloadType {
		return nil, "", fmt.Errorf("envelope: %w: %q, want %q", ErrPayloadType, e.PayloadType, payloadType)
	}
	pae := PAE(e.PayloadType, payload)
	var tried, untrusted []string
	anonymous := false // a signature without key id failed: altered, or by a stranger
	for _, s := range e.Signatures {
		sig, _ := decodeBase64(s.Sig) // Parse checked it
		var candidates []string
		if s.KeyID != "" {
			if _, ok := t.keys[s.KeyID]; !ok {
				untrusted = append(untrusted, ShortID(s.KeyID))
				continue
			}
			candidates = []string{s.KeyID}
		} else {
			candidates = t.IDs()
			anonymous = true
		}
		for _, id := range candidates {
			if ed25519.Verify(t.keys[id], pae, sig) {
				return payload, id, nil
			}
			tried = append(tried, ShortID(id))
		}
	}
	if len(tried) == 0 {
		return nil, "", fmt.Errorf("envelope: %w: signed by %s; trusted keys are %s",
			ErrUntrustedKey, strings.Join(untrusted, ", "), shortIDs(t.IDs()))
	}
	why := "the envelope was altered after signing"
	if anonymous {
		why = "the envelope was altered, or signed by a key that is not trusted"
	}
	slices.Sort(tried)
	return nil, "", fmt.Errorf("envelope: %w: no signature verifies with trusted key %s; %s",
		ErrBadSignature, strings.Join(slices.Compact(tried), ", "), why)
}

func shortIDs(ids []string) string {
	s := make([]string, len(ids))
	for i, id := range ids {
		s[i] = ShortID(id)
	}
	return strings.Join(s, ", ")
}
