package identity

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-tpm/tpm2/transport"

	"github.com/goleudy/goleudy/provision/envelope"
)

// These tests run against the real swtpm TPM 2.0 emulator
// (apt-get install swtpm); they fail without it.

func loadWith(t *testing.T, dir string, tpm *swtpm) (*Identity, error) {
	t.Helper()
	return Load(Options{Dir: dir, OpenTPM: tpm.open, Log: testLog(t)})
}

func TestTPMCreateAndReboot(t *testing.T) {
	board := filepath.Join(t.TempDir(), "tpm")
	dir := filepath.Join(t.TempDir(), "state")
	tpm := startSwtpm(t, board)

	id, err := loadWith(t, dir, tpm)
	if err != nil {
		t.Fatal(err)
	}
	if id.Protected() != ProtectedTPM {
		t.Errorf("Protected() = %q, want %q", id.Protected(), ProtectedTPM)
	}
	if _, err := os.Stat(filepath.Join(dir, KeyFile)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a plain %s exists next to the sealed identity (%v)", KeyFile, err)
	}
	sealedFile := filepath.Join(dir, SealedFile)
	data, err := os.ReadFile(sealedFile)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(data, id.Private().Seed()) {
		t.Fatalf("%s holds the seed in clear", SealedFile)
	}
	if fi, _ := os.Stat(sealedFile); fi.Mode().Perm() != 0o600 {
		t.Errorf("%s mode %04o, want 0600", SealedFile, fi.Mode().Perm())
	}
	pub, err := envelope.LoadPublicKey(filepath.Join(dir, PubFile))
	if err != nil || !pub.Equal(id.Public()) {
		t.Errorf("%s: %v; want the identity's public key", PubFile, err)
	}

	// A new connection to the same TPM.
	again, err := loadWith(t, dir, tpm)
	if err != nil {
		t.Fatal(err)
	}
	if !again.Private().Equal(id.Private()) {
		t.Fatal("second Load on the same TPM gave another key")
	}

	// Power cycle: the emulator restarts from its state directory.
	tpm.stop()
	tpm = startSwtpm(t, board)
	rebooted, err := loadWith(t, dir, tpm)
	if err != nil {
		t.Fatal(err)
	}
	if !rebooted.Private().Equal(id.Private()) {
		t.Fatal("Load after a TPM restart gave another key")
	}
	if rebooted.WireGuardKey() != id.WireGuardKey() {
		t.Fatal("WireGuard key changed across a reboot")
	}
	after, err := os.ReadFile(sealedFile)
	if err != nil || !bytes.Equal(after, data) {
		t.Errorf("%s was rewritten by a plain reboot (%v)", SealedFile, err)
	}
}

// A node that had its key in a file keeps it when a TPM appears.
func TestTPMMigratesFileKey(t *testing.T) {
	dir := t.TempDir()
	old, err := envelope.NewKeyPair(filepath.Join(dir, "identity")) // as mgmt made it
	if err != nil {
		t.Fatal(err)
	}
	tpm := startSwtpm(t, filepath.Join(t.TempDir(), "tpm"))
	id, err := loadWith(t, dir, tpm)
	if err != nil {
		t.Fatal(err)
	}
	if !id.Public().Equal(old) {
		t.Fatal("migration changed the identity; the server has the old one bound")
	}
	if id.Protected() != ProtectedTPM {
		t.Errorf("Protected() = %q after migration", id.Protected())
	}
	if _, err := os.Stat(filepath.Join(dir, KeyFile)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("plain key still there after migration (%v)", err)
	}
	again, err := loadWith(t, dir, tpm)
	if err != nil {
		t.Fatal(err)
	}
	if !again.Public().Equal(old) {
		t.Fatal("Load after migration gave another key")
	}
}

// A migration cut short after identity.tpm was written leaves the plain
// key behind; the next boot finishes it. A plain key that differs is not
// resolved by guessing.
func TestTPMLeftoverPlainKey(t *testing.T) {
	dir := t.TempDir()
	tpm := startSwtpm(t, filepath.Join(t.TempDir(), "tpm"))
	id, err := loadWith(t, dir, tpm)
	if err != nil {
		t.Fatal(err)
	}
	key := filepath.Join(dir, KeyFile)
	if err := writeKey(key, id.Private()); err != nil {
		t.Fatal(err)
	}
	if _, err := loadWith(t, dir, tpm); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(key); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("leftover plain key not removed (%v)", err)
	}

	other, _ := newKey()
	if err := writeKey(key, other); err != nil {
		t.Fatal(err)
	}
	_, err = loadWith(t, dir, tpm)
	if !errors.Is(err, ErrMismatch) {
		t.Fatalf("got %v, want ErrMismatch", err)
	}
	if _, err := os.Stat(key); err != nil {
		t.Errorf("the differing plain key was removed: %v", err)
	}
}

// The card moved to another board: another TPM cannot unseal, and Load
// says so instead of making a new identity.
func TestTPMOtherBoard(t *testing.T) {
	dir := t.TempDir()
	first := startSwtpm(t, filepath.Join(t.TempDir(), "tpm-a"))
	id, err := loadWith(t, dir, first)
	if err != nil {
		t.Fatal(err)
	}
	sealedFile := filepath.Join(dir, SealedFile)
	before, _ := os.ReadFile(sealedFile)

	second := startSwtpm(t, filepath.Join(t.TempDir(), "tpm-b"))
	_, err = loadWith(t, dir, second)
	if !errors.Is(err, ErrOtherTPM) {
		t.Fatalf("got %v, want ErrOtherTPM", err)
	}
	if !strings.Contains(err.Error(), sealedFile) {
		t.Errorf("error %q does not name %s", err, sealedFile)
	}
	after, _ := os.ReadFile(sealedFile)
	if !bytes.Equal(before, after) {
		t.Fatal("the sealed identity was replaced on the other board")
	}
	if _, err := os.Stat(filepath.Join(dir, KeyFile)); err == nil {
		t.Fatal("a new plain identity was made on the other board")
	}

	// The same file edited to name the other board's SRK still fails:
	// that TPM refuses the blob.
	s, err := parseSealed(before)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := second.open()
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	srk, err := createSRK(conn)
	if err != nil {
		t.Fatal(err)
	}
	defer srk.flush()
	s.srkName = srk.name.Buffer
	if _, err := srk.unseal(s); !errors.Is(err, ErrBadSealed) || !strings.Contains(err.Error(), "INTEGRITY") {
		t.Fatalf("unseal under another SRK: got %v, want ErrBadSealed from TPM_RC_INTEGRITY", err)
	}

	// Back on its own board, it is still the same node.
	back, err := loadWith(t, dir, first)
	if err != nil {
		t.Fatal(err)
	}
	if !back.Private().Equal(id.Private()) {
		t.Fatal("identity changed")
	}
}

// A sealed file that is damaged is reported as such, naming the file.
func TestTPMCorruptSealed(t *testing.T) {
	dir := t.TempDir()
	tpm := startSwtpm(t, filepath.Join(t.TempDir(), "tpm"))
	if _, err := loadWith(t, dir, tpm); err != nil {
		t.Fatal(err)
	}
	sealedFile := filepath.Join(dir, SealedFile)
	data, _ := os.ReadFile(sealedFile)

	// Flip a bit in the encrypted private part: the TPM's integrity check
	// catches it.
	s, _ := parseSealed(data)
	s.private[len(s.private)-1] ^= 1
	if err := os.WriteFile(sealedFile, s.marshal(), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := loadWith(t, dir, tpm)
	if !errors.Is(err, ErrBadSealed) || !strings.Contains(err.Error(), "integrity") {
		t.Errorf("tampered private: got %v, want ErrBadSealed saying integrity", err)
	}

	// A wrong identity public key in the file: unsealing works but the
	// result is not the node the file claims.
	s, _ = parseSealed(data)
	s.identity = bytes.Repeat([]byte{7}, ed25519.PublicKeySize)
	if err := os.WriteFile(sealedFile, s.marshal(), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = loadWith(t, dir, tpm)
	if !errors.Is(err, ErrBadSealed) || !strings.Contains(err.Error(), sealedFile) {
		t.Errorf("got %v, want ErrBadSealed naming %s", err, sealedFile)
	}

	if err := os.WriteFile(sealedFile, []byte("garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = loadWith(t, dir, tpm)
	if !errors.Is(err, ErrBadSealed) || !strings.Contains(err.Error(), sealedFile) {
		t.Errorf("got %v, want ErrBadSealed naming %s", err, sealedFile)
	}
}

// An OpenTPM that connects to something that is not a TPM is an error
// when the TPM was asked for explicitly.
func TestTPMBrokenExplicit(t *testing.T) {
	dir := t.TempDir()
	_, err := Load(Options{Dir: dir, Log: testLog(t), OpenTPM: func() (transport.TPMCloser, error) {
		return brokenTPM{}, nil
	}})
	if err == nil || !strings.Contains(err.Error(), "CreatePrimary") {
		t.Fatalf("got %v, want a CreatePrimary error", err)
	}
	if _, err := os.Stat(filepath.Join(dir, KeyFile)); err == nil {
		t.Error("fell back to a file although the TPM was asked for")
	}
}

type brokenTPM struct{}

func (brokenTPM) Send([]byte) ([]byte, error) { return nil, errors.New("bus error") }
func (brokenTPM) Close() error                { return nil }
