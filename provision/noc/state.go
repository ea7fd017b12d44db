package noc

import "time"

// State is what the NOC page says about a node. Each state has a colour and
// a word on the page, so no state depends on colour alone.
type State string

// States, in the order an operator needs to act on them.
const (
	StateDown        State = "down"        // no heartbeat for longer than DownAfter
	StateInProgress  State = "in progress" // not enrolled or never heard from, not ready/healthy yet, or applying a newer config
	StateMaintenance State = "maintenance" // node document says maintenance or drained
	StateLive        State = "live"        // heartbeating, healthy, ready, on the current config
)

// DefaultDownAfter is how long a node may stay silent before it is down. The
// firmware heartbeats every 10s, so this is four missed heartbeats plus slack:
// one lost packet or a slow hub must not page anyone.
const DefaultDownAfter = 45 * time.Second

// docLive is the node document state for a serving node, as in
// provision/config (not imported, so this package stays a standard library
// leaf). "maintenance", "drained" and anything unknown count as parked.
const docLive = "live"

// Input is what the server knows about a node when it classifies it.
type Input struct {
	DocState                 string // node document's node.state: "live", "maintenance", "drained" ("" = live)
	Enrolled                 bool
	LastHeartbeat            time.Time // zero: never heard from
	Ready, Healthy           bool      // from the last heartbeat
	ConfigSerial, WantSerial uint64    // applied by the node vs current fleet serial
	Now                      time.Time
	DownAfter                time.Duration // <= 0: DefaultDownAfter
}

// Classify is the one rule for a node's State; the server and the tests share
// it. In order:
//
//  1. Not enrolled, or never heard from: maintenance if the document says
//     maintenance/drained (the operator parked it), else in progress.
//  2. Last heartbeat older than DownAfter: down, whatever the document says.
//     A node in maintenance that stops heartbeating is still a dead box the
//     operator must see; "maintenance" would hide it.
//  3. Document says maintenance or drained (or a state this package does not
//     know, which must never read as live): maintenance.
//  4. Not ready, not healthy, or behind the fleet config serial: in progress.
//  5. Otherwise live.
//
// A heartbeat stamped in the future (clock skew) counts as fresh.
func Classify(in Input) State {
	parked := in.DocState != "" && in.DocState != docLive
	if !in.Enrolled || in.LastHeartbeat.IsZero() {
		if parked {
			return StateMaintenance
		}
		return StateInProgress
	}
	downAfter := in.DownAfter
	if downAfter <= 0 {
		downAfter = DefaultDownAfter
	}
	if in.Now.Sub(in.LastHeartbeat) > downAfter {
		return StateDown
	}
	if parked {
		return StateMaintenance
	}
	if !in.Ready || !in.Healthy || in.ConfigSerial < in.WantSerial {
		return StateInProgress
	}
	return StateLive
}

// rank orders states for the page: what needs action first. A state this
// package does not know sorts with in progress, so it is not buried.
func (s State) rank() int {
	switch s {
	case StateDown:
		return 0
	case StateMaintenance:
		return 2
	case StateLive:
		return 3
	default:
		return 1
	}
}

// class is the CSS class for s; it never carries meaning alone.
func (s State) class() string {
	switch s {
	case StateDown:
		return "st-down"
	case StateMaintenance:
		return "st-maint"
	case StateLive:
		return "st-live"
	default:
		return "st-prog"
	}
}
