// Package fleet is the provisioning server's fleet store: the one place where
// the operator's intent for every node lives. It holds the node documents
// (config contract fragments plus in-service date and notes), the fleet
// defaults merged under every node, the customer zones every node serves,
// single-use enrollment tokens, the management tunnel peers, release
// metadata, the current rollout and an append-only audit log.
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
// # Releases and rollouts
//
// A release is one board's signed build (the server keeps the bundle file;
// the store keeps its manifest: board, version, monotonic build number,
// the slot image's sha256 and size). A board's build numbers only grow,
// unless the manifest was signed as a downgrade, and a version names one
// build per board, so "roll out v2" means each board's build of v2.
//
// A rollout is how a version reaches the fleet without the operator
// touching a node. StartRollout picks its targets: every live node whose
// board has a build of the version. Nodes in maintenance or drained, nodes
// of a board without that version, and nodes whose config has no
// management config URL are left out and listed with the reason; a
// maintenance node is not serving, so its commit would prove little, and
// the operator parked it for a reason. The first N targets are canaries:
// nodes the server heard from lately first, then the rest, each group by
// node id. The rollout then moves through its phases:
//
//	canary  only the canaries' configs carry the release (config.Update)
//	all     once every canary committed it: every target's config does
//	done    once every target committed it
//	halted  a target reported rolled_back or refused for the build, or
//	        failed after switching to it, or the operator halted it
//
// A halted rollout stops offering the build to nodes that have not
// committed it; those that have keep it as their desired release, so a
// halt never pulls a good node back. Nodes report through their
// heartbeats (ReportUpdate): a commit, a phase change or a halt bumps the
// serial (every node's config long poll answers) and writes an audit
// entry; download and trial progress is stored without either. Starting
// a rollout while one runs needs Force; a done or halted one is simply
// replaced. The rollout is one record in the store, so a restarted server
// carries on in the same phase.
//
// # Standby takeover
//
// A standby server needs only the store file and the fleet keys (and the
// server's release bundles, which the store names but does not hold).
// Either:
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
