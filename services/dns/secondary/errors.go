package secondary

import "errors"

// Errors a transfer, a zone file or a request can fail with. They are
// wrapped with the zone and the primary or file, so callers log the wrapped
// error and test with errors.Is.
var (
	// ErrMalformed: the transfer breaks RFC 5936/1995 framing (no SOA
	// first, a different SOA last, records after the end, a record
	// outside the zone, a truncated stream).
	ErrMalformed = errors.New("malformed transfer")
	// ErrTooLarge: the transfer exceeds Limits.MaxRecords or MaxBytes.
	ErrTooLarge = errors.New("transfer exceeds limits")
	// ErrBrokenChain: an IXFR's serials do not lead from our version to
	// the primary's, or it deletes a record we do not have.
	ErrBrokenChain = errors.New("IXFR does not apply to our version")
	// ErrRefused: the primary answered with an error RCODE.
	ErrRefused = errors.New("primary refused")
	// ErrTSIG: a message that should be signed is not, or its signature
	// does not verify.
	ErrTSIG = errors.New("TSIG verification failed")
	// ErrNotNewer: the primary offered a serial that is not newer than
	// ours (RFC 1982).
	ErrNotNewer = errors.New("serial not newer")
	// ErrCorrupt: a zone file in the state dir fails its checks.
	ErrCorrupt = errors.New("corrupt zone file")
	// ErrCatalog: a catalog zone is not a valid RFC 9432 version 2 catalog.
	ErrCatalog = errors.New("invalid catalog zone")
	// ErrNoKey: a zone names a TSIG key the config does not define.
	ErrNoKey = errors.New("unknown TSIG key")
	// ErrConflict: Publish was asked for a zone that is configured as a
	// secondary zone or a catalog, or is a member of a catalog we consume.
	ErrConflict = errors.New("zone is already a secondary zone")
)
