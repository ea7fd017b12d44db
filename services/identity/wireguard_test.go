package identity

import (
	"bytes"
	"crypto/ecdh"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"testing"
)

// hkdfSHA256 is RFC 5869 written out for one 32-byte block, so the test
// checks the documented derivation rather than the library call.
func hkdfSHA256(ikm []byte, info string) []byte {
	extract := hmac.New(sha256.New, make([]byte, sha256.Size)) // no salt = HashLen zeros
	extract.Write(ikm)
	prk := extract.Sum(nil)
	expand := hmac.New(sha256.New, prk)
	expand.Write([]byte(info))
	expand.Write([]byte{1})
	return expand.Sum(nil)
}

func TestWireGuardKey(t *testing.T) {
	seed := bytes.Repeat([]byte{0x42}, ed25519.SeedSize)
	id := &Identity{priv: ed25519.NewKeyFromSeed(seed)}
	k := id.WireGuardKey()

	want := hkdfSHA256(seed, "goleudy wireguard v1")
	want[0] &= 248
	want[31] = want[31]&127 | 64
	if !bytes.Equal(k[:], want) {
		t.Fatalf("WireGuardKey = %x, want %x", k, want)
	}
	// Pinned: a change here changes every node's tunnel key.
	const pinned = "eDrkKcMs8P+TI2t311x/HjXNSxaMQSHoEkAET1Lv82Q="
	if got := base64.StdEncoding.EncodeToString(k[:]); got != pinned {
		t.Errorf("WireGuardKey = %s, pinned %s", got, pinned)
	}
	if k != id.WireGuardKey() {
		t.Error("not deterministic")
	}
	if k[0]&7 != 0 || k[31]&128 != 0 || k[31]&64 == 0 {
		t.Errorf("not clamped: %x", k)
	}
	if _, err := ecdh.X25519().NewPrivateKey(k[:]); err != nil {
		t.Errorf("not a Curve25519 key: %v", err)
	}
	other := &Identity{priv: ed25519.NewKeyFromSeed(bytes.Repeat([]byte{0x43}, ed25519.SeedSize))}
	if other.WireGuardKey() == k {
		t.Error("two identities gave the same WireGuard key")
	}
	if bytes.Equal(k[:], seed) {
		t.Error("WireGuard key is the identity seed")
	}
}
