package fleet

import (
	"testing"
	"time"

	"github.com/goleudy/goleudy/provision/api"
)

// FuzzRolloutReports feeds a rollout arbitrary sequences of node reports,
// as heartbeats would bring them: nothing may panic, the phase only moves
// forward (canary → all → done, or to halted from a running phase), a
// committed node stays committed and keeps its offer, and a halt always
// says why.
func FuzzRolloutReports(f *testing.F) {
	f.Add([]byte{0, 4, 0, 1, 3, 0, 2, 4, 1})
	f.Add([]byte{1, 5, 5, 2, 2, 1, 0, 1, 2})
	f.Add([]byte{2, 2, 0, 3, 6, 3, 1, 7, 4, 0, 0, 0})
	states := []string{api.UpdateDownloading, api.UpdateWriting, api.UpdateTrial, api.UpdateCommitted,
		api.UpdateRolledBack, api.UpdateRefused, api.UpdateFailed, "exploded", ""}
	nodes := []string{"alban", "bede", "carys", "dewi"}
	order := map[string]int{PhaseCanary: 0, PhaseAll: 1, PhaseDone: 2}
	f.Fuzz(func(t *testing.T, ops []byte) {
		if len(ops) == 0 {
			return
		}
		now := epoch
		r := Rollout{Version: "v2", Canary: int(ops[0] % 4), Phase: PhaseCanary}
		if r.Canary == 0 {
			r.Phase = PhaseAll
		}
		for i, n := range nodes[:3] {
			r.Targets = append(r.Targets, Target{Node: n, Board: "rpi", Build: 5, Canary: i < r.Canary})
		}
		ops = ops[1:]
		for len(ops) >= 3 {
			node, build, st := nodes[int(ops[0])%len(nodes)], uint64(ops[1]%3)+4, states[int(ops[2])%len(states)]
			ops = ops[3:]
			now = now.Add(time.Second)
			rep := Report{Version: "v?", Build: build % 2 * 5, At: now}
			if st != "" {
				rep.Update = &api.UpdateReport{Build: build, State: st, Reason: "why", At: now}
			}
			before := r
			before.Targets = append([]Target(nil), r.Targets...)
			eff, c := r.observe(node, rep, now)
			if (eff == decided) != (c != nil) {
				t.Fatalf("effect %d with change %+v", eff, c)
			}
			if before.Phase != r.Phase {
				switch {
				case r.Phase == PhaseHalted:
					if !before.Running() || r.Halt == nil || r.Halt.Node != node {
						t.Fatalf("halted from %s by %+v", before.Phase, r.Halt)
					}
				case before.Phase == PhaseHalted || order[r.Phase] < order[before.Phase]:
					t.Fatalf("phase went back: %s → %s", before.Phase, r.Phase)
				}
			}
			for i, bt := range before.Targets {
				if bt.IsCommitted() && (!r.Targets[i].IsCommitted() || !r.Offers(r.Targets[i])) {
					t.Fatalf("%s lost its commit or its offer: %+v in %s", bt.Node, r.Targets[i], r.Phase)
				}
			}
			if r.Phase == PhaseDone && r.Committed() != len(r.Targets) {
				t.Fatalf("done with %d of %d committed", r.Committed(), len(r.Targets))
			}
		}
	})
}
