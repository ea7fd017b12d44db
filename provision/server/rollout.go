package server

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/goleudy/goleudy/provision/api"
	"github.com/goleudy/goleudy/provision/fleet"
	"github.com/goleudy/goleudy/provision/noc"
)

func (s *Server) startRollout(w http.ResponseWriter, r *http.Request) error {
	var req api.RolloutRequest
	if err := decodeBody(r, &req); err != nil {
		return err
	}
	opts := []fleet.StartOption{fleet.Heard(s.heard())}
	if req.Force {
		opts = append(opts, fleet.Force())
	}
	ro, err := s.store.StartRollout(actorOf(r), req.Version, req.Canary, opts...)
	if err != nil {
		return err
	}
	s.notify()
	s.log.Info("rollout started", "version", ro.Version, "phase", ro.Phase, "targets", len(ro.Targets),
		"canary", ro.Canary, "left_out", len(ro.Skipped), "by", actorOf(r))
	writeJSON(w, http.StatusCreated, rolloutInfo(ro))
	return nil
}

func (s *Server) getRollout(w http.ResponseWriter, r *http.Request) error {
	ro, err := s.store.Rollout()
	if err != nil {
		if errors.Is(err, fleet.ErrNotFound) {
			return fmt.Errorf("no rollout has been started: %w", err)
		}
		return err
	}
	writeJSON(w, http.StatusOK, rolloutInfo(ro))
	return nil
}

func (s *Server) haltRollout(w http.ResponseWriter, r *http.Request) error {
	var req api.HaltRequest
	if err := decodeBody(r, &req); err != nil {
		return err
	}
	ro, err := s.store.HaltRollout(actorOf(r), req.Reason)
	if err != nil {
		return err
	}
	s.notify()
	s.log.Warn("rollout halted by the operator", "version", ro.Version, "reason", req.Reason, "by", actorOf(r))
	writeJSON(w, http.StatusOK, rolloutInfo(ro))
	return nil
}

// heard is the nodes heard from lately, with their reports: canaries are
// picked among them first.
func (s *Server) heard() map[string]fleet.Report {
	now := s.o.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]fleet.Report{}
	for id, b := range s.beats {
		if now.Sub(b.at) <= noc.DefaultDownAfter {
			out[id] = reportOf(b)
		}
	}
	return out
}

func reportOf(b beat) fleet.Report {
	return fleet.Report{Version: b.hb.Version, Build: b.hb.Build, Update: b.hb.Update, At: b.at}
}

// reportUpdate feeds a heartbeat to the rollout; a commit or a halt
// changes configs, so long polls are woken.
func (s *Server) reportUpdate(node string, b beat) {
	changed, err := s.store.ReportUpdate(node, reportOf(b))
	if err != nil {
		s.log.Error("rollout: recording a node's report", "node", node, "err", err)
		return
	}
	if !changed {
		return
	}
	s.notify()
	ro, err := s.store.Rollout()
	if err != nil {
		return
	}
	if ro.Phase == fleet.PhaseHalted && ro.Halt != nil && ro.Halt.Node == node {
		s.log.Warn("rollout halted by a node's failed update", "version", ro.Version, "node", node,
			"state", ro.Halt.State, "reason", ro.Halt.Reason)
		return
	}
	s.log.Info("rollout: node committed", "version", ro.Version, "node", node, "phase", ro.Phase,
		"committed", ro.Committed(), "targets", len(ro.Targets))
}

func rolloutInfo(r fleet.Rollout) api.Rollout {
	out := api.Rollout{
		Version: r.Version, Canary: r.Canary, Phase: r.Phase, Actor: r.Actor,
		Started: r.Started, PhaseAt: r.PhaseAt, Committed: r.Committed(),
		Targets: make([]api.RolloutTarget, 0, len(r.Targets)),
	}
	for _, t := range r.Targets {
		out.Targets = append(out.Targets, api.RolloutTarget{
			Node: t.Node, Board: t.Board, Build: t.Build, Canary: t.Canary, Offered: r.Offers(t),
			State: t.State, Reason: t.Reason, At: t.At, Committed: t.Committed,
		})
	}
	for _, sk := range r.Skipped {
		out.Skipped = append(out.Skipped, api.RolloutSkip{Node: sk.Node, Reason: sk.Reason})
	}
	if h := r.Halt; h != nil {
		out.Halt = &api.RolloutHalt{Node: h.Node, State: h.State, Reason: h.Reason, Actor: h.Actor, At: h.At}
	}
	return out
}
