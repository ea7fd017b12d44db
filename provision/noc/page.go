// Package noc is the provisioning server's NOC status page: one server-side
// rendered HTML page (and the same data as JSON) that says, per node, where
// it is, whether it is live, how its BGP sessions to the host are, whether
// it runs the fleet's current config and zones, which firmware it runs and
// how its last update went; and, for the fleet, how far the current
// rollout got, so a halted rollout and its reason are the first thing the
// operator sees.
//
// The server builds a Page from the fleet store (node documents) and the
// heartbeats it holds, using Classify for each node's State, and hands a
// source of Pages to Handler. The page has no JavaScript and fetches nothing:
// CSS is inline, it refreshes itself with <meta http-equiv="refresh">, and
// narrow screens get one card per node instead of the table.
package noc

import (
	"cmp"
	"slices"
	"strconv"
	"time"
)

// Page defaults.
const (
	DefaultTitle   = "Goleudy NOC"
	DefaultRefresh = 10 * time.Second
)

// BGP summarises a node's sessions of one address family.
type BGP struct {
	State string `json:"state,omitempty"` // "established", "active", "idle", "connect", "none", ...
	Peers int    `json:"peers"`           // configured sessions of this family
	Up    int    `json:"up"`              // established ones
}

// Node is one row of the page.
type Node struct {
	ID           string        `json:"id"`
	FQDN         string        `json:"fqdn,omitempty"`
	Board        string        `json:"board,omitempty"`
	Location     string        `json:"location,omitempty"`    // display text, e.g. "Scotland, Edinburgh"
	CountryISO   string        `json:"country_iso,omitempty"` // e.g. "gb", may be empty
	State        State         `json:"state"`
	BGP4         BGP           `json:"bgp4"`
	BGP6         BGP           `json:"bgp6"`
	InService    time.Time     `json:"in_service,omitzero"` // zero: not yet
	Version      string        `json:"version,omitempty"`   // firmware version, "" unknown
	Slot         string        `json:"slot,omitempty"`      // "a", "b" or ""
	ConfigSerial uint64        `json:"config_serial"`       // applied by the node
	WantSerial   uint64        `json:"want_serial"`         // current fleet serial for it
	ZonesBehind  int           `json:"zones_behind"`        // zones whose serial at the node is behind the hub's
	ZoneLag      time.Duration `json:"-"`                   // worst lag, 0 when current; JSON: zone_lag_seconds
	ZonesMissing int           `json:"zones_missing"`       // zones the hub has but the node does not report
	// LastHeartbeat is zero when the node was never heard from.
	LastHeartbeat time.Time `json:"last_heartbeat,omitzero"`
	Note          string    `json:"note,omitempty"`   // operator note, short
	Build         uint64    `json:"build,omitempty"`  // of the running firmware, 0 unknown
	Update        *Update   `json:"update,omitempty"` // the node's last word on an update; nil: none
}

// Update is a node's latest report on one firmware update.
type Update struct {
	Version string `json:"version,omitempty"`
	Build   uint64 `json:"build,omitempty"`
	// State is one of the update agent's states: downloading, writing,
	// trial, committed, rolled_back, refused, failed.
	State  string `json:"state"`
	Reason string `json:"reason,omitempty"`
	Done   int64  `json:"done,omitempty"` // bytes, while downloading or writing
	Total  int64  `json:"total,omitempty"`
}

// Update states the page words specially.
const (
	UpdateDownloading = "downloading"
	UpdateWriting     = "writing"
	UpdateTrial       = "trial"
	UpdateCommitted   = "committed"
	UpdateRolledBack  = "rolled_back"
	UpdateRefused     = "refused"
	UpdateFailed      = "failed"
)

// Rollout is the fleet's current rollout, for the page's header.
type Rollout struct {
	Version    string `json:"version"`
	Phase      string `json:"phase"` // canary, all, done, halted
	Targets    int    `json:"targets"`
	Committed  int    `json:"committed"`
	HaltNode   string `json:"halt_node,omitempty"` // the node whose failure halted it; "" the operator
	HaltReason string `json:"halt_reason,omitempty"`
}

// Page is everything the NOC page shows.
type Page struct {
	Title     string        // "": DefaultTitle
	Generated time.Time     // zero: now; ages on the page are relative to it
	Refresh   time.Duration // 0: DefaultRefresh; negative: the page does not refresh itself
	Serial    uint64        // fleet config serial
	Zones     int           // customer zones at the hub
	Nodes     []Node        // any order; see sorted
	Rollout   *Rollout      // nil: no rollout was started
}

// Summary counts nodes by state.
type Summary struct {
	Nodes       int `json:"nodes"`
	Live        int `json:"live"`
	Down        int `json:"down"`
	InProgress  int `json:"in_progress"`
	Maintenance int `json:"maintenance"`
	Other       int `json:"other,omitempty"` // a State this package does not know
}

// Summarize counts p's nodes by state.
func (p Page) Summarize() Summary {
	s := Summary{Nodes: len(p.Nodes)}
	for _, n := range p.Nodes {
		switch n.State {
		case StateLive:
			s.Live++
		case StateDown:
			s.Down++
		case StateInProgress:
			s.InProgress++
		case StateMaintenance:
			s.Maintenance++
		default:
			s.Other++
		}
	}
	return s
}

// withDefaults fills in what the caller left zero and puts the nodes in page
// order. It copies the node slice, so the caller's is left alone.
func (p Page) withDefaults(now func() time.Time) Page {
	if p.Title == "" {
		p.Title = DefaultTitle
	}
	if p.Generated.IsZero() {
		p.Generated = now()
	}
	p.Generated = p.Generated.UTC()
	if p.Refresh == 0 {
		p.Refresh = DefaultRefresh
	}
	p.Nodes = sorted(p.Nodes)
	return p
}

// sorted returns the nodes in page order: what needs the operator first (down,
// in progress, maintenance, live), then by ID, with digit runs compared as
// numbers so node "10" follows node "9".
func sorted(nodes []Node) []Node {
	out := slices.Clone(nodes)
	slices.SortStableFunc(out, func(a, b Node) int {
		if c := cmp.Compare(a.State.rank(), b.State.rank()); c != 0 {
			return c
		}
		return naturalCompare(a.ID, b.ID)
	})
	return out
}

// naturalCompare compares a and b piecewise: runs of ASCII digits by value,
// everything else byte by byte.
func naturalCompare(a, b string) int {
	for a != "" && b != "" {
		da, db := digitRun(a), digitRun(b)
		if da > 0 && db > 0 {
			na, ea := strconv.ParseUint(a[:da], 10, 64)
			nb, eb := strconv.ParseUint(b[:db], 10, 64)
			if ea == nil && eb == nil && na != nb {
				return cmp.Compare(na, nb)
			}
			if c := cmp.Compare(a[:da], b[:db]); c != 0 { // same value, e.g. "07" vs "7"
				return c
			}
			a, b = a[da:], b[db:]
			continue
		}
		if a[0] != b[0] {
			return cmp.Compare(a[0], b[0])
		}
		a, b = a[1:], b[1:]
	}
	return cmp.Compare(len(a), len(b))
}

func digitRun(s string) int {
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	return i
}
