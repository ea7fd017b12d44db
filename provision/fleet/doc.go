// Package fleet is the provisioning server's fleet store: the one place where
// the operator's intent for every node lives. It holds the node documents
// (config contract fragments plus in-service date and notes), the fleet
// defaults merged under every node, the customer zones every node serves,
// single-use enrollment tokens, the management tunnel peers, release
// metadata and an append-only audit log.
//
// Data flow: the operator CLI and REST API change the store; Render merges
// defaults, node document, customer zones and tunnel address into a complete
// config.Config that the server signs and nodes fetch. Every change bumps one
// fleet-wide serial in the same transaction that records the audit entry, so
// a node can tell a newer config from a replay and a change is never stored
// without its audit line. Bad input is refused whole, with errors that name
// the field (config.Errors), and nothing is written half-way.
//
// The store is a single bbolt file under the server's data dir. It is pure
// Go, needs no daemon, and allows one server process at a time (the file is
// locked).
//
// # Standby takeover
//
// A standby server needs only the store file and the fleet keys. Either:
//
//   - restore a backup: copy the file written by Backup (or BackupFile) to
//     the standby's data dir as the store file and start the server; it is
//     a consistent bbolt snapshot, byte for byte a store; or
//   - import an export: start the standby with an empty store and Import
//     the JSON written by Export. The result exports byte-identical JSON.
//
// Either way the serial continues from where the primary left it, so nodes
// accept the standby's next config as newer. Take the primary out of service
// first: two servers bumping the same serial would hand nodes different
// configs with the same number.
//
// Backups and exports hold the fleet's TSIG and BGP secrets (enrollment token
// secrets are never stored), so keep them mode 0600 like the store itself.
package fleet
