package secondary

import (
	"context"
	"time"

	authdns "github.com/goleudy/goleudy/services/dns"
)

// zone is the Manager's record of one zone it is secondary for, a catalog
// zone included. All fields are guarded by Manager.mu.
type zone struct {
	origin    string // lowercased, fully qualified
	catalog   bool   // a catalog zone: transferred, parsed, never served
	local     bool   // published with Publish: no primaries, no timers, not in the config
	source    string // "config", SourceLocal, or the catalog the zone is a member of
	memberID  string // the member's unique id in that catalog
	primaries []string
	keyName   string // TSIG key, "" for none

	cur     *authdns.Zone // nil until the first load or transfer
	journal journal
	members map[string]string // catalogs: member origin → unique id

	ready    bool // its zone file has been looked at
	running  bool // a refresh is in flight
	again    bool // a NOTIFY came during that refresh
	cancel   context.CancelFunc
	next     time.Time // next refresh; zero means now
	expireAt time.Time // when the data expires without a successful refresh
	expired  bool
	gone     bool // removed from the Manager; an in-flight refresh is discarded

	lastAttempt time.Time
	lastSuccess time.Time
	failures    int
	lastErr     string
	primary     string // the primary of the last successful refresh
}

// served reports whether the zone belongs in the query Store.
func (z *zone) served() bool { return !z.catalog }

// job is what a refresh needs, copied out of the zone under the lock.
type job struct {
	origin    string
	primaries []string
	key       *tsigKey
	keyErr    error
	cur       *authdns.Zone
}

// outcome is what a refresh found.
type outcome struct {
	zone    *authdns.Zone // the new version, nil when unchanged or failed
	diffs   []diff        // for the journal; nil after an AXFR
	full    bool          // came by AXFR
	primary string
	err     error
}
