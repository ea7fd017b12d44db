package identity

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/google/go-tpm/tpm2"
	"github.com/google/go-tpm/tpm2/transport"

	"github.com/goleudy/goleudy/services/statedir"
)

// sealTemplate is the sealed data object: a KEYEDHASH with no scheme, that
// can never be duplicated off its TPM or moved to another parent. Its auth
// value is empty: the protection is that only this TPM can load it. NoDA
// keeps a boot loop from tripping the TPM's dictionary-attack lockout.
var sealTemplate = tpm2.TPMTPublic{
	Type:    tpm2.TPMAlgKeyedHash,
	NameAlg: tpm2.TPMAlgSHA256,
	ObjectAttributes: tpm2.TPMAObject{
		FixedTPM:     true,
		FixedParent:  true,
		UserWithAuth: true,
		NoDA:         true,
	},
	Parameters: tpm2.NewTPMUPublicParms(tpm2.TPMAlgKeyedHash, &tpm2.TPMSKeyedHashParms{
		Scheme: tpm2.TPMTKeyedHashScheme{Scheme: tpm2.TPMAlgNull},
	}),
}

// firstSealError marks a TPM failure before anything was sealed, which
// Load may survive by keeping the key in a file when the TPM was only
// probed for.
type firstSealError struct{ err error }

func (e *firstSealError) Error() string { return e.err.Error() }
func (e *firstSealError) Unwrap() error { return e.err }

// loadTPM unseals identity.tpm, or creates it from identity.key or a new
// key.
func loadTPM(t transport.TPM, l layout, log *slog.Logger) (*Identity, error) {
	data, err := os.ReadFile(l.sealed)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return sealFirst(t, l, log)
	case err != nil:
		return nil, fmt.Errorf("identity: %w", err)
	}
	s, err := parseSealed(data)
	if err != nil {
		return nil, fmt.Errorf("identity: %s: %w", l.sealed, err)
	}
	srk, err := createSRK(t)
	if err != nil {
		return nil, err
	}
	defer srk.flush()
	priv, err := srk.unseal(s)
	if err != nil {
		return nil, fmt.Errorf("identity: %s: %w", l.sealed, err)
	}
	if err := dropPlain(l, priv, log); err != nil {
		return nil, err
	}
	if err := writePub(l.pub, priv, log); err != nil {
		return nil, err
	}
	return &Identity{priv: priv, protected: ProtectedTPM}, nil
}

// sealFirst seals identity.key (migration) or a new key into
// identity.tpm. The sealed file is written only after it has been shown
// to unseal, and the plain key removed only after that write.
func sealFirst(t transport.TPM, l layout, log *slog.Logger) (*Identity, error) {
	priv, err := readKey(l.key, log)
	migrating := err == nil
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if priv, err = newKey(); err != nil {
			return nil, err
		}
	case err != nil:
		return nil, err
	}
	srk, err := createSRK(t)
	if err != nil {
		return nil, &firstSealError{err}
	}
	defer srk.flush()
	s, err := srk.seal(priv)
	if err != nil {
		return nil, &firstSealError{err}
	}
	back, err := srk.unseal(s)
	if err != nil {
		return nil, &firstSealError{fmt.Errorf("identity: check the new seal: %w", err)}
	}
	if !back.Equal(priv) {
		return nil, &firstSealError{errors.New("identity: check the new seal: the TPM unsealed a different key")}
	}
	if err := statedir.WriteFile(l.sealed, s.marshal(), 0o600); err != nil {
		return nil, fmt.Errorf("identity: %w", err)
	}
	if err := writePub(l.pub, priv, log); err != nil {
		return nil, err
	}
	if migrating {
		if err := removePlain(l.key); err != nil {
			return nil, err
		}
		log.Info("identity migrated into the TPM; plain key removed", "file", l.sealed, "removed", l.key, "public", pubString(priv))
	} else {
		log.Info("identity created and sealed by the TPM", "file", l.sealed, "public", pubString(priv))
	}
	return &Identity{priv: priv, protected: ProtectedTPM}, nil
}

// dropPlain removes an identity.key left by a migration that was cut
// short after identity.tpm was written. A plain key that differs from the
// sealed one is not ours to choose between.
func dropPlain(l layout, sealedKey ed25519.PrivateKey, log *slog.Logger) error {
	plain, err := readKey(l.key, log)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case err != nil:
		return err
	case !plain.Equal(sealedKey):
		return fmt.Errorf("identity: %s (%s) and %s (%s): %w; keep the one the server has bound and remove the other",
			l.key, pubString(plain), l.sealed, pubString(sealedKey), ErrMismatch)
	}
	if err := removePlain(l.key); err != nil {
		return err
	}
	log.Info("finished migrating the identity into the TPM; plain key removed", "removed", l.key)
	return nil
}

// removePlain removes the plain key and syncs the directory, so that the
// removal is as durable as the sealed file written before it.
func removePlain(name string) error {
	if err := os.Remove(name); err != nil {
		return fmt.Errorf("identity: remove plain key after sealing: %w", err)
	}
	d, err := os.Open(filepath.Dir(name))
	if err != nil {
		return fmt.Errorf("identity: sync %s: %w", filepath.Dir(name), err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("identity: sync %s: %w", filepath.Dir(name), err)
	}
	return nil
}

// srk is the storage root key, loaded for the duration of Load.
type srk struct {
	t      transport.TPM
	handle tpm2.TPMHandle
	name   tpm2.TPM2BName
	pub    tpm2.TPMTPublic
}

// createSRK derives the SRK from the owner seed with the TCG reference ECC
// P-256 template: the same TPM gives the same key (and name) every boot,
// and no NV index or persistent handle is used.
func createSRK(t transport.TPM) (*srk, error) {
	rsp, err := tpm2.CreatePrimary{
		PrimaryHandle: tpm2.TPMRHOwner,
		InPublic:      tpm2.New2B(tpm2.ECCSRKTemplate),
	}.Execute(t)
	if err != nil {
		return nil, fmt.Errorf("identity: TPM CreatePrimary (SRK): %w", err)
	}
	s := &srk{t: t, handle: rsp.ObjectHandle, name: rsp.Name}
	pub, err := rsp.OutPublic.Contents()
	if err != nil {
		s.flush()
		return nil, fmt.Errorf("identity: TPM CreatePrimary (SRK): public area: %w", err)
	}
	s.pub = *pub
	return s, nil
}

// flush unloads the SRK. An error leaves a transient object that the
// resource manager flushes when we close the TPM, so it is ignored.
func (s *srk) flush() {
	_, _ = tpm2.FlushContext{FlushHandle: s.handle}.Execute(s.t)
}

// session is a one-use HMAC session salted with the SRK, encrypting the
// first parameter in the given direction, so the seed never crosses the
// bus in clear.
func (s *srk) session(dir tpm2.AuthOption) tpm2.Session {
	return tpm2.HMAC(tpm2.TPMAlgSHA256, 16, dir, tpm2.Salted(s.handle, s.pub))
}

func (s *srk) seal(priv ed25519.PrivateKey) (sealed, error) {
	rsp, err := tpm2.Create{
		ParentHandle: tpm2.AuthHandle{
			Handle: s.handle,
			Name:   s.name,
			Auth:   s.session(tpm2.AESEncryption(128, tpm2.EncryptIn)),
		},
		InSensitive: tpm2.TPM2BSensitiveCreate{
			Sensitive: &tpm2.TPMSSensitiveCreate{
				Data: tpm2.NewTPMUSensitiveCreate(&tpm2.TPM2BSensitiveData{Buffer: priv.Seed()}),
			},
		},
		InPublic: tpm2.New2B(sealTemplate),
	}.Execute(s.t)
	if err != nil {
		return sealed{}, fmt.Errorf("identity: TPM Create (seal): %w", err)
	}
	return sealed{
		srkName:  bytes.Clone(s.name.Buffer),
		public:   bytes.Clone(rsp.OutPublic.Bytes()),
		private:  bytes.Clone(rsp.OutPrivate.Buffer),
		identity: priv.Public().(ed25519.PublicKey),
	}, nil
}

// unseal loads x under the SRK and unseals the seed. Another TPM (or this
// one cleared) has another SRK name, checked before asking the TPM
// anything; with the right SRK, a blob the TPM refuses has been damaged.
func (s *srk) unseal(x sealed) (ed25519.PrivateKey, error) {
	if !bytes.Equal(x.srkName, s.name.Buffer) {
		return nil, fmt.Errorf("%w: sealed under SRK %x, this TPM's is %x", ErrOtherTPM, x.srkName, s.name.Buffer)
	}
	lr, err := tpm2.Load{
		ParentHandle: tpm2.AuthHandle{Handle: s.handle, Name: s.name, Auth: tpm2.PasswordAuth(nil)},
		InPrivate:    tpm2.TPM2BPrivate{Buffer: x.private},
		InPublic:     tpm2.BytesAs2B[tpm2.TPMTPublic](x.public),
	}.Execute(s.t)
	if errors.Is(err, tpm2.TPMRCIntegrity) {
		// The SRK is the one the file names, so the TPM is right and the
		// blob is not what it sealed.
		return nil, fmt.Errorf("%w: the TPM's integrity check failed, the file is damaged or was altered: %v", ErrBadSealed, err)
	}
	if err != nil {
		return nil, fmt.Errorf("TPM Load (sealed identity): %w", err)
	}
	defer func() { _, _ = tpm2.FlushContext{FlushHandle: lr.ObjectHandle}.Execute(s.t) }()
	ur, err := tpm2.Unseal{
		ItemHandle: tpm2.AuthHandle{
			Handle: lr.ObjectHandle,
			Name:   lr.Name,
			Auth:   s.session(tpm2.AESEncryption(128, tpm2.EncryptOut)),
		},
	}.Execute(s.t)
	if err != nil {
		return nil, fmt.Errorf("TPM Unseal: %w", err)
	}
	seed := ur.OutData.Buffer
	if len(seed) != ed25519.SeedSize {
		return nil, fmt.Errorf("%w: unsealed %d bytes, want a %d-byte ed25519 seed", ErrBadSealed, len(seed), ed25519.SeedSize)
	}
	priv := ed25519.NewKeyFromSeed(seed)
	if !priv.Public().(ed25519.PublicKey).Equal(x.identity) {
		return nil, fmt.Errorf("%w: unsealed key %s, file says %s", ErrBadSealed, pubString(priv), pubKeyString(x.identity))
	}
	return priv, nil
}
