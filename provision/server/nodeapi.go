package server

import (
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"strconv"
	"time"

	"github.com/goleudy/goleudy/provision/api"
	"github.com/goleudy/goleudy/provision/fleet"
)

// NodeHandler serves the node endpoints. It listens on the tunnel address
// only, and each call is keyed on the caller's tunnel address: WireGuard
// lets a peer send only from the address bound to its key, so the address
// is the node's identity.
func (s *Server) NodeHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/config", s.node(s.config))
	mux.HandleFunc("POST /v1/heartbeat", s.node(s.heartbeat))
	mux.HandleFunc("GET /v1/update", s.node(s.update))
	mux.HandleFunc("GET /v1/bundles/{board}/{build}", s.node(s.bundle))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, fmt.Errorf("no such node call: %s %s", r.Method, r.URL.Path))
	})
	return mux
}

// node resolves the calling node from its tunnel address.
func (s *Server) node(f func(w http.ResponseWriter, r *http.Request, p fleet.Peer)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ap, err := netip.ParseAddrPort(r.RemoteAddr)
		if err != nil {
			writeError(w, http.StatusForbidden, errors.New("unknown caller"))
			return
		}
		p, err := s.store.PeerByAddress(ap.Addr())
		if err != nil {
			s.log.Warn("node call from an address no node holds", "from", r.RemoteAddr, "path", r.URL.Path)
			writeError(w, http.StatusForbidden, fmt.Errorf("%s is no enrolled node's tunnel address", ap.Addr()))
			return
		}
		f(w, r, p)
	}
}

func etagOf(serial uint64) string { return `"` + strconv.FormatUint(serial, 10) + `"` }

// config answers the node's signed config. With If-None-Match naming the
// current serial and ?wait=SECONDS it holds the request until the fleet
// changes or the wait ends (304): a long poll, so a change reaches the
// node as soon as it is stored.
func (s *Server) config(w http.ResponseWriter, r *http.Request, p fleet.Peer) {
	wait := time.Duration(0)
	if v := r.URL.Query().Get("wait"); v != "" {
		n, err := strconv.ParseFloat(v, 64)
		if err != nil || n < 0 {
			writeError(w, http.StatusBadRequest, fmt.Errorf("wait: %q is not a number of seconds", v))
			return
		}
		wait = min(time.Duration(n*float64(time.Second)), MaxWait)
	}
	timer := time.NewTimer(wait)
	defer timer.Stop()
	for {
		ch := s.watch()
		serial, err := s.store.Serial()
		if err != nil {
			writeError(w, http.StatusInternalServerError, err)
			return
		}
		if r.Header.Get("If-None-Match") != etagOf(serial) {
			data, serial, err := s.signedConfig(p.NodeID)
			if err != nil {
				s.log.Error("config for node", "node", p.NodeID, "err", err)
				writeError(w, statusOf(err), err)
				return
			}
			w.Header().Set("ETag", etagOf(serial))
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Cache-Control", "no-store")
			w.Write(data)
			return
		}
		select {
		case <-ch:
			continue
		case <-timer.C:
		case <-r.Context().Done():
			return
		}
		w.Header().Set("ETag", etagOf(serial))
		w.WriteHeader(http.StatusNotModified)
		return
	}
}

func (s *Server) heartbeat(w http.ResponseWriter, r *http.Request, p fleet.Peer) {
	var hb api.Heartbeat
	if err := api.Decode(r.Body, &hb); err != nil {
		writeError(w, http.StatusBadRequest, fmt.Errorf("heartbeat: %w", err))
		return
	}
	if hb.NodeID != "" && hb.NodeID != p.NodeID {
		s.log.Warn("heartbeat names another node; keyed on the tunnel address", "node", p.NodeID, "claimed", hb.NodeID)
	}
	hb.NodeID = p.NodeID
	b := beat{hb: hb, at: s.o.Now()}
	s.mu.Lock()
	s.beats[p.NodeID] = b
	s.mu.Unlock()
	s.reportUpdate(p.NodeID, b)
	w.WriteHeader(http.StatusNoContent)
}

// update answers the release metadata for the node's board, newest build
// last: what the update agent compares its own build with. The bundles
// themselves are at /v1/bundles/BOARD/BUILD; which one a node should run
// is its config's update section, the rollout's choice.
func (s *Server) update(w http.ResponseWriter, r *http.Request, p fleet.Peer) {
	c, err := s.store.Render(p.NodeID)
	if err != nil {
		writeError(w, statusOf(err), err)
		return
	}
	rs, err := s.store.Releases(c.Node.Board)
	if err != nil {
		writeError(w, http.StatusInternalServerError, err)
		return
	}
	out := api.Update{Board: c.Node.Board, Releases: []api.Release{}}
	for _, rel := range rs {
		out.Releases = append(out.Releases, releaseInfo(rel))
	}
	writeJSON(w, http.StatusOK, out)
}
