package identity

import (
	"crypto/ed25519"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-tpm/tpm2/transport"

	"github.com/goleudy/goleudy/provision/envelope"
)

func loadFileOnly(t *testing.T, dir string) (*Identity, error) {
	t.Helper()
	return Load(Options{Dir: dir, TPM: NoTPM, Log: testLog(t)})
}

func TestFileCreateAndReload(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	id, err := loadFileOnly(t, dir)
	if err != nil {
		t.Fatal(err)
	}
	if id.Protected() != ProtectedFile {
		t.Errorf("Protected() = %q, want %q", id.Protected(), ProtectedFile)
	}
	if !id.Private().Public().(ed25519.PublicKey).Equal(id.Public()) {
		t.Error("Public() is not the public half of Private()")
	}
	fi, err := os.Stat(filepath.Join(dir, KeyFile))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("%s has mode %04o, want 0600", KeyFile, fi.Mode().Perm())
	}
	if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("state dir: %v, mode %v; want 0700", err, fi.Mode())
	}
	again, err := loadFileOnly(t, dir)
	if err != nil {
		t.Fatal(err)
	}
	if !again.Private().Equal(id.Private()) {
		t.Error("second Load made a different key")
	}
	pub, err := envelope.LoadPublicKey(filepath.Join(dir, PubFile))
	if err != nil {
		t.Fatal(err)
	}
	if !pub.Equal(id.Public()) {
		t.Errorf("%s does not hold the identity's public key", PubFile)
	}
}

// The files services/mgmt wrote (through provision/envelope) are read as
// they are, and what Load writes envelope can read.
func TestFileCompatibleWithMgmt(t *testing.T) {
	dir := t.TempDir()
	pub, err := envelope.NewKeyPair(filepath.Join(dir, "identity"))
	if err != nil {
		t.Fatal(err)
	}
	id, err := loadFileOnly(t, dir)
	if err != nil {
		t.Fatal(err)
	}
	if !id.Public().Equal(pub) {
		t.Fatal("Load did not keep the identity mgmt made")
	}

	dir2 := t.TempDir()
	id2, err := loadFileOnly(t, dir2)
	if err != nil {
		t.Fatal(err)
	}
	priv, err := envelope.LoadPrivateKey(filepath.Join(dir2, KeyFile))
	if err != nil {
		t.Fatalf("envelope cannot read the key Load wrote: %v", err)
	}
	if !priv.Equal(id2.Private()) {
		t.Fatal("envelope reads a different key")
	}
}

func TestFileLooseModeTightened(t *testing.T) {
	dir := t.TempDir()
	id, err := loadFileOnly(t, dir)
	if err != nil {
		t.Fatal(err)
	}
	key := filepath.Join(dir, KeyFile)
	if err := os.Chmod(key, 0o644); err != nil {
		t.Fatal(err)
	}
	again, err := loadFileOnly(t, dir)
	if err != nil {
		t.Fatal(err)
	}
	if !again.Private().Equal(id.Private()) {
		t.Error("different key after chmod")
	}
	if fi, _ := os.Stat(key); fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %04o after Load, want 0600", fi.Mode().Perm())
	}
}

func TestFileBad(t *testing.T) {
	otherPEM := "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEAGb9ECWmEzf6FQbrBZ9w7lshQhqowtrbLDFw4rXAxZuE=\n-----END PUBLIC KEY-----\n"
	for _, c := range []struct {
		name, content, want string
	}{
		{"garbage", "not a key at all\n", "no PEM block"},
		{"empty", "", "no PEM block"},
		{"wrong block", otherPEM, `holds a PEM "PUBLIC KEY"`},
		{"bad der", "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n", "not a PKCS#8 private key"},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			key := filepath.Join(dir, KeyFile)
			if err := os.WriteFile(key, []byte(c.content), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := loadFileOnly(t, dir)
			if err == nil {
				t.Fatal("Load accepted a corrupt key file")
			}
			if !strings.Contains(err.Error(), key) || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %q should name %s and say %q", err, key, c.want)
			}
			if b, _ := os.ReadFile(key); string(b) != c.content {
				t.Error("Load replaced a corrupt key: the server would no longer know the node")
			}
		})
	}
	t.Run("directory", func(t *testing.T) {
		dir := t.TempDir()
		if err := os.Mkdir(filepath.Join(dir, KeyFile), 0o700); err != nil {
			t.Fatal(err)
		}
		_, err := loadFileOnly(t, dir)
		if err == nil || !strings.Contains(err.Error(), "not a regular file") {
			t.Errorf("got %v, want a not-a-regular-file error", err)
		}
	})
	t.Run("no dir", func(t *testing.T) {
		if _, err := Load(Options{}); err == nil {
			t.Error("Load with no Dir succeeded")
		}
	})
}

// A sealed identity with no TPM to unseal it is an error, never a new key.
func TestSealedWithoutTPM(t *testing.T) {
	dir := t.TempDir()
	sealedFile := filepath.Join(dir, SealedFile)
	if err := os.WriteFile(sealedFile, validSealed().marshal(), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tpm := range []string{NoTPM, filepath.Join(dir, "no-such-tpm")} {
		_, err := Load(Options{Dir: dir, TPM: tpm, Log: testLog(t)})
		if !errors.Is(err, ErrNoTPM) {
			t.Errorf("TPM %q: got %v, want ErrNoTPM", tpm, err)
		}
		if _, err := os.Stat(filepath.Join(dir, KeyFile)); err == nil {
			t.Fatalf("TPM %q: Load made a plain key next to a sealed one", tpm)
		}
	}
}

func TestExplicitTPMMissing(t *testing.T) {
	dir := t.TempDir()
	_, err := Load(Options{Dir: dir, TPM: filepath.Join(dir, "tpm0"), Log: testLog(t)})
	if err == nil || !strings.Contains(err.Error(), "tpm0") {
		t.Errorf("got %v, want an error naming the missing device", err)
	}
	_, err = Load(Options{Dir: dir, OpenTPM: func() (transport.TPMCloser, error) { return nil, errors.New("boom") }})
	if err == nil || !strings.Contains(err.Error(), "boom") {
		t.Errorf("got %v, want the OpenTPM error", err)
	}
}

// A TPM found by probing that does not work (here /dev/null, a device
// that answers nothing, and a file that is not a device) does not stop a
// node that has nothing sealed yet: its key stays in a file. Once a key
// is sealed, the same failure is an error.
func TestProbedTPMUnusable(t *testing.T) {
	saved := devices
	t.Cleanup(func() { devices = saved })
	notDevice := filepath.Join(t.TempDir(), "tpm0")
	if err := os.WriteFile(notDevice, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, dev := range []string{"/dev/null", notDevice} {
		t.Run(filepath.Base(dev), func(t *testing.T) {
			devices = []string{filepath.Join(t.TempDir(), "absent"), dev}
			dir := t.TempDir()
			id, err := Load(Options{Dir: dir, Log: testLog(t)})
			if err != nil {
				t.Fatal(err)
			}
			if id.Protected() != ProtectedFile {
				t.Errorf("Protected() = %q, want %q", id.Protected(), ProtectedFile)
			}
			if err := os.WriteFile(filepath.Join(dir, SealedFile), validSealed().marshal(), 0o600); err != nil {
				t.Fatal(err)
			}
			if _, err := Load(Options{Dir: dir, Log: testLog(t)}); err == nil {
				t.Error("Load fell back to the plain key although an identity is sealed")
			}
		})
	}
}
