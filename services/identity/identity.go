package identity

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/google/go-tpm/tpm2/transport"
)

// File names in the state directory.
const (
	KeyFile    = "identity.key"
	PubFile    = "identity.pub"
	SealedFile = "identity.tpm"
)

// NoTPM as Options.TPM keeps the identity in a file even if a TPM exists.
const NoTPM = "none"

// Protection values reported by [Identity.Protected].
const (
	ProtectedTPM  = "tpm"
	ProtectedFile = "file"
)

var (
	// ErrOtherTPM means identity.tpm was sealed by a different TPM (the
	// storage card moved to another board) or by this one before it was
	// cleared. The identity cannot be recovered on this board, and Load
	// does not make a new one: the operator decides.
	ErrOtherTPM = errors.New("identity sealed by another TPM (card moved to another board, or TPM cleared)")
	// ErrNoTPM means identity.tpm exists but no TPM could be opened.
	ErrNoTPM = errors.New("identity is sealed to a TPM but no TPM is available")
	// ErrBadSealed is wrapped by every error about the content of
	// identity.tpm.
	ErrBadSealed = errors.New("malformed sealed identity")
	// ErrMismatch means identity.key and identity.tpm both exist and
	// hold different keys.
	ErrMismatch = errors.New("identity.key and identity.tpm hold different keys")
)

// Options configure Load.
type Options struct {
	// Dir is the state directory. It is created (mode 0700) if missing.
	Dir string
	// TPM is the TPM device, e.g. /dev/tpmrm0. Empty probes /dev/tpmrm0
	// then /dev/tpm0; a node without either keeps its key in a file.
	// NoTPM ("none") never uses one, e.g. for a node run as an ordinary
	// process in a lab.
	TPM string
	// OpenTPM, if set, opens the TPM instead of TPM or probing (tests use
	// it to connect to swtpm).
	OpenTPM func() (transport.TPMCloser, error)
	// Log receives what Load decided: created, migrated, fell back.
	// Default: discarded.
	Log *slog.Logger
}

// Identity is the node's ed25519 key. It is immutable and safe for
// concurrent use.
type Identity struct {
	priv      ed25519.PrivateKey
	protected string
}

// Private returns the private key.
func (id *Identity) Private() ed25519.PrivateKey { return id.priv }

// Public returns the public key, the one the server binds the node to.
func (id *Identity) Public() ed25519.PublicKey { return id.priv.Public().(ed25519.PublicKey) }

// Protected says how the key is kept at rest: ProtectedTPM or
// ProtectedFile.
func (id *Identity) Protected() string { return id.protected }

// Load returns the node's identity from o.Dir, creating it at first boot.
//
// With no TPM it loads or creates identity.key. With a TPM it unseals
// identity.tpm, or seals identity.key into it (migration, removing the
// plain file), or seals a new key. A sealed identity that this TPM cannot
// unseal is ErrOtherTPM; a sealed identity with no TPM is ErrNoTPM.
//
// When the TPM was found by probing (o.TPM and o.OpenTPM unset) and there
// is no identity.tpm yet, a TPM that fails (a TPM 1.2 at /dev/tpm0, a
// broken HAT) is logged and the key is kept in a file; once a key is
// sealed, every TPM failure is an error.
func Load(o Options) (*Identity, error) {
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Dir == "" {
		return nil, errors.New("identity: no state directory given")
	}
	if err := os.MkdirAll(o.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("identity: create state directory: %w", err)
	}
	l := layout{
		key:    filepath.Join(o.Dir, KeyFile),
		pub:    filepath.Join(o.Dir, PubFile),
		sealed: filepath.Join(o.Dir, SealedFile),
	}
	sealedExists, err := exists(l.sealed)
	if err != nil {
		return nil, err
	}
	explicit := o.OpenTPM != nil || (o.TPM != "" && o.TPM != NoTPM)
	t, where, err := openTPM(o)
	switch {
	case err != nil && (explicit || sealedExists):
		if sealedExists {
			return nil, fmt.Errorf("identity: %s: %w: %v", l.sealed, ErrNoTPM, err)
		}
		return nil, err
	case err != nil:
		o.Log.Warn("TPM found but unusable; keeping the identity in a file", "err", err)
	case t == nil && sealedExists && o.TPM == NoTPM:
		return nil, fmt.Errorf("identity: %s: %w (Options.TPM is %q)", l.sealed, ErrNoTPM, NoTPM)
	case t == nil && sealedExists:
		return nil, fmt.Errorf("identity: %s: %w (looked for %v)", l.sealed, ErrNoTPM, devices)
	}
	if t == nil {
		return loadFile(l, o.Log)
	}
	defer t.Close()
	id, err := loadTPM(t, l, o.Log)
	var first *firstSealError
	if err != nil && !explicit && !sealedExists && errors.As(err, &first) {
		// Nothing is sealed yet, so nothing is lost by not using a TPM
		// that was only probed; the next boot tries again.
		o.Log.Warn("TPM unusable; keeping the identity in a file", "tpm", where, "err", err)
		return loadFile(l, o.Log)
	}
	return id, err
}

// layout is where the identity's files are.
type layout struct{ key, pub, sealed string }

func exists(name string) (bool, error) {
	_, err := os.Lstat(name)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, fs.ErrNotExist):
		return false, nil
	default:
		return false, fmt.Errorf("identity: %w", err)
	}
}

// openTPM opens the TPM that o names, or probes for one. A nil TPM and nil
// error mean there is none. where says which one it was, for logs.
func openTPM(o Options) (t transport.TPMCloser, where string, err error) {
	switch {
	case o.OpenTPM != nil:
		t, err = o.OpenTPM()
		if err != nil {
			return nil, "", fmt.Errorf("identity: open TPM: %w", err)
		}
		return t, "Options.OpenTPM", nil
	case o.TPM == NoTPM:
		return nil, "", nil
	case o.TPM != "":
		t, err = openDevice(o.TPM)
		if err != nil {
			return nil, "", fmt.Errorf("identity: open TPM %s: %w", o.TPM, err)
		}
		return t, o.TPM, nil
	}
	for _, dev := range devices {
		if _, err := os.Stat(dev); errors.Is(err, fs.ErrNotExist) {
			continue
		}
		t, err = openDevice(dev)
		if err != nil {
			return nil, "", fmt.Errorf("identity: open TPM %s: %w", dev, err)
		}
		return t, dev, nil
	}
	return nil, "", nil
}
