package fleet

import (
	"errors"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/goleudy/goleudy/provision/api"
	"github.com/goleudy/goleudy/provision/config"
)

// rolloutFleet is a fleet of four live nodes, three rpi and one brix, plus
// a vps (no release) and an rpi in maintenance; v2 is published for rpi
// (build 5) and brix (build 3), v1 for rpi (build 4).
func rolloutFleet(t *testing.T, path string) *Store {
	t.Helper()
	s := openStore(t, path)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(s.SetDefaults("op", fleetDefaults()))
	for _, id := range []string{"alban", "bede", "carys", "dewi", "eilir", "ffion"} {
		n := nodeDoc(id, "198.51.100.2")
		switch id {
		case "dewi":
			n.Config.Node.Board = "brix"
		case "eilir":
			n.Config.Node.Board = "vps"
		case "ffion":
			n.Config.Node.State = config.StateMaintenance
		}
		must(s.AddNode("op", n))
	}
	rel := func(board, version string, build uint64) Release {
		return Release{Board: board, Version: version, Build: build, Size: 8192,
			Bundle: "/data/releases/" + board + "/" + version + ".bundle", SHA256: strings.Repeat("cd", 32)}
	}
	must(s.AddRelease("ci", rel("rpi", "v1", 4)))
	must(s.AddRelease("ci", rel("rpi", "v2", 5)))
	must(s.AddRelease("ci", rel("brix", "v2", 3)))
	return s
}

func newRolloutFleet(t *testing.T) *Store {
	return rolloutFleet(t, filepath.Join(t.TempDir(), "fleet.db"))
}

// offered returns the update section node id's config carries.
func offered(t *testing.T, s *Store, id string) config.Update {
	t.Helper()
	c, err := s.Render(id)
	if err != nil {
		t.Fatal(err)
	}
	return c.Update
}

func report(t *testing.T, s *Store, node string, rep Report) bool {
	t.Helper()
	if rep.At.IsZero() {
		rep.At = epoch
	}
	changed, err := s.ReportUpdate(node, rep)
	if err != nil {
		t.Fatalf("report from %s: %v", node, err)
	}
	return changed
}

func upd(build uint64, state, reason string, at time.Time) *api.UpdateReport {
	return &api.UpdateReport{Version: "v2", Build: build, State: state, Reason: reason, At: at}
}

func serialOf(t *testing.T, s *Store) uint64 {
	t.Helper()
	n, err := s.Serial()
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func targetIDs(r Rollout) []string {
	var ids []string
	for _, t := range r.Targets {
		id := t.Node
		if t.Canary {
			id += "*"
		}
		ids = append(ids, id)
	}
	return ids
}

func TestRolloutCanaryAllDone(t *testing.T) {
	s := newRolloutFleet(t)
	// bede and dewi were heard from; bede runs v1.
	heard := map[string]Report{"bede": {Version: "v1", Build: 4}, "dewi": {Version: "v1", Build: 2}}
	r, err := s.StartRollout("op", "v2", 1, Heard(heard))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := targetIDs(r), []string{"bede*", "dewi", "alban", "carys"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("targets %v, want %v (heard first, then by id)", got, want)
	}
	if r.Phase != PhaseCanary || len(r.Skipped) != 2 ||
		r.Skipped[0] != (Skip{"eilir", "no release v2 for board vps"}) || r.Skipped[1] != (Skip{"ffion", "node state is maintenance"}) {
		t.Fatalf("rollout %+v", r)
	}
	want := config.Update{Version: "v2", Build: 5, SHA256: strings.Repeat("cd", 32), Size: 8192,
		URL: "http://10.53.0.1:8053/v1/bundles/rpi/5"}
	if got := offered(t, s, "bede"); got != want {
		t.Fatalf("canary bede is offered %+v, want %+v", got, want)
	}
	for _, id := range []string{"alban", "carys", "dewi", "eilir", "ffion"} {
		if got := offered(t, s, id); got != (config.Update{}) {
			t.Fatalf("%s is offered %+v during the canary phase", id, got)
		}
	}

	// Progress is stored but changes no config.
	before := serialOf(t, s)
	for _, st := range []string{api.UpdateDownloading, api.UpdateWriting, api.UpdateTrial} {
		if report(t, s, "bede", Report{Version: "v1", Build: 4, Update: upd(5, st, "", epoch.Add(time.Minute))}) {
			t.Fatalf("%s changed configs", st)
		}
	}
	// The same report again changes nothing at all.
	report(t, s, "bede", Report{Version: "v1", Build: 4, Update: upd(5, api.UpdateTrial, "", epoch.Add(time.Minute))})
	if serialOf(t, s) != before {
		t.Fatal("progress bumped the serial")
	}
	r, _ = s.Rollout()
	if r.Targets[0].State != api.UpdateTrial || !r.Targets[0].Trial || r.Phase != PhaseCanary {
		t.Fatalf("after trial: %+v", r)
	}
	// A report about another build, or from a node not targeted, is no
	// word on this rollout.
	if report(t, s, "ffion", Report{Build: 5, Update: upd(5, api.UpdateCommitted, "", epoch)}) ||
		report(t, s, "alban", Report{Build: 4, Update: upd(4, api.UpdateRolledBack, "old news", epoch)}) {
		t.Fatal("an unrelated report changed configs")
	}

	// The canary commits: every target is offered its board's build.
	if !report(t, s, "bede", Report{Version: "v2", Build: 5, Update: upd(5, api.UpdateCommitted, "", epoch.Add(2*time.Minute))}) {
		t.Fatal("the canary's commit did not change configs")
	}
	if serialOf(t, s) != before+1 {
		t.Fatal("a commit did not bump the serial once")
	}
	r, _ = s.Rollout()
	if r.Phase != PhaseAll {
		t.Fatalf("phase %s after the canary committed", r.Phase)
	}
	if got := offered(t, s, "dewi"); got.Build != 3 || got.URL != "http://10.53.0.1:8053/v1/bundles/brix/3" {
		t.Fatalf("dewi is offered %+v", got)
	}
	if got := offered(t, s, "eilir"); got != (config.Update{}) {
		t.Fatalf("eilir (no release) is offered %+v", got)
	}

	// alban and carys run the build (no agent report); dewi's agent says
	// committed: done.
	report(t, s, "alban", Report{Version: "v2", Build: 5})
	report(t, s, "carys", Report{Version: "v2", Build: 5, Update: upd(4, api.UpdateCommitted, "", epoch)})
	if r, _ = s.Rollout(); r.Phase != PhaseAll || r.Committed() != 3 {
		t.Fatalf("before the last node: %+v", r)
	}
	report(t, s, "dewi", Report{Version: "v2", Build: 3, Update: upd(3, api.UpdateCommitted, "", epoch)})
	if r, _ = s.Rollout(); r.Phase != PhaseDone || r.Committed() != 4 {
		t.Fatalf("after every node committed: %+v", r)
	}
	if got := offered(t, s, "alban"); got.Build != 5 {
		t.Fatalf("done: alban is offered %+v; it must keep its release", got)
	}
	log, _ := s.Audit(0, 0)
	var actions []string
	for _, e := range log {
		if strings.HasPrefix(e.Action, "rollout") {
			actions = append(actions, e.Actor+" "+e.Action+" "+e.Subject+": "+e.Detail)
		}
	}
	got := strings.Join(actions, "\n")
	for _, w := range []string{
		"op rollout start v2: canary 1 of 4 targets: bede@5 dewi@3 alban@5 carys@5; left out eilir ffion",
		"node:bede rollout commit bede: v2 build 5; phase canary → all",
		"node:dewi rollout commit dewi: v2 build 3; phase all → done",
	} {
		if !strings.Contains(got, w) {
			t.Errorf("audit lacks %q in\n%s", w, got)
		}
	}
}

func TestRolloutHaltsOnRollback(t *testing.T) {
	s := newRolloutFleet(t)
	if _, err := s.StartRollout("op", "v2", 2); err != nil {
		t.Fatal(err)
	}
	// Canaries: alban and bede (nobody heard from: by id).
	report(t, s, "alban", Report{Build: 5, Update: upd(5, api.UpdateCommitted, "", epoch)})
	// A failed download is retried; it does not halt.
	if report(t, s, "bede", Report{Build: 4, Update: upd(5, api.UpdateFailed, "connection reset", epoch)}) {
		t.Fatal("a failed download changed configs")
	}
	if r, _ := s.Rollout(); r.Phase != PhaseCanary || r.Targets[1].Reason != "connection reset" {
		t.Fatalf("after a failed download: %+v", r)
	}
	if !report(t, s, "bede", Report{Build: 4, Update: upd(5, api.UpdateRolledBack, "not ready within 300s", epoch.Add(time.Minute))}) {
		t.Fatal("a rollback did not change configs")
	}
	r, _ := s.Rollout()
	if r.Phase != PhaseHalted || r.Halt == nil || r.Halt.Node != "bede" || r.Halt.State != api.UpdateRolledBack ||
		r.Halt.Reason != "not ready within 300s" || r.Halt.Actor != "node:bede" {
		t.Fatalf("after a rollback: %+v halt %+v", r, r.Halt)
	}
	// Halted: alban keeps the build it committed; nobody else gets it.
	if got := offered(t, s, "alban"); got.Build != 5 {
		t.Fatalf("halted: alban is offered %+v", got)
	}
	for _, id := range []string{"bede", "carys", "dewi"} {
		if got := offered(t, s, id); got != (config.Update{}) {
			t.Fatalf("halted: %s is offered %+v", id, got)
		}
	}
	// Later word changes nothing but the record.
	before := serialOf(t, s)
	if report(t, s, "carys", Report{Build: 4, Update: upd(5, api.UpdateRefused, "late", epoch)}) || serialOf(t, s) != before {
		t.Fatal("a report after the halt changed configs")
	}
	if _, err := s.HaltRollout("op", "again"); !errors.Is(err, ErrNoRollout) {
		t.Fatalf("halting a halted rollout: %v", err)
	}
	log, _ := s.Audit(0, 0)
	if e := log[len(log)-1]; e.Action != "rollout halt" || e.Detail != "bede rolled_back build 5: not ready within 300s" {
		t.Fatalf("last audit entry %+v", e)
	}

	// A new rollout replaces the halted one without force. bede's stale
	// rollback is shown, but does not halt it again.
	heard := map[string]Report{"bede": {Build: 4, Update: upd(5, api.UpdateRolledBack, "not ready within 300s", epoch.Add(time.Minute))}}
	r, err := s.StartRollout("op", "v2", 1, Heard(heard))
	if err != nil {
		t.Fatal(err)
	}
	if r.Phase != PhaseCanary || r.Targets[0].Node != "bede" || r.Targets[0].State != api.UpdateRolledBack {
		t.Fatalf("restarted: %+v", r)
	}
	report(t, s, "bede", heard["bede"])
	if r, _ := s.Rollout(); r.Phase != PhaseCanary {
		t.Fatalf("the same stale report halted the new rollout: %+v", r)
	}
	// A fresh rollback of it does.
	report(t, s, "bede", Report{Build: 4, Update: upd(5, api.UpdateRolledBack, "again", epoch.Add(time.Hour))})
	if r, _ := s.Rollout(); r.Phase != PhaseHalted || r.Halt.Reason != "again" {
		t.Fatalf("a new rollback: %+v", r)
	}
}

func TestRolloutFailureAfterTrialHalts(t *testing.T) {
	s := newRolloutFleet(t)
	if _, err := s.StartRollout("op", "v2", 0); err != nil {
		t.Fatal(err)
	}
	if r, _ := s.Rollout(); r.Phase != PhaseAll {
		t.Fatalf("canary 0 starts in %s", r.Phase)
	}
	report(t, s, "carys", Report{Build: 4, Update: upd(5, api.UpdateTrial, "", epoch)})
	if !report(t, s, "carys", Report{Build: 4, Update: upd(5, api.UpdateFailed, "slot b did not boot", epoch.Add(time.Minute))}) {
		t.Fatal("a failure after the trial did not halt")
	}
	if r, _ := s.Rollout(); r.Phase != PhaseHalted || r.Halt.Node != "carys" {
		t.Fatalf("after a failed trial: %+v", r)
	}
}

func TestRolloutRefusals(t *testing.T) {
	s := newRolloutFleet(t)
	before := serialOf(t, s)
	for _, tt := range []struct {
		version string
		canary  int
		paths   []string
		says    string
	}{
		{"", -1, []string{"version", "canary"}, ""},
		{"v9", 1, []string{"version"}, "no release v9 is published for any node's board"},
		{"v1", 1, nil, ""}, // rpi has v1: fine
	} {
		_, err := s.StartRollout("op", tt.version, tt.canary)
		if tt.paths == nil {
			if err != nil {
				t.Fatalf("%s: %v", tt.version, err)
			}
			continue
		}
		if got := fieldPaths(err); !reflect.DeepEqual(got, tt.paths) || !strings.Contains(err.Error(), tt.says) {
			t.Errorf("%q canary %d: %v (paths %v)", tt.version, tt.canary, err, got)
		}
	}
	if serialOf(t, s) != before+1 {
		t.Fatal("refused starts changed the store")
	}
	if _, err := s.StartRollout("op", "v2", 1); !errors.Is(err, ErrRolloutRunning) || !strings.Contains(err.Error(), "v1 in phase canary") {
		t.Fatalf("a second start while one runs: %v", err)
	}
	r, err := s.StartRollout("op", "v2", 1, Force())
	if err != nil || r.Version != "v2" {
		t.Fatalf("forced start: %+v %v", r, err)
	}
	log, _ := s.Audit(0, 0)
	if e := log[len(log)-1]; !strings.Contains(e.Detail, "replaces v1 (canary)") {
		t.Fatalf("audit %+v", e)
	}
	h, err := s.HaltRollout("op:ann", "pager went off")
	if err != nil || h.Phase != PhaseHalted || h.Halt.Actor != "op:ann" || h.Halt.Node != "" || h.Halt.Reason != "pager went off" {
		t.Fatalf("halt: %+v %v", h, err)
	}
	empty := newStore(t)
	if _, err := empty.HaltRollout("op", ""); !errors.Is(err, ErrNoRollout) {
		t.Fatalf("halt without a rollout: %v", err)
	}
	if _, err := empty.Rollout(); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Rollout without one: %v", err)
	}
	if _, err := empty.StartRollout("", "v2", 1); !errors.Is(err, ErrNoActor) {
		t.Fatalf("start without an actor: %v", err)
	}
}

func TestRolloutSurvivesRestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "fleet.db")
	s := rolloutFleet(t, path)
	if _, err := s.StartRollout("op", "v2", 1); err != nil {
		t.Fatal(err)
	}
	report(t, s, "alban", Report{Build: 5, Update: upd(5, api.UpdateCommitted, "", epoch)})
	report(t, s, "bede", Report{Build: 4, Update: upd(5, api.UpdateDownloading, "", epoch)})
	want, _ := s.Rollout()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openStore(t, path)
	got, err := s.Rollout()
	if err != nil || got.Phase != PhaseAll || !reflect.DeepEqual(got, want) {
		t.Fatalf("after reopening: %+v, %v\nwant %+v", got, err, want)
	}
	if u := offered(t, s, "carys"); u.Build != 5 {
		t.Fatalf("after reopening carys is offered %+v", u)
	}
}

func TestRemovingTheLastCanaryMovesOn(t *testing.T) {
	s := newRolloutFleet(t)
	if _, err := s.StartRollout("op", "v2", 2); err != nil {
		t.Fatal(err)
	}
	report(t, s, "alban", Report{Build: 5})
	if err := s.RemoveNode("op", "bede"); err != nil {
		t.Fatal(err)
	}
	r, _ := s.Rollout()
	if r.Phase != PhaseAll || len(r.Targets) != 3 {
		t.Fatalf("after removing the waiting canary: %+v", r)
	}
	log, _ := s.Audit(0, 0)
	if e := log[len(log)-1]; e.Action != "node remove" || e.Detail != "rollout phase canary → all" {
		t.Fatalf("audit %+v", e)
	}
}

// A node that moves to a board the rollout did not pick a build for is
// not offered the old board's build.
func TestRolloutFollowsTheNodesBoard(t *testing.T) {
	s := newRolloutFleet(t)
	if _, err := s.StartRollout("op", "v2", 0); err != nil {
		t.Fatal(err)
	}
	n, _ := s.GetNode("carys")
	n.Config.Node.Board = "vps"
	if err := s.UpdateNode("op", n); err != nil {
		t.Fatal(err)
	}
	if u := offered(t, s, "carys"); u != (config.Update{}) {
		t.Fatalf("carys on another board is offered %+v", u)
	}
}
