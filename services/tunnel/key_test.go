package tunnel

import (
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseKey(t *testing.T) {
	good := strings.Repeat("A", 43) + "="
	for _, tc := range []struct {
		in, err string
	}{
		{good, ""},
		{"not base64!", "not standard base64"},
		{strings.Repeat("A", 43), "not standard base64"}, // padding missing
		{"AAAA", "3 bytes, want 32"},
		{strings.Repeat("A", 44) + "AAAA", "36 bytes, want 32"},
		{"", "0 bytes, want 32"},
	} {
		k, err := ParseKey(tc.in)
		if tc.err == "" {
			if err != nil || !k.IsZero() {
				t.Errorf("ParseKey(%q) = %v, %v; want zero key", tc.in, k, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tc.err) || !errors.Is(err, ErrBadKey) {
			t.Errorf("ParseKey(%q) error = %v; want ErrBadKey saying %q", tc.in, err, tc.err)
		}
	}
}

// TestPublic checks X25519 against RFC 7748 section 6.1 (Alice and Bob).
func TestPublic(t *testing.T) {
	for _, v := range []struct{ priv, pub string }{
		{"77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a", "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a"},
		{"5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb", "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f"},
	} {
		var k Key
		if _, err := hex.Decode(k[:], []byte(v.priv)); err != nil {
			t.Fatal(err)
		}
		pub := k.Public()
		if got := hex.EncodeToString(pub[:]); got != v.pub {
			t.Errorf("Public(%s) = %s, want %s", v.priv, got, v.pub)
		}
	}
}

func TestGenerateKey(t *testing.T) {
	a, err := GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	b, err := GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	if a == b || a.IsZero() {
		t.Fatalf("GenerateKey gave %v and %v", a, b)
	}
	if a[0]&7 != 0 || a[31]&128 != 0 || a[31]&64 == 0 {
		t.Errorf("key %x not clamped", a)
	}
	back, err := ParseKey(a.String())
	if err != nil || back != a {
		t.Errorf("ParseKey(String()) = %v, %v; want %v", back, err, a)
	}
	if a.Public() == b.Public() || a.Public().IsZero() {
		t.Errorf("public keys %v, %v", a.Public(), b.Public())
	}
}

func TestLoadOrCreateKey(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state", "wg", "private.key")
	k, err := LoadOrCreateKey(path)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("created with mode %04o, want 0600", fi.Mode().Perm())
	}
	again, err := LoadOrCreateKey(path)
	if err != nil || again != k {
		t.Fatalf("reload = %v, %v; want %v", again, err, k)
	}
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadOrCreateKey(path); err == nil || !strings.Contains(err.Error(), "group or others") {
		t.Errorf("mode 0644: error %v, want a refusal", err)
	}
	bad := filepath.Join(t.TempDir(), "bad.key")
	if err := os.WriteFile(bad, []byte("AAAA\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadOrCreateKey(bad); !errors.Is(err, ErrBadKey) {
		t.Errorf("short key file: error %v, want ErrBadKey", err)
	}
}
