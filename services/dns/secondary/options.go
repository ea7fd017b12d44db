package secondary

import (
	"log/slog"
	"net/netip"

	"github.com/goleudy/goleudy/services/clock"
	authdns "github.com/goleudy/goleudy/services/dns"
)

// Store is the set of zones the node answers from. *authdns.Zones is the
// real one: Replace swaps in a new version of a zone without dropping a
// query, and SetServfail makes a zone answer SERVFAIL (RFC 1996 expiry)
// without forgetting its data.
type Store interface {
	Replace(z *authdns.Zone) (old *authdns.Zone)
	Remove(origin string) *authdns.Zone
	SetServfail(origin string, expired bool)
}

// Options configure a Manager. Zones is required; the rest has defaults.
type Options struct {
	Zones Store
	Clock clock.Clock  // default clock.Real()
	Log   *slog.Logger // default discards
	// StateDir holds one file per zone. Empty keeps zones in memory only.
	StateDir string
	Limits   Limits
	Bounds   Bounds // zero takes DefaultBounds
	// MaxTransfers bounds concurrent refreshes; default 8.
	MaxTransfers int
	// Downstreams may transfer zones from us and are sent NOTIFY when a
	// zone changes. Everyone else is REFUSED.
	Downstreams []Downstream
}

// Downstream is a secondary of ours: a node further down a chain, or the
// zone hub's consumers.
type Downstream struct {
	// Addr's IP may transfer every zone; NOTIFY goes to Addr (port 53
	// when Addr's port is 0).
	Addr netip.AddrPort
	// TSIG names a key that transfers from this downstream must be
	// signed with and that signs our NOTIFYs to it; empty for none.
	TSIG string
}

// DefaultMaxTransfers is how many zones refresh at once. Each transfer
// holds a zone's new records in memory until it is built, so on a Pi this
// is about memory more than sockets.
const DefaultMaxTransfers = 8

func (o Options) withDefaults() Options {
	if o.Clock == nil {
		o.Clock = clock.Real()
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Limits.MaxRecords <= 0 {
		o.Limits.MaxRecords = DefaultMaxRecords
	}
	if o.Limits.MaxBytes <= 0 {
		o.Limits.MaxBytes = DefaultMaxBytes
	}
	if o.Bounds == (Bounds{}) {
		o.Bounds = DefaultBounds
	}
	if o.MaxTransfers <= 0 {
		o.MaxTransfers = DefaultMaxTransfers
	}
	return o
}

var _ Store = (*authdns.Zones)(nil)
