package identity

import (
	"crypto/ed25519"
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/base64"
)

// WireGuardInfo is the HKDF info string of the WireGuard key derivation.
// Changing it changes every node's tunnel key, so a new derivation gets a
// new version suffix.
const WireGuardInfo = "goleudy wireguard v1"

// WireGuardKey returns the node's WireGuard (Curve25519) private key,
// derived from the identity so that the TPM, which cannot hold a
// Curve25519 key either, protects it too, and so that there is no second
// key file to lose or copy:
//
//	ikm  = the 32-byte ed25519 seed (RFC 8032's private key)
//	okm  = HKDF-SHA256(ikm, salt = none, info = "goleudy wireguard v1", L = 32)
//	key  = okm clamped as RFC 7748 and wg genkey do:
//	       okm[0] &= 248; okm[31] &= 127; okm[31] |= 64
//
// HKDF makes the two keys independent: knowing the WireGuard key tells
// nothing about the identity key. The result is the same on every call
// and every boot, and base64 of it is what wg(8) calls a private key.
func (id *Identity) WireGuardKey() [32]byte {
	okm, err := hkdf.Key(sha256.New, id.priv.Seed(), nil, WireGuardInfo, 32)
	if err != nil {
		// Only a length beyond 255*32 bytes makes hkdf.Key fail.
		panic("identity: hkdf: " + err.Error())
	}
	var k [32]byte
	copy(k[:], okm)
	k[0] &= 248
	k[31] &= 127
	k[31] |= 64
	return k
}

func pubString(priv ed25519.PrivateKey) string {
	return pubKeyString(priv.Public().(ed25519.PublicKey))
}

func pubKeyString(pub ed25519.PublicKey) string {
	return base64.StdEncoding.EncodeToString(pub)
}
