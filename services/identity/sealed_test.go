package identity

import (
	"bytes"
	"crypto/ed25519"
	"encoding/binary"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-tpm/tpm2"
)

// validSealed is a well-formed identity.tpm content that no TPM made.
func validSealed() sealed {
	name := binary.BigEndian.AppendUint16(nil, uint16(tpm2.TPMAlgSHA256))
	name = append(name, bytes.Repeat([]byte{0xaa}, 32)...)
	return sealed{
		srkName:  name,
		public:   tpm2.Marshal(sealTemplate),
		private:  bytes.Repeat([]byte{0x55}, 120),
		identity: ed25519.NewKeyFromSeed(bytes.Repeat([]byte{1}, 32)).Public().(ed25519.PublicKey),
	}
}

func TestSealedRoundTrip(t *testing.T) {
	s := validSealed()
	data := s.marshal()
	got, err := parseSealed(data)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.marshal(), data) {
		t.Error("parse then marshal changed the bytes")
	}
}

func TestSealedBad(t *testing.T) {
	good := validSealed().marshal()
	mutate := func(f func(s *sealed)) []byte {
		s := validSealed()
		f(&s)
		return s.marshal()
	}
	movable := sealTemplate
	movable.ObjectAttributes.FixedTPM = false
	for _, c := range []struct {
		name string
		data []byte
		want string
	}{
		{"empty", nil, "does not start with"},
		{"magic", append([]byte("XXXXXXXX"), good[8:]...), "does not start with"},
		{"version", append(append([]byte(sealedMagic), 2), good[9:]...), "version 2"},
		{"truncated", good[:len(good)-1], "identity: 31 bytes"},
		{"trailing", append(bytes.Clone(good), 0), "identity: 33 bytes"},
		{"cut in length", good[:10], "srk name: truncated length"},
		{"long field", append(good[:9:9], 0xff, 0xff), "srk name: 65535 bytes"},
		{"srk name size", mutate(func(s *sealed) { s.srkName = s.srkName[:20] }), "srk name: 20 bytes"},
		{"srk name alg", mutate(func(s *sealed) { s.srkName[1] = 4 }), "SHA-256 name"},
		{"public junk", mutate(func(s *sealed) { s.public = []byte{1, 2, 3} }), "public: undecodable"},
		{"public empty", mutate(func(s *sealed) { s.public = nil }), "public: 0 bytes"},
		{"public type", mutate(func(s *sealed) { s.public[1] = byte(tpm2.TPMAlgRSA) }), "public:"},
		{"public movable", mutate(func(s *sealed) { s.public = tpm2.Marshal(movable) }), "may leave its TPM"},
		{"public trailing", mutate(func(s *sealed) { s.public = append(s.public, 0) }), "not canonically encoded"},
		{"private empty", mutate(func(s *sealed) { s.private = nil }), "private: 0 bytes"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := parseSealed(c.data)
			if !errors.Is(err, ErrBadSealed) {
				t.Fatalf("got %v, want ErrBadSealed", err)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %q does not say %q", err, c.want)
			}
		})
	}
}

func FuzzParseSealed(f *testing.F) {
	f.Add(validSealed().marshal())
	f.Add([]byte(sealedMagic + "\x01"))
	f.Add([]byte{})
	s := validSealed()
	s.public = []byte{0, 8, 0, 11, 0, 0, 0, 0x72, 0, 0, 0, 0x10, 0, 0}
	f.Add(s.marshal())
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := parseSealed(data)
		if err != nil {
			if !errors.Is(err, ErrBadSealed) {
				t.Fatalf("error %v does not wrap ErrBadSealed", err)
			}
			return
		}
		if !bytes.Equal(s.marshal(), data) {
			t.Fatalf("accepted %x, which does not marshal back to itself", data)
		}
	})
}
