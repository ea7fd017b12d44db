// Package identity is the node's ed25519 identity key, made at first boot.
//
// The identity is what the provisioning server binds a node to at
// enrollment: it signs the enrollment request, and the node's WireGuard
// key for the management tunnel is derived from it ([Identity.WireGuardKey]).
// So it must survive every reboot and update, must never be replaced
// silently (the server would no longer recognise the node), and should not
// be usable by whoever pulls the SD card out of a node in a rack they do not
// control.
//
// [Load] keeps it in the state directory in one of two forms:
//
//	identity.key  PEM PKCS#8 ed25519 private key, mode 0600 ("file"). The
//	              format services/mgmt has always written, so old state
//	              directories keep their identity.
//	identity.tpm  the 32-byte ed25519 seed sealed by a TPM 2.0 ("tpm"); see
//	              sealed.go for the byte layout.
//	identity.pub  PEM PKIX public key, for people and scripts to read. It is
//	              written in both forms and never trusted on load.
//
// TPMs cannot do ed25519, so the TPM does not hold a signing key: it seals
// the seed as a KEYEDHASH data object under the storage root key (SRK), an
// ECC P-256 primary key in the owner hierarchy that CreatePrimary re-derives
// from the TPM's owner seed at every boot without using any NV storage. A
// sealed object can be loaded only under the SRK it was made under, so
// identity.tpm is useless on another board: copying the card to another
// node (or clearing the TPM) yields [ErrOtherTPM] rather than a second node
// with the same identity. The key is never silently replaced in that case.
//
// What the TPM protects is the key at rest. Once unsealed at boot the seed
// is in the node's memory like any other key; the seal is not bound to PCRs
// because A/B updates change the measured boot chain, and a node that cannot
// unseal its identity after an update cannot reach its operator to be fixed.
//
// The seed travels between the TPM and the CPU encrypted (a session salted
// with the SRK and AES-CFB parameter encryption), because TPMs on Raspberry
// Pi HATs sit on an SPI bus anyone with a probe can read.
//
// When a TPM first appears on a node that already has identity.key (a TPM
// HAT added later, or a firmware update that enables the TPM), Load seals
// the existing key, checks it unseals, and only then removes the plain file:
// the server has that key bound, so it must be kept.
package identity
