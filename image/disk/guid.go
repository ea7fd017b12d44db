package disk

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"strings"
)

// GUID is a GUID in the byte order its text form reads in
// ("C12A7328-F81F-11D2-..."): GPT stores the first three fields
// little-endian, which the table code converts.
type GUID [16]byte

// ParseGUID parses the 36-character text form, in either case.
func ParseGUID(s string) (GUID, error) {
	var g GUID
	if len(s) != 36 || s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-' {
		return g, fmt.Errorf("disk: GUID %q: want the form XXXXXXXX-XXXX-XXXX-XXXX-XXXXXXXXXXXX", s)
	}
	b, err := hex.DecodeString(strings.ReplaceAll(s, "-", ""))
	if err != nil {
		return g, fmt.Errorf("disk: GUID %q: %w", s, err)
	}
	copy(g[:], b)
	return g, nil
}

func mustGUID(s string) GUID {
	g, err := ParseGUID(s)
	if err != nil {
		panic(err)
	}
	return g
}

func (g GUID) String() string {
	return strings.ToUpper(fmt.Sprintf("%x-%x-%x-%x-%x", g[0:4], g[4:6], g[6:8], g[8:10], g[10:16]))
}

// IsZero reports whether g is all zeros: an unused GPT entry's type.
func (g GUID) IsZero() bool { return g == GUID{} }

// mixed is g as GPT stores it.
func (g GUID) mixed() [16]byte {
	var b [16]byte
	binary.LittleEndian.PutUint32(b[0:], binary.BigEndian.Uint32(g[0:]))
	binary.LittleEndian.PutUint16(b[4:], binary.BigEndian.Uint16(g[4:]))
	binary.LittleEndian.PutUint16(b[6:], binary.BigEndian.Uint16(g[6:]))
	copy(b[8:], g[8:])
	return b
}

// guidFromMixed reads a GUID as GPT stores it.
func guidFromMixed(b []byte) GUID {
	var g GUID
	binary.BigEndian.PutUint32(g[0:], binary.LittleEndian.Uint32(b[0:]))
	binary.BigEndian.PutUint16(g[4:], binary.LittleEndian.Uint16(b[4:]))
	binary.BigEndian.PutUint16(g[6:], binary.LittleEndian.Uint16(b[6:]))
	copy(g[8:], b[8:16])
	return g
}

// derive makes a GUID from the layout's seed and what it is for: a
// version 8 (RFC 9562, application-defined) GUID from SHA-256, so that
// rebuilding an image gives the same GUIDs and different seeds or roles
// give different ones.
func derive(seed, what string) GUID {
	h := sha256.Sum256([]byte("goleudy disk\x00" + seed + "\x00" + what))
	var g GUID
	copy(g[:], h[:16])
	g[6] = g[6]&0x0F | 0x80
	g[8] = g[8]&0x3F | 0x80
	return g
}

// deriveSignature makes the MBR disk signature, never 0 (which some
// tools read as "none").
func deriveSignature(seed string) uint32 {
	h := sha256.Sum256([]byte("goleudy disk\x00" + seed + "\x00mbr signature"))
	if s := binary.LittleEndian.Uint32(h[:]); s != 0 {
		return s
	}
	return 1
}
