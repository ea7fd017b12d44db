package identity

import (
	"bytes"
	"crypto/ed25519"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/google/go-tpm/tpm2"
)

// The identity.tpm format, version 1. Integers are big-endian; each
// variable field is a 2-byte length followed by that many bytes.
//
//	magic     8 bytes  "GLDYSEAL"
//	version   1 byte   1
//	srk       2+34     TPM name of the SRK the seed is sealed under
//	                   (nameAlg 0x000B SHA-256, then the digest)
//	public    2+n      TPMT_PUBLIC of the sealed object (KEYEDHASH,
//	                   SHA-256 name, fixedTPM and fixedParent)
//	private   2+n      TPM2B_PRIVATE contents: the seed, encrypted and
//	                   integrity-protected by the TPM under the SRK
//	identity  32 bytes the ed25519 public key the seed gives
//
// Nothing may follow. The SRK name lets Load tell "another TPM" from a
// damaged file before asking the TPM anything, and pins the SRK that salts
// the unseal session. The identity public key lets it check that what
// was unsealed is the key the server knows.
const (
	sealedMagic   = "GLDYSEAL"
	sealedVersion = 1
	srkNameLen    = 2 + 32
	maxPrivate    = 1024 // TPM2B_PRIVATE is a few hundred bytes at most
	maxPublic     = 1024
)

// sealed is the parsed content of identity.tpm.
type sealed struct {
	srkName  []byte
	public   []byte // marshalled TPMT_PUBLIC
	private  []byte
	identity ed25519.PublicKey
}

// marshal encodes s in the identity.tpm format.
func (s sealed) marshal() []byte {
	var b bytes.Buffer
	b.WriteString(sealedMagic)
	b.WriteByte(sealedVersion)
	for _, f := range [][]byte{s.srkName, s.public, s.private} {
		b.Write(binary.BigEndian.AppendUint16(nil, uint16(len(f))))
		b.Write(f)
	}
	b.Write(s.identity)
	return b.Bytes()
}

// parseSealed decodes and checks identity.tpm's content. Errors wrap
// ErrBadSealed and say which field is wrong.
func parseSealed(data []byte) (sealed, error) {
	var s sealed
	bad := func(format string, args ...any) (sealed, error) {
		return sealed{}, fmt.Errorf("%w: %s", ErrBadSealed, fmt.Sprintf(format, args...))
	}
	if len(data) < len(sealedMagic)+1 || string(data[:len(sealedMagic)]) != sealedMagic {
		return bad("does not start with %q", sealedMagic)
	}
	if v := data[len(sealedMagic)]; v != sealedVersion {
		return bad("version %d, want %d", v, sealedVersion)
	}
	rest := data[len(sealedMagic)+1:]
	field := func(name string) ([]byte, error) {
		if len(rest) < 2 {
			return nil, fmt.Errorf("%w: %s: truncated length", ErrBadSealed, name)
		}
		n := int(binary.BigEndian.Uint16(rest))
		if len(rest)-2 < n {
			return nil, fmt.Errorf("%w: %s: %d bytes, only %d left", ErrBadSealed, name, n, len(rest)-2)
		}
		f := bytes.Clone(rest[2 : 2+n])
		rest = rest[2+n:]
		return f, nil
	}
	var err error
	if s.srkName, err = field("srk name"); err != nil {
		return sealed{}, err
	}
	if len(s.srkName) != srkNameLen || binary.BigEndian.Uint16(s.srkName) != uint16(tpm2.TPMAlgSHA256) {
		return bad("srk name: %d bytes, want a %d-byte SHA-256 name", len(s.srkName), srkNameLen)
	}
	if s.public, err = field("public"); err != nil {
		return sealed{}, err
	}
	if err := checkPublic(s.public); err != nil {
		return sealed{}, fmt.Errorf("%w: public: %v", ErrBadSealed, err)
	}
	if s.private, err = field("private"); err != nil {
		return sealed{}, err
	}
	if len(s.private) == 0 || len(s.private) > maxPrivate {
		return bad("private: %d bytes, want 1..%d", len(s.private), maxPrivate)
	}
	if len(rest) != ed25519.PublicKeySize {
		return bad("identity: %d bytes after the private blob, want a %d-byte ed25519 public key", len(rest), ed25519.PublicKeySize)
	}
	s.identity = ed25519.PublicKey(bytes.Clone(rest))
	return s, nil
}

// checkPublic checks that b is the canonical encoding of a TPMT_PUBLIC for
// a sealed data object that cannot leave its TPM.
func checkPublic(b []byte) (err error) {
	if len(b) == 0 || len(b) > maxPublic {
		return fmt.Errorf("%d bytes, want 1..%d", len(b), maxPublic)
	}
	// go-tpm's reflective decoder is not written for hostile input; a
	// panic there is a malformed file, not a crash of PID 1.
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("undecodable TPMT_PUBLIC: %v", r)
		}
	}()
	pub, err := tpm2.Unmarshal[tpm2.TPMTPublic](b)
	if err != nil {
		return fmt.Errorf("undecodable TPMT_PUBLIC: %w", err)
	}
	if pub.Type != tpm2.TPMAlgKeyedHash {
		return fmt.Errorf("object type 0x%04x, want KEYEDHASH (0x%04x)", uint16(pub.Type), uint16(tpm2.TPMAlgKeyedHash))
	}
	if pub.NameAlg != tpm2.TPMAlgSHA256 {
		return fmt.Errorf("name algorithm 0x%04x, want SHA-256", uint16(pub.NameAlg))
	}
	if !pub.ObjectAttributes.FixedTPM || !pub.ObjectAttributes.FixedParent {
		return errors.New("object may leave its TPM (fixedTPM or fixedParent clear)")
	}
	if !bytes.Equal(tpm2.Marshal(*pub), b) {
		return errors.New("not canonically encoded (trailing or reordered bytes)")
	}
	return nil
}
