package noc

import (
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// genTime is the fixture page's generation time; ages are relative to it.
var genTime = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// fixturePage has one node of each state that the browser test checks, in
// an order the page must change, plus a hostile location.
func fixturePage() Page {
	return Page{
		Generated: genTime,
		Serial:    42,
		Zones:     120,
		Rollout: &Rollout{Version: "v0.9.3", Phase: "halted", Targets: 2, Committed: 1,
			HaltNode: "bah-1", HaltReason: "rolled_back: not ready within 300s"},
		Nodes: []Node{
			{
				ID: "edi-1", FQDN: "edi-1.nodes.goleudy.net", Board: "apu2",
				Location: "Scotland, Edinburgh", CountryISO: "gb", State: StateLive,
				BGP4:      BGP{State: "established", Peers: 2, Up: 2},
				BGP6:      BGP{State: "established", Peers: 1, Up: 1},
				InService: time.Date(2013, 10, 25, 0, 0, 0, 0, time.UTC),
				Version:   "v0.9.2", Build: 7, Slot: "a", ConfigSerial: 42, WantSerial: 42,
				LastHeartbeat: genTime.Add(-4 * time.Second),
				Update:        &Update{Version: "v0.9.2", Build: 7, State: UpdateCommitted},
			},
			{
				ID: "bah-1", FQDN: "bah-1.nodes.goleudy.net", Board: "rpi4",
				Location: "Kingdom of Bahrain, Manama", CountryISO: "bh", State: StateInProgress,
				BGP4:    BGP{State: "active", Peers: 1, Up: 0},
				Version: "v0.9.2", Slot: "b", ConfigSerial: 41, WantSerial: 42,
				ZonesBehind: 2, ZoneLag: 40 * time.Second, ZonesMissing: 3,
				LastHeartbeat: genTime.Add(-3 * time.Minute),
				Note:          "host racking second uplink",
				Update:        &Update{Version: "v0.9.3", Build: 8, State: UpdateRolledBack, Reason: "not ready within 300s"},
			},
			{
				ID: "bel-1", FQDN: "bel-1.nodes.goleudy.net", Board: "apu2",
				Location: "Northern Ireland, Belfast", CountryISO: "gb", State: StateDown,
				BGP4:      BGP{State: "idle", Peers: 2, Up: 0},
				BGP6:      BGP{State: "established", Peers: 2, Up: 1},
				InService: time.Date(2013, 10, 28, 0, 0, 0, 0, time.UTC),
				Version:   "v0.9.1", Slot: "b", ConfigSerial: 40, WantSerial: 42,
				LastHeartbeat: genTime.Add(-2*time.Hour - 5*time.Minute),
				Note:          "host says power cut, back tonight",
			},
		},
	}
}
