package server

import (
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/goleudy/goleudy/provision/api"
	"github.com/goleudy/goleudy/provision/config"
	"github.com/goleudy/goleudy/provision/envelope"
	"github.com/goleudy/goleudy/provision/fleet"
)

// dateLayout is how in-service dates are written.
const dateLayout = "2006-01-02"

// OperatorHandler is the operator's REST API and the NOC page. Every /v1
// call needs the operator token; the NOC page at / does not.
func (s *Server) OperatorHandler() http.Handler {
	mux := http.NewServeMux()
	handle := func(pattern string, f func(w http.ResponseWriter, r *http.Request) error) {
		mux.Handle(pattern, s.operator(f))
	}
	handle("GET /v1/nodes", s.listNodes)
	handle("POST /v1/nodes", s.addNode)
	handle("GET /v1/nodes/{id}", s.getNode)
	handle("PUT /v1/nodes/{id}", s.putNode)
	handle("DELETE /v1/nodes/{id}", s.removeNode)
	handle("POST /v1/nodes/{id}/token", s.newToken)
	handle("GET /v1/nodes/{id}/config", s.nodeConfig)
	handle("GET /v1/zones", s.listZones)
	handle("POST /v1/zones", s.addZone)
	handle("DELETE /v1/zones/{name}", s.removeZone)
	handle("GET /v1/defaults", s.getDefaults)
	handle("PUT /v1/defaults", s.putDefaults)
	handle("GET /v1/keys", s.keys)
	handle("GET /v1/status", s.statusJSON)
	handle("GET /v1/audit", s.audit)
	handle("POST /v1/releases", s.publish)
	handle("GET /v1/releases", s.listReleases)
	handle("POST /v1/rollout", s.startRollout)
	handle("GET /v1/rollout", s.getRollout)
	handle("POST /v1/rollout/halt", s.haltRollout)
	mux.Handle("GET /{$}", s.nocHandler())
	mux.HandleFunc("/v1/", func(w http.ResponseWriter, r *http.Request) {
		if !s.authorized(r) {
			writeError(w, http.StatusUnauthorized, errors.New("missing or wrong operator token"))
			return
		}
		writeError(w, http.StatusNotFound, fmt.Errorf("no such API call: %s %s", r.Method, r.URL.Path))
	})
	return mux
}

// operator wraps an API handler with the token check and error mapping.
func (s *Server) operator(f func(w http.ResponseWriter, r *http.Request) error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !s.authorized(r) {
			s.log.Warn("api: refused a call without the operator token", "method", r.Method, "path", r.URL.Path, "from", r.RemoteAddr)
			w.Header().Set("WWW-Authenticate", `Bearer realm="goleudy"`)
			writeError(w, http.StatusUnauthorized, errors.New("missing or wrong operator token"))
			return
		}
		if err := f(w, r); err != nil {
			code := statusOf(err)
			if code >= 500 {
				s.log.Error("api: call failed", "method", r.Method, "path", r.URL.Path, "err", err)
			}
			writeError(w, code, err)
		}
	})
}

// badRequest marks an error as the client's fault.
type badRequest struct{ err error }

func (e badRequest) Error() string { return e.err.Error() }
func (e badRequest) Unwrap() error { return e.err }

func statusOf(err error) int {
	var br badRequest
	switch {
	case errors.Is(err, config.ErrInvalid), errors.As(err, &br):
		return http.StatusBadRequest
	case errors.Is(err, fleet.ErrNotFound):
		return http.StatusNotFound
	case errors.Is(err, fleet.ErrExists), errors.Is(err, fleet.ErrKeyInUse), errors.Is(err, fleet.ErrPrefixInUse),
		errors.Is(err, fleet.ErrBuildOrder), errors.Is(err, fleet.ErrRolloutRunning), errors.Is(err, fleet.ErrNoRollout):
		return http.StatusConflict
	case errors.Is(err, fleet.ErrTokenUnknown), errors.Is(err, fleet.ErrTokenUsed),
		errors.Is(err, fleet.ErrTokenExpired), errors.Is(err, fleet.ErrTokenOtherNode):
		return http.StatusForbidden
	}
	return http.StatusInternalServerError
}

func writeError(w http.ResponseWriter, code int, err error) {
	body := api.Error{Error: err.Error()}
	var fe config.Errors
	if errors.As(err, &fe) {
		for _, e := range fe {
			body.Fields = append(body.Fields, api.FieldError{Path: e.Path, Msg: e.Msg})
		}
	}
	writeJSON(w, code, body)
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	w.Write(append(data, '\n'))
}

func decodeBody(r *http.Request, v any) error {
	if err := api.Decode(r.Body, v); err != nil {
		return badRequest{fmt.Errorf("request body: %w", err)}
	}
	return nil
}

func actorOf(r *http.Request) string {
	if a := r.Header.Get("Goleudy-Actor"); a != "" && len(a) <= 64 {
		return "operator:" + a
	}
	return "operator"
}

// nodeFromInfo decodes a node document strictly; errors name the field.
func nodeFromInfo(in api.NodeInfo) (fleet.Node, error) {
	if len(in.Config) == 0 || string(in.Config) == "null" {
		return fleet.Node{}, config.Errors{{Path: "config", Msg: "missing: give the node document"}}
	}
	c, err := config.Decode(in.Config)
	if err != nil {
		return fleet.Node{}, err
	}
	n := fleet.Node{Config: *c, Notes: in.Notes}
	if in.InService != "" {
		t, err := time.Parse(dateLayout, in.InService)
		if err != nil {
			return fleet.Node{}, config.Errors{{Path: "in_service", Msg: fmt.Sprintf("%q is not a date like 2026-11-21", in.InService)}}
		}
		n.InService = t
	}
	return n, nil
}

// decodeNode reads a NodeInfo body as a node document.
func decodeNode(r *http.Request) (fleet.Node, error) {
	var in api.NodeInfo
	if err := decodeBody(r, &in); err != nil {
		return fleet.Node{}, err
	}
	return nodeFromInfo(in)
}

func infoFromNode(n fleet.Node) (api.NodeInfo, error) {
	data, err := json.Marshal(n.Config)
	if err != nil {
		return api.NodeInfo{}, err
	}
	in := api.NodeInfo{Config: data, Notes: n.Notes}
	if !n.InService.IsZero() {
		in.InService = n.InService.Format(dateLayout)
	}
	return in, nil
}

func (s *Server) listNodes(w http.ResponseWriter, r *http.Request) error {
	nodes, err := s.store.ListNodes()
	if err != nil {
		return err
	}
	out := make([]api.NodeInfo, 0, len(nodes))
	for _, n := range nodes {
		in, err := infoFromNode(n)
		if err != nil {
			return err
		}
		out = append(out, in)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) addNode(w http.ResponseWriter, r *http.Request) error {
	n, err := decodeNode(r)
	if err != nil {
		return err
	}
	who := actorOf(r)
	if err := s.store.AddNode(who, n); err != nil {
		return err
	}
	nn, err := s.issueToken(who, n.ID())
	if err != nil {
		// A node nobody can enroll is half-added; take it back out.
		if rerr := s.store.RemoveNode(who, n.ID()); rerr != nil {
			err = fmt.Errorf("%w; and removing the node again: %w", err, rerr)
		}
		s.notify()
		return err
	}
	s.notify()
	writeJSON(w, http.StatusCreated, nn)
	return nil
}

// issueToken creates a one-time token for id and the seed carrying it.
func (s *Server) issueToken(actor, id string) (api.NewNode, error) {
	if s.o.EnrollURL == "" {
		return api.NewNode{}, errors.New("the server has no enrollment URL (--enroll-url); nodes could not use a token")
	}
	expires := s.o.Now().Add(TokenLifetime).UTC().Truncate(time.Second)
	tok, err := s.store.NewToken(actor, id, expires)
	if err != nil {
		return api.NewNode{}, err
	}
	n, err := s.store.GetNode(id)
	if err != nil {
		return api.NewNode{}, err
	}
	info, err := infoFromNode(n)
	if err != nil {
		return api.NewNode{}, err
	}
	seed := api.Seed{
		NodeID:    id,
		EnrollURL: s.o.EnrollURL,
		ServerKey: base64.StdEncoding.EncodeToString(s.serverKey.Public().(ed25519.PublicKey)),
		Token:     tok,
	}
	for _, k := range s.configKeys {
		seed.Trust = append(seed.Trust, base64.StdEncoding.EncodeToString(k.Public().(ed25519.PublicKey)))
	}
	for _, k := range s.releaseKeys {
		seed.ReleaseTrust = append(seed.ReleaseTrust, base64.StdEncoding.EncodeToString(k))
	}
	return api.NewNode{Node: info, Token: tok, Expires: expires, Seed: seed}, nil
}

func (s *Server) getNode(w http.ResponseWriter, r *http.Request) error {
	n, err := s.store.GetNode(r.PathValue("id"))
	if err != nil {
		return err
	}
	in, err := infoFromNode(n)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, in)
	return nil
}

func (s *Server) putNode(w http.ResponseWriter, r *http.Request) error {
	n, err := decodeNode(r)
	if err != nil {
		return err
	}
	if id := r.PathValue("id"); n.ID() != id {
		return config.Errors{{Path: "node.id", Msg: fmt.Sprintf("%q does not match the node %q in the URL", n.ID(), id)}}
	}
	if err := s.store.UpdateNode(actorOf(r), n); err != nil {
		return err
	}
	s.notify()
	return s.getNode(w, r)
}

func (s *Server) removeNode(w http.ResponseWriter, r *http.Request) error {
	if err := s.store.RemoveNode(actorOf(r), r.PathValue("id")); err != nil {
		return err
	}
	s.mu.Lock()
	delete(s.beats, r.PathValue("id"))
	s.mu.Unlock()
	s.notify()
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) newToken(w http.ResponseWriter, r *http.Request) error {
	nn, err := s.issueToken(actorOf(r), r.PathValue("id"))
	if err != nil {
		return err
	}
	s.notify()
	writeJSON(w, http.StatusCreated, nn)
	return nil
}

func (s *Server) nodeConfig(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	if r.URL.Query().Get("signed") != "" {
		data, _, err := s.signedConfig(id)
		if err != nil {
			return err
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write(data)
		return nil
	}
	c, err := s.store.Render(id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, c)
	return nil
}

// signedConfig renders and signs id's config; it returns the envelope and
// the serial.
func (s *Server) signedConfig(id string) ([]byte, uint64, error) {
	c, err := s.store.Render(id)
	if err != nil {
		return nil, 0, err
	}
	data, err := c.Encode()
	if err != nil {
		return nil, 0, err
	}
	env, err := envelope.Sign(config.PayloadType, data, s.configKeys...)
	if err != nil {
		return nil, 0, err
	}
	return env, c.Serial, nil
}

func (s *Server) listZones(w http.ResponseWriter, r *http.Request) error {
	zs, err := s.store.ListZones()
	if err != nil {
		return err
	}
	out := make([]api.Zone, 0, len(zs))
	for _, z := range zs {
		out = append(out, api.Zone{Name: z.Name, Primaries: z.Primaries, TSIG: z.TSIG})
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) addZone(w http.ResponseWriter, r *http.Request) error {
	var z api.Zone
	if err := decodeBody(r, &z); err != nil {
		return err
	}
	if err := s.store.AddZone(actorOf(r), fleet.Zone{Name: z.Name, Primaries: z.Primaries, TSIG: z.TSIG}); err != nil {
		return err
	}
	s.notify()
	writeJSON(w, http.StatusCreated, z)
	return nil
}

func (s *Server) removeZone(w http.ResponseWriter, r *http.Request) error {
	if err := s.store.RemoveZone(actorOf(r), r.PathValue("name")); err != nil {
		return err
	}
	s.notify()
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) getDefaults(w http.ResponseWriter, r *http.Request) error {
	d, err := s.store.Defaults()
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, d)
	return nil
}

func (s *Server) putDefaults(w http.ResponseWriter, r *http.Request) error {
	data, err := readBody(r)
	if err != nil {
		return err
	}
	d, err := config.Decode(data)
	if err != nil {
		return err
	}
	if err := s.store.SetDefaults(actorOf(r), *d); err != nil {
		return err
	}
	s.notify()
	return s.getDefaults(w, r)
}

func readBody(r *http.Request) ([]byte, error) {
	var raw json.RawMessage
	if err := decodeBody(r, &raw); err != nil {
		return nil, err
	}
	return raw, nil
}

func (s *Server) keys(w http.ResponseWriter, r *http.Request) error {
	writeJSON(w, http.StatusOK, s.Keys())
	return nil
}

// Keys are the fleet's public keys.
func (s *Server) Keys() api.Keys {
	k := api.Keys{
		ServerKey: base64.StdEncoding.EncodeToString(s.serverKey.Public().(ed25519.PublicKey)),
		WireGuard: s.wgKey.Public().String(),
		Endpoint:  s.endpoint,
	}
	for _, c := range s.configKeys {
		pub := c.Public().(ed25519.PublicKey)
		k.Trust = append(k.Trust, api.TrustKey{ID: envelope.KeyID(pub), Key: base64.StdEncoding.EncodeToString(pub)})
	}
	for _, pub := range s.releaseKeys {
		k.ReleaseTrust = append(k.ReleaseTrust, api.TrustKey{ID: envelope.KeyID(pub), Key: base64.StdEncoding.EncodeToString(pub)})
	}
	return k
}

func (s *Server) audit(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	after, err := uintParam(q.Get("after"))
	if err != nil {
		return badRequest{fmt.Errorf("after: %w", err)}
	}
	limit, err := uintParam(q.Get("limit"))
	if err != nil {
		return badRequest{fmt.Errorf("limit: %w", err)}
	}
	es, err := s.store.Audit(after, int(min(limit, 10000)))
	if err != nil {
		return err
	}
	if es == nil {
		es = []fleet.Entry{}
	}
	writeJSON(w, http.StatusOK, es)
	return nil
}

func uintParam(s string) (uint64, error) {
	if s == "" {
		return 0, nil
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%q is not a whole number", s)
	}
	return n, nil
}
