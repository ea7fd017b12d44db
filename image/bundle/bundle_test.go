package bundle

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/goleudy/goleudy/provision/envelope"
)

func keyPair(t *testing.T) (ed25519.PrivateKey, *envelope.TrustSet) {
	t.Helper()
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	trust, err := envelope.NewTrustSet(pub)
	if err != nil {
		t.Fatal(err)
	}
	return priv, trust
}

func build(t *testing.T, img []byte, key ed25519.PrivateKey) []byte {
	t.Helper()
	var b bytes.Buffer
	m := Manifest{Board: "brix", Version: "1.2.0", Build: 42, Created: time.Date(2026, 11, 21, 0, 0, 0, 0, time.UTC)}
	if _, err := Write(&b, m, bytes.NewReader(img), int64(len(img)), key); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestRoundTrip(t *testing.T) {
	key, trust := keyPair(t)
	img := bytes.Repeat([]byte("slot"), 100000)
	data := build(t, img, key)
	r := bytes.NewReader(data)
	h, err := ReadHeader(r)
	if err != nil {
		t.Fatal(err)
	}
	m, err := h.Verify(trust)
	if err != nil {
		t.Fatal(err)
	}
	if m.Board != "brix" || m.Build != 42 || m.Size != int64(len(img)) || h.Offset+m.Size != int64(len(data)) {
		t.Fatalf("manifest %+v offset %d", m, h.Offset)
	}
	var out bytes.Buffer
	if err := CopyImage(&out, r, m); err != nil || !bytes.Equal(out.Bytes(), img) {
		t.Fatalf("image: %v", err)
	}
	if again := build(t, img, key); !bytes.Equal(again, data) {
		t.Error("the same inputs gave a different bundle")
	}
}

func TestBadBundles(t *testing.T) {
	key, trust := keyPair(t)
	other, _ := keyPair(t)
	img := bytes.Repeat([]byte{7}, 4096)
	good := build(t, img, key)

	if _, err := ReadHeader(bytes.NewReader([]byte("PK\x03\x04 zip file"))); !errors.Is(err, ErrFormat) {
		t.Errorf("not a bundle: %v", err)
	}
	if _, err := ReadHeader(bytes.NewReader(good[:30])); !errors.Is(err, ErrFormat) {
		t.Errorf("cut short: %v", err)
	}
	h, _ := ReadHeader(bytes.NewReader(build(t, img, other)))
	if _, err := h.Verify(trust); err == nil || !strings.Contains(err.Error(), "untrusted") {
		t.Errorf("wrongly signed: %v", err)
	}
	corrupt := bytes.Clone(good)
	corrupt[len(corrupt)-10] ^= 0xff
	r := bytes.NewReader(corrupt)
	h, _ = ReadHeader(r)
	m, err := h.Verify(trust)
	if err != nil {
		t.Fatal(err)
	}
	if err := CopyImage(&bytes.Buffer{}, r, m); !errors.Is(err, ErrHash) {
		t.Errorf("corrupt image: %v", err)
	}
	r = bytes.NewReader(good[:len(good)-1])
	if _, err := ReadHeader(r); err != nil {
		t.Fatal(err)
	}
	if err := CopyImage(&bytes.Buffer{}, r, m); !errors.Is(err, ErrHash) {
		t.Errorf("short image: %v", err)
	}
	var b bytes.Buffer
	if _, err := Write(&b, Manifest{Board: "Brix!", Version: "", Build: 0}, bytes.NewReader(img), 4096, key); !errors.Is(err, ErrManifest) ||
		!strings.Contains(err.Error(), "board") || !strings.Contains(err.Error(), "version") || !strings.Contains(err.Error(), "build") {
		t.Errorf("bad manifest: %v", err)
	}
}

func FuzzReadHeader(f *testing.F) {
	f.Add([]byte(Magic + "\x00\x00\x00\x02{}"))
	f.Add([]byte("GOLEUDY"))
	f.Fuzz(func(t *testing.T, data []byte) {
		h, err := ReadHeader(bytes.NewReader(data))
		if err != nil {
			if !errors.Is(err, ErrFormat) {
				t.Fatalf("error not ErrFormat: %v", err)
			}
			return
		}
		if h.Offset != int64(len(Magic)+4+len(h.Envelope)) || h.Offset > int64(len(data)) {
			t.Fatalf("offset %d for %d bytes", h.Offset, len(data))
		}
	})
}
