package server

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strconv"

	"github.com/goleudy/goleudy/provision/api"
	"github.com/goleudy/goleudy/provision/config"
	"github.com/goleudy/goleudy/provision/envelope"
	"github.com/goleudy/goleudy/provision/fleet"
)

// Keepalive is the persistent keepalive nodes use, in seconds: it keeps
// NAT mappings at the host's site open so the server can reach the node.
const Keepalive = 25

// EnrollHandler answers enrollment on the OOB side. It is the only thing
// the server offers there.
func (s *Server) EnrollHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/enroll", s.enroll)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, errors.New("only POST /v1/enroll is served here"))
	})
	return mux
}

func (s *Server) enroll(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, api.MaxBody+1))
	if err != nil || len(body) > api.MaxBody {
		writeError(w, http.StatusBadRequest, errors.New("request body unreadable or too large"))
		return
	}
	var req api.EnrollRequest
	if err := api.DecodeBytes(body, &req); err != nil {
		s.refuseEnroll(w, r, req, http.StatusBadRequest, fmt.Errorf("request body: %w", err))
		return
	}
	if err := checkEnrollRequest(req, body, r.Header.Get(api.HeaderSignature)); err != nil {
		s.refuseEnroll(w, r, req, http.StatusBadRequest, err)
		return
	}
	facts, _ := json.Marshal(req.Facts)
	peer, retried, err := s.store.Enroll(fleet.Enrollment{
		NodeID: req.NodeID, Token: req.Token, IdentityKey: req.IdentityKey,
		WireGuard: req.WireGuard, Facts: facts,
	}, s.o.Now())
	if err != nil {
		code := statusOf(err)
		if errors.Is(err, fleet.ErrNotFound) {
			code = http.StatusForbidden // an unknown node is a refusal, not a missing page
		}
		s.refuseEnroll(w, r, req, code, err)
		return
	}
	s.notify()
	answer, err := s.enrollment(r, req, peer)
	if err != nil {
		s.log.Error("enroll: signing the answer", "node", req.NodeID, "err", err)
		writeError(w, http.StatusInternalServerError, err)
		return
	}
	s.log.Info("node enrolled", "node", req.NodeID, "address", peer.Address, "from", r.RemoteAddr, "retry", retried)
	w.Header().Set("Content-Type", "application/json")
	w.Write(answer)
}

func (s *Server) refuseEnroll(w http.ResponseWriter, r *http.Request, req api.EnrollRequest, code int, err error) {
	s.log.Warn("enrollment refused", "node", req.NodeID, "from", r.RemoteAddr, "err", err)
	writeError(w, code, fmt.Errorf("enrollment refused: %w", err))
}

// checkEnrollRequest checks the request's fields and that its body is
// signed by the identity key it names.
func checkEnrollRequest(req api.EnrollRequest, body []byte, sig string) error {
	var probs config.Errors
	if req.NodeID == "" {
		probs = append(probs, &config.FieldError{Path: "node_id", Msg: "missing"})
	}
	if req.Token == "" {
		probs = append(probs, &config.FieldError{Path: "token", Msg: "missing"})
	}
	id, err := base64.StdEncoding.DecodeString(req.IdentityKey)
	if err != nil || len(id) != ed25519.PublicKeySize {
		probs = append(probs, &config.FieldError{Path: "identity_key", Msg: "is not a base64 ed25519 public key"})
	}
	if k, err := base64.StdEncoding.DecodeString(req.WireGuard); err != nil || len(k) != 32 {
		probs = append(probs, &config.FieldError{Path: "wireguard_key", Msg: "is not a base64 WireGuard key (32 bytes)"})
	}
	if len(probs) > 0 {
		return probs
	}
	raw, err := base64.StdEncoding.DecodeString(sig)
	if err != nil || len(raw) != ed25519.SignatureSize {
		return fmt.Errorf("the %s header is missing or not a base64 ed25519 signature", api.HeaderSignature)
	}
	if !ed25519.Verify(ed25519.PublicKey(id), body, raw) {
		return errors.New("the request is not signed by the identity key it names")
	}
	return nil
}

// enrollment builds and signs the answer for peer.
func (s *Server) enrollment(r *http.Request, req api.EnrollRequest, peer fleet.Peer) ([]byte, error) {
	endpoint := s.endpoint
	if endpoint == "" {
		// The node reached us at this host over its OOB network; the
		// tunnel is on the same host.
		host, _, err := net.SplitHostPort(r.Host)
		if err != nil {
			host = r.Host
		}
		endpoint = net.JoinHostPort(host, strconv.Itoa(s.o.TunnelPort))
	}
	hub := s.HubAddress()
	e := api.Enrollment{
		NodeID:      req.NodeID,
		IdentityKey: req.IdentityKey,
		WireGuard:   req.WireGuard,
		Tunnel: api.Tunnel{
			Address:         peer.Address,
			ServerAddress:   hub.String(),
			ServerPublicKey: s.wgKey.Public().String(),
			Endpoint:        endpoint,
			AllowedIPs:      []string{s.prefix.String()},
			Keepalive:       Keepalive,
		},
		ConfigURL: "http://" + netip.AddrPortFrom(hub, fleet.HubConfigPort).String() + "/v1/config",
		Heartbeat: "http://" + netip.AddrPortFrom(hub, fleet.HubConfigPort).String() + "/v1/heartbeat",
		Issued:    s.o.Now().UTC(),
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetIndent("", "  ")
	if err := enc.Encode(e); err != nil {
		return nil, err
	}
	return envelope.Sign(api.PayloadEnrollment, b.Bytes(), s.serverKey)
}
