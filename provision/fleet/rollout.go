package fleet

import (
	"cmp"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/goleudy/goleudy/provision/api"
	"github.com/goleudy/goleudy/provision/config"
	bolt "go.etcd.io/bbolt"
)

// Rollout phases; see the package documentation.
const (
	PhaseCanary = "canary" // only the canaries are offered the release
	PhaseAll    = "all"    // every target is offered it
	PhaseDone   = "done"   // every target committed it
	PhaseHalted = "halted" // only targets that committed it keep it
)

// Rollout is the fleet's one current rollout: a version, the nodes it
// targets and how far it got. It is stored whole under the meta bucket;
// the audit log keeps the history of earlier ones.
type Rollout struct {
	Version string    `json:"version"`
	Canary  int       `json:"canary"` // how many canaries were asked for
	Phase   string    `json:"phase"`
	Actor   string    `json:"actor"`    // who started it
	Started time.Time `json:"started"`  // when
	PhaseAt time.Time `json:"phase_at"` // when Phase was entered
	Targets []Target  `json:"targets"`  // canaries first, in their order
	Skipped []Skip    `json:"skipped,omitempty"`
	Halt    *Halt     `json:"halt,omitempty"` // why it halted, in PhaseHalted
}

// Target is one node a rollout updates: which build of the version is
// its board's, and the node's latest word on that build.
type Target struct {
	Node   string `json:"node"`
	Board  string `json:"board"`
	Build  uint64 `json:"build"`
	Canary bool   `json:"canary,omitempty"`
	// State is the last update state (api.Update*) the node reported for
	// Build, with its Reason and time; empty until it reports one.
	State  string    `json:"state,omitempty"`
	Reason string    `json:"reason,omitempty"`
	At     time.Time `json:"at,omitzero"`
	// Trial is set once the node switched to the new slot to try it: a
	// failure after that is the release's, not the download's.
	Trial     bool      `json:"trial,omitempty"`
	Committed time.Time `json:"committed,omitzero"` // zero until committed
}

// IsCommitted says whether the node committed the target's build.
func (t Target) IsCommitted() bool { return !t.Committed.IsZero() }

// Skip is a node a rollout left out, and why.
type Skip struct {
	Node   string `json:"node"`
	Reason string `json:"reason"`
}

// Halt records why a rollout stopped: a node's failed update (Node set)
// or the operator's word.
type Halt struct {
	Node   string    `json:"node,omitempty"`
	State  string    `json:"state,omitempty"` // the node's update state
	Reason string    `json:"reason,omitempty"`
	Actor  string    `json:"actor"`
	At     time.Time `json:"at"`
}

// Running says whether the rollout is still moving (canary or all).
func (r *Rollout) Running() bool { return r.Phase == PhaseCanary || r.Phase == PhaseAll }

// Offers says whether the rollout, in its phase, offers its build to t.
// A node that committed the build keeps it whatever the phase, so a halt
// never pulls a good node back.
func (r *Rollout) Offers(t Target) bool {
	switch r.Phase {
	case PhaseCanary:
		return t.Canary || t.IsCommitted()
	case PhaseAll, PhaseDone:
		return true
	default:
		return t.IsCommitted()
	}
}

// Committed counts the targets that committed.
func (r *Rollout) Committed() int {
	n := 0
	for _, t := range r.Targets {
		if t.IsCommitted() {
			n++
		}
	}
	return n
}

func (r *Rollout) target(node string) int {
	return slices.IndexFunc(r.Targets, func(t Target) bool { return t.Node == node })
}

// advance moves the phase on as far as the targets allow: canary → all
// once every canary committed, all → done once every target did.
func (r *Rollout) advance(now time.Time) (moved []string) {
	for {
		next := ""
		switch r.Phase {
		case PhaseCanary:
			if !slices.ContainsFunc(r.Targets, func(t Target) bool { return t.Canary && !t.IsCommitted() }) {
				next = PhaseAll
			}
		case PhaseAll:
			if !slices.ContainsFunc(r.Targets, func(t Target) bool { return !t.IsCommitted() }) {
				next = PhaseDone
			}
		}
		if next == "" {
			return moved
		}
		moved = append(moved, r.Phase+" → "+next)
		r.Phase, r.PhaseAt = next, now
	}
}

// Report is what a node's heartbeat says about its firmware: the release
// it runs and its update agent's latest report.
type Report struct {
	Version string
	Build   uint64
	Update  *api.UpdateReport
	At      time.Time // when the server heard it
}

// effect is what a report did to a rollout.
type effect int

const (
	noEffect   effect = iota
	progressed        // the target's state moved; no node's config changes
	decided           // a commit or a halt: configs change
)

// observe applies one node's report to the rollout. A report counts for
// the target's build only: the update agent's report naming that build,
// or, with none, the node running that build (it was there already).
// Reports that say what the target already holds change nothing, so a
// report a node repeats in every heartbeat is seen once.
func (r *Rollout) observe(node string, rep Report, now time.Time) (effect, *change) {
	i := r.target(node)
	if i < 0 {
		return noEffect, nil
	}
	t := &r.Targets[i]
	if t.IsCommitted() {
		return noEffect, nil
	}
	var state, reason string
	var at time.Time
	switch u := rep.Update; {
	case u != nil && u.Build == t.Build:
		state, reason, at = u.State, u.Reason, u.At
	case rep.Build == t.Build:
		state, at = api.UpdateCommitted, rep.At
	default:
		return noEffect, nil
	}
	if at.IsZero() {
		at = rep.At
	}
	at = at.UTC()
	if state == t.State && reason == t.Reason && at.Equal(t.At) {
		return noEffect, nil
	}
	t.State, t.Reason, t.At = state, reason, at
	actor := "node:" + node
	switch {
	case state == api.UpdateCommitted:
		t.Committed = at
		detail := fmt.Sprintf("%s build %d", r.Version, t.Build)
		for _, m := range r.advance(now) {
			detail += "; phase " + m
		}
		return decided, &change{actor: actor, action: "rollout commit", subject: node, detail: detail}
	case state == api.UpdateTrial:
		t.Trial = true
	case r.Running() && (state == api.UpdateRolledBack || state == api.UpdateRefused || (state == api.UpdateFailed && t.Trial)):
		r.Phase, r.PhaseAt = PhaseHalted, now
		r.Halt = &Halt{Node: node, State: state, Reason: reason, Actor: actor, At: now}
		return decided, &change{actor: actor, action: "rollout halt", subject: r.Version,
			detail: fmt.Sprintf("%s %s build %d: %s", node, state, t.Build, reason)}
	}
	return progressed, nil
}

// StartOption changes how StartRollout picks and starts.
type StartOption func(*startOptions)

type startOptions struct {
	force bool
	heard map[string]Report
}

// Force replaces a running rollout; without it StartRollout refuses with
// ErrRolloutRunning.
func Force() StartOption { return func(o *startOptions) { o.force = true } }

// Heard gives the nodes' latest reports (the server's recent heartbeats).
// Nodes heard from go first when canaries are picked, so a canary is a
// node that can answer; and a node already running the release's build
// counts as committed from the start.
func Heard(reports map[string]Report) StartOption {
	return func(o *startOptions) { o.heard = reports }
}

// StartRollout starts rolling version out to the fleet, canary nodes first.
//
// Targets are the nodes whose board has a build of version, whose state is
// live and whose config names a management config URL (where the bundle
// URL is derived from); every other node is left out and listed in
// Skipped with the reason. Canaries are the first canary targets in this
// order: nodes heard from (Heard) first, then the rest, each group by
// node id. Canary 0 starts in PhaseAll.
//
// A running rollout is replaced only with Force; a done or halted one is
// replaced. The start bumps the serial, so every node's config long poll
// answers at once.
func (s *Store) StartRollout(actor, version string, canary int, opts ...StartOption) (Rollout, error) {
	var o startOptions
	for _, f := range opts {
		f(&o)
	}
	var r Rollout
	c := &change{actor: actor, action: "rollout start", subject: version}
	err := s.update(c, func(tx *bolt.Tx) error {
		var errs config.Errors
		if version == "" {
			errs = append(errs, &config.FieldError{Path: "version", Msg: "missing"})
		}
		if canary < 0 {
			errs = append(errs, &config.FieldError{Path: "canary", Msg: fmt.Sprintf("%d must be 0 or more", canary)})
		}
		if len(errs) > 0 {
			return errs
		}
		old, err := loadRollout(tx)
		if err != nil {
			return err
		}
		if old != nil && old.Running() && !o.force {
			return fmt.Errorf("%w: %s in phase %s; halt it first, or force", ErrRolloutRunning, old.Version, old.Phase)
		}
		now := s.now().UTC()
		r = Rollout{Version: version, Canary: canary, Phase: PhaseCanary, Actor: actor, Started: now, PhaseAt: now}
		if canary == 0 {
			r.Phase = PhaseAll
		}
		if err := pickTargets(tx, &r, o.heard); err != nil {
			return err
		}
		for i := range min(canary, len(r.Targets)) {
			r.Targets[i].Canary = true
		}
		for _, t := range slices.Clone(r.Targets) {
			if rep, ok := o.heard[t.Node]; ok {
				r.observe(t.Node, rep, now)
			}
		}
		// The reports above are from before the start: a node that once
		// rolled this build back says so until it tries again, which is no
		// reason to halt a new rollout. Only their commits count (and
		// their state is shown).
		r.Phase, r.PhaseAt, r.Halt = PhaseCanary, now, nil
		if canary == 0 {
			r.Phase = PhaseAll
		}
		moved := r.advance(now)
		c.detail = startDetail(&r, old, moved)
		return putRollout(tx, &r)
	})
	if err != nil {
		return Rollout{}, err
	}
	return r, nil
}

// pickTargets fills r's targets and skips from the stored nodes.
func pickTargets(tx *bolt.Tx, r *Rollout, heard map[string]Report) error {
	nodes, err := list[Node](tx.Bucket(bucketNodes))
	if err != nil {
		return err
	}
	anyRelease := false
	n := serial(tx)
	for _, node := range nodes {
		c, err := renderNode(tx, node, n)
		if err != nil {
			r.Skipped = append(r.Skipped, Skip{node.ID(), "its config does not render: " + err.Error()})
			continue
		}
		board := c.Node.Board
		rel, ok := Release{}, false
		if board != "" {
			if rel, ok, err = releaseOf(tx, board, r.Version); err != nil {
				return err
			}
		}
		anyRelease = anyRelease || ok
		switch {
		case board == "":
			r.Skipped = append(r.Skipped, Skip{node.ID(), "its document names no board"})
		case !ok:
			r.Skipped = append(r.Skipped, Skip{node.ID(), fmt.Sprintf("no release %s for board %s", r.Version, board)})
		case c.Node.State != config.StateLive:
			r.Skipped = append(r.Skipped, Skip{node.ID(), "node state is " + c.Node.State})
		case c.Management.ConfigURL == "":
			r.Skipped = append(r.Skipped, Skip{node.ID(), "its config has no management.config_url to fetch the bundle beside"})
		default:
			r.Targets = append(r.Targets, Target{Node: node.ID(), Board: board, Build: rel.Build})
		}
	}
	if len(r.Targets) == 0 {
		msg := fmt.Sprintf("no node can take %s", r.Version)
		if !anyRelease {
			msg = fmt.Sprintf("no release %s is published for any node's board", r.Version)
		}
		if len(r.Skipped) > 0 {
			var why []string
			for _, s := range r.Skipped {
				why = append(why, s.Node+": "+s.Reason)
			}
			msg += " (" + strings.Join(why, "; ") + ")"
		}
		return config.Errors{{Path: "version", Msg: msg}}
	}
	// Nodes heard from first, each group by id (list gave id order).
	slices.SortStableFunc(r.Targets, func(a, b Target) int {
		_, ha := heard[a.Node]
		_, hb := heard[b.Node]
		return cmp.Compare(rank(!ha), rank(!hb))
	})
	return nil
}

func rank(b bool) int {
	if b {
		return 1
	}
	return 0
}

func startDetail(r *Rollout, old *Rollout, moved []string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "canary %d of %d targets", min(r.Canary, len(r.Targets)), len(r.Targets))
	var ids []string
	for _, t := range r.Targets {
		ids = append(ids, t.Node+"@"+strconv.FormatUint(t.Build, 10))
	}
	fmt.Fprintf(&b, ": %s", strings.Join(ids, " "))
	if len(r.Skipped) > 0 {
		var sk []string
		for _, s := range r.Skipped {
			sk = append(sk, s.Node)
		}
		fmt.Fprintf(&b, "; left out %s", strings.Join(sk, " "))
	}
	if old != nil {
		fmt.Fprintf(&b, "; replaces %s (%s)", old.Version, old.Phase)
	}
	for _, m := range moved {
		b.WriteString("; phase " + m)
	}
	return b.String()
}

// HaltRollout stops the running rollout: nodes that have not committed its
// build are no longer offered it; nodes that have keep it.
func (s *Store) HaltRollout(actor, reason string) (Rollout, error) {
	var r *Rollout
	c := &change{actor: actor, action: "rollout halt", detail: reason}
	err := s.update(c, func(tx *bolt.Tx) error {
		var err error
		if r, err = loadRollout(tx); err != nil {
			return err
		}
		if r == nil {
			return fmt.Errorf("%w: none was started", ErrNoRollout)
		}
		c.subject = r.Version
		if !r.Running() {
			return fmt.Errorf("%w: %s is %s", ErrNoRollout, r.Version, r.Phase)
		}
		now := s.now().UTC()
		r.Phase, r.PhaseAt = PhaseHalted, now
		r.Halt = &Halt{Reason: reason, Actor: actor, At: now}
		return putRollout(tx, r)
	})
	if err != nil {
		return Rollout{}, err
	}
	return *r, nil
}

// Rollout returns the current rollout (running, done or halted), or
// ErrNotFound if none was ever started.
func (s *Store) Rollout() (Rollout, error) {
	var r *Rollout
	err := s.db.View(func(tx *bolt.Tx) error {
		var err error
		r, err = loadRollout(tx)
		return err
	})
	if err != nil {
		return Rollout{}, fmt.Errorf("fleet: rollout: %w", err)
	}
	if r == nil {
		return Rollout{}, fmt.Errorf("fleet: rollout: %w", ErrNotFound)
	}
	return *r, nil
}

// ReportUpdate feeds one node's heartbeat to the rollout. A commit or a
// halt is stored with an audit entry and a serial bump (changed is true:
// configs differ now, and long polls must answer); progress on the way
// (downloading, writing, trial) is stored without either; a report that
// says nothing new writes nothing.
func (s *Store) ReportUpdate(node string, rep Report) (changed bool, err error) {
	// Nearly every heartbeat repeats the last one: look before taking the
	// write lock.
	var eff effect
	err = s.db.View(func(tx *bolt.Tx) error {
		r, err := loadRollout(tx)
		if r != nil {
			eff, _ = r.observe(node, rep, s.now())
		}
		return err
	})
	if err != nil || eff == noEffect {
		return false, err
	}
	err = s.write("rollout report "+node, func(tx *bolt.Tx) (*change, error) {
		r, err := loadRollout(tx)
		if err != nil || r == nil {
			return nil, err
		}
		var c *change
		eff, c = r.observe(node, rep, s.now().UTC())
		if eff == noEffect {
			return nil, nil
		}
		return c, putRollout(tx, r)
	})
	return err == nil && eff == decided, err
}

// dropTarget takes a removed node out of the rollout, which may let the
// phase move on.
func dropTarget(tx *bolt.Tx, node string, now time.Time) (string, error) {
	r, err := loadRollout(tx)
	if err != nil || r == nil {
		return "", err
	}
	i := r.target(node)
	if i < 0 {
		return "", nil
	}
	r.Targets = slices.Delete(r.Targets, i, i+1)
	var detail string
	if r.Running() {
		for _, m := range r.advance(now) {
			detail += "; rollout phase " + m
		}
	}
	return detail, putRollout(tx, r)
}

func loadRollout(tx *bolt.Tx) (*Rollout, error) {
	var r Rollout
	ok, err := get(tx.Bucket(bucketMeta), string(keyRollout), &r)
	if err != nil || !ok {
		return nil, err
	}
	return &r, nil
}

func putRollout(tx *bolt.Tx, r *Rollout) error {
	return put(tx.Bucket(bucketMeta), string(keyRollout), r)
}

// offer is the update section the rollout gives node n, whose config c
// renders to, if it offers it one. The bundle URL is the config URL's
// server: the node API serves both.
func offer(tx *bolt.Tx, id string, c *config.Config) (config.Update, bool, error) {
	r, err := loadRollout(tx)
	if err != nil || r == nil {
		return config.Update{}, false, err
	}
	i := r.target(id)
	if i < 0 || !r.Offers(r.Targets[i]) {
		return config.Update{}, false, nil
	}
	t := r.Targets[i]
	if c.Node.Board != t.Board || c.Management.ConfigURL == "" {
		return config.Update{}, false, nil // the node moved boards, or lost its server
	}
	rel, err := loadRelease(tx, t.Board, t.Build)
	if err != nil {
		return config.Update{}, false, err
	}
	u, err := url.Parse(c.Management.ConfigURL)
	if err != nil {
		return config.Update{}, false, err
	}
	u = &url.URL{Scheme: u.Scheme, Host: u.Host, Path: BundlePath(t.Board, t.Build)}
	return config.Update{Version: rel.Version, Build: rel.Build, SHA256: rel.SHA256, Size: rel.Size, URL: u.String()}, true, nil
}

// BundlePath is where the node API serves a board's build.
func BundlePath(board string, build uint64) string {
	return "/v1/bundles/" + url.PathEscape(board) + "/" + strconv.FormatUint(build, 10)
}
