// Package logring keeps the node's recent log in memory so the operator can
// read it over the management tunnel.
//
// A node sits at a volunteer's site, usually without anyone at its console,
// and its disk (an SD card, often) is not something to write a log to all
// day. So the node logs to its console as usual and, through a [Ring], also
// keeps the last records in a bounded ring buffer in RAM; the admin API
// serves them at /v1/log. The data flow is
//
//	services ──slog──▶ Ring.Handler() ──▶ console handler (tee)
//	                        │
//	                        └──▶ ring buffer ──Records/Tail──▶ admin /v1/log
//
// Each record becomes an [Entry]: a sequence number that only grows (so a
// reader pages forward with since=last seq and can tell when it fell behind
// and records were dropped), the time, the level, the message, and the
// attributes flattened into one JSON-able map whose keys join groups with
// dots ("dns.zone"). Values are snapshotted when logged: errors and
// Stringers become strings, other composite values their JSON, so the
// ring never holds pointers into live data.
//
// The ring is bounded twice: by record count (default 2000) and by an
// estimate of the bytes the entries hold (default 1 MiB), so a burst of
// huge messages cannot grow PID 1. Single strings longer than
// [MaxValueLen] are truncated.
package logring
