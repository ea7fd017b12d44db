package envelope

import (
	"context"
	"crypto"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/secure-systems-lab/go-securesystemslib/dsse"
)

const testType = "application/vnd.goleudy.test+json"

func newKey(t testing.TB, dir, name string) (ed25519.PrivateKey, ed25519.PublicKey) {
	t.Helper()
	prefix := filepath.Join(dir, name)
	pub, err := NewKeyPair(prefix)
	if err != nil {
		t.Fatal(err)
	}
	priv, err := LoadPrivateKey(prefix + ".key")
	if err != nil {
		t.Fatal(err)
	}
	if !pub.Equal(priv.Public()) {
		t.Fatal("key pair does not match")
	}
	return priv, pub
}

func TestKeyFiles(t *testing.T) {
	dir := t.TempDir()
	_, pub := newKey(t, dir, "fleet")
	fi, err := os.Stat(filepath.Join(dir, "fleet.key"))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key mode = %v, %v", fi.Mode(), err)
	}
	got, err := LoadPublicKey(filepath.Join(dir, "fleet.pub"))
	if err != nil || !got.Equal(pub) {
		t.Fatalf("LoadPublicKey = %v, %v", got, err)
	}
	if _, err := NewKeyPair(filepath.Join(dir, "fleet")); err == nil || !strings.Contains(err.Error(), "refusing to overwrite") {
		t.Errorf("overwrite: %v", err)
	}
	os.Chmod(filepath.Join(dir, "fleet.key"), 0o644)
	if _, err := LoadPrivateKey(filepath.Join(dir, "fleet.key")); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Errorf("world-readable key: %v", err)
	}
	if _, err := LoadPublicKey(filepath.Join(dir, "fleet.key")); err == nil || !strings.Contains(err.Error(), `want a "PUBLIC KEY"`) {
		t.Errorf("private key as public: %v", err)
	}
}

func TestVerify(t *testing.T) {
	dir := t.TempDir()
	oldKey, oldPub := newKey(t, dir, "old")
	newK, newPub := newKey(t, dir, "new")
	stranger, _ := newKey(t, dir, "stranger")
	payload := []byte(`{"serial":7}`)

	trust, err := NewTrustSet(oldPub, newPub)
	if err != nil {
		t.Fatal(err)
	}
	good, _ := Sign(testType, payload, oldKey)
	dual, _ := Sign(testType, payload, stranger, newK) // rotation: first sig unknown
	bad, _ := Sign(testType, payload, stranger)
	otherType, _ := Sign("application/vnd.goleudy.release+json", payload, oldKey)

	tampered := mutate(t, good, func(e *Envelope) {
		e.Payload = base64.StdEncoding.EncodeToString([]byte(`{"serial":8}`))
	})
	retyped := mutate(t, good, func(e *Envelope) { e.PayloadType = "application/vnd.goleudy.release+json" })
	anonTampered := mutate(t, tampered, func(e *Envelope) { e.Signatures[0].KeyID = "" })
	anonGood := mutate(t, good, func(e *Envelope) { e.Signatures[0].KeyID = "" })

	tests := []struct {
		name string
		data []byte
		want error
		msg  string
	}{
		{"good", good, nil, ""},
		{"rotation", dual, nil, ""},
		{"no key id", anonGood, nil, ""},
		{"tampered", tampered, ErrBadSignature, "altered after signing"},
		{"tampered without key id", anonTampered, ErrBadSignature, "altered, or signed by a key that is not trusted"},
		{"wrong key", bad, ErrUntrustedKey, "signed by " + ShortID(KeyID(stranger.Public().(ed25519.PublicKey)))},
		{"payload type", otherType, ErrPayloadType, `"application/vnd.goleudy.release+json", want "application/vnd.goleudy.test+json"`},
		{"relabelled", retyped, ErrPayloadType, "release+json"},
		{"not json", []byte("hello"), ErrMalformed, ""},
		{"unknown field", []byte(`{"payloadType":"x","payload":"","signatures":[],"extra":1}`), ErrMalformed, `unknown field "extra"`},
		{"no signatures", []byte(`{"payloadType":"x","payload":""}`), ErrMalformed, "no signatures"},
		{"bad base64", []byte(`{"payloadType":"x","payload":"!!","signatures":[{"sig":"AA=="}]}`), ErrMalformed, "payload"},
		{"short sig", []byte(`{"payloadType":"x","payload":"","signatures":[{"sig":"AA=="}]}`), ErrMalformed, "signatures[0].sig: 1 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, id, err := trust.Verify(tt.data, testType)
			if tt.want == nil {
				if err != nil {
					t.Fatal(err)
				}
				if string(got) != string(payload) || id == "" {
					t.Errorf("payload %q by %q", got, id)
				}
				return
			}
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			for _, other := range []error{ErrMalformed, ErrPayloadType, ErrUntrustedKey, ErrBadSignature} {
				if other != tt.want && errors.Is(err, other) {
					t.Errorf("err %v also matches %v", err, other)
				}
			}
			if !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("err = %v, want it to mention %q", err, tt.msg)
			}
		})
	}
}

func mutate(t *testing.T, data []byte, f func(*Envelope)) []byte {
	t.Helper()
	var e Envelope
	if err := json.Unmarshal(data, &e); err != nil {
		t.Fatal(err)
	}
	f(&e)
	out, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// libKey adapts a key to go-securesystemslib's dsse signer and verifier.
type libKey struct {
	priv ed25519.PrivateKey
	pub  ed25519.PublicKey
}

func (k libKey) Sign(_ context.Context, data []byte) ([]byte, error) {
	return ed25519.Sign(k.priv, data), nil
}
func (k libKey) Verify(_ context.Context, data, sig []byte) error {
	if !ed25519.Verify(k.pub, data, sig) {
		return errors.New("bad")
	}
	return nil
}
func (k libKey) KeyID() (string, error)   { return KeyID(k.pub), nil }
func (k libKey) Public() crypto.PublicKey { return k.pub }

// TestInteroperability proves the format matches the reference library both
// ways, so any DSSE tooling can sign or check Goleudy configs.
func TestInteroperability(t *testing.T) {
	dir := t.TempDir()
	priv, pub := newKey(t, dir, "fleet")
	k := libKey{priv, pub}
	payload := []byte(`{"schema":1}`)

	ours, err := Sign(testType, payload, priv)
	if err != nil {
		t.Fatal(err)
	}
	var e dsse.Envelope
	if err := json.Unmarshal(ours, &e); err != nil {
		t.Fatal(err)
	}
	v, _ := dsse.NewEnvelopeVerifier(k)
	if _, err := v.Verify(context.Background(), &e); err != nil {
		t.Fatalf("library refuses our envelope: %v", err)
	}

	s, _ := dsse.NewEnvelopeSigner(k)
	theirs, err := s.SignPayload(context.Background(), testType, payload)
	if err != nil {
		t.Fatal(err)
	}
	data, _ := json.Marshal(theirs)
	trust, _ := NewTrustSet(pub)
	got, _, err := trust.Verify(data, testType)
	if err != nil || string(got) != string(payload) {
		t.Fatalf("we refuse the library's envelope: %q, %v", got, err)
	}
}

func FuzzParse(f *testing.F) {
	dir := f.TempDir()
	priv, pub := newKey(f, dir, "fleet")
	good, _ := Sign(testType, []byte(`{"serial":1}`), priv)
	f.Add(good)
	f.Add([]byte(`{"payloadType":"x","payload":"","signatures":[{"sig":"AA=="}]}`))
	f.Add([]byte(`{"payloadType":"x","payload":"e30=","signatures":[{"keyid":"","sig":"` + strings.Repeat("A", 88) + `"}]}`))
	trust, _ := NewTrustSet(pub)
	f.Fuzz(func(t *testing.T, data []byte) {
		payload, id, err := trust.Verify(data, testType)
		if err == nil {
			// Anything accepted must carry a real signature by the trusted key.
			e, p, perr := Parse(data)
			if perr != nil || string(p) != string(payload) || id != KeyID(pub) || e.PayloadType != testType {
				t.Fatalf("accepted %q: %v", data, perr)
			}
			return
		}
		known := false
		for _, s := range []error{ErrMalformed, ErrPayloadType, ErrUntrustedKey, ErrBadSignature} {
			known = known || errors.Is(err, s)
		}
		if !known {
			t.Fatalf("refusal without a sentinel: %v", err)
		}
	})
}
