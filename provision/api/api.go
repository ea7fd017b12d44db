// Package api is what the provisioning server and its clients say to each
// other over HTTP: the operator's REST API (nodes, zones, defaults, keys,
// status), the enrollment call a new node makes over its OOB network, and
// the node endpoints that answer only over the management tunnel (config,
// heartbeat). The types here are the wire format; the server is in
// provision/server, the operator's client is Client.
//
// # Operator API (Authorization: Bearer TOKEN)
//
//	GET    /v1/nodes                  []NodeInfo
//	POST   /v1/nodes                  NodeInfo → 201 NewNode (node, one-time token, seed)
//	GET    /v1/nodes/{id}             NodeInfo
//	PUT    /v1/nodes/{id}             NodeInfo → NodeInfo
//	DELETE /v1/nodes/{id}             204
//	POST   /v1/nodes/{id}/token       → NewNode (a fresh token and seed; the node re-enrolls)
//	GET    /v1/nodes/{id}/config      the rendered config; ?signed=1 for the envelope nodes fetch
//	GET    /v1/zones                  []Zone
//	POST   /v1/zones                  Zone → 201 Zone
//	DELETE /v1/zones/{name}           204
//	GET    /v1/defaults               fleet defaults (a config document)
//	PUT    /v1/defaults               → the stored defaults
//	GET    /v1/keys                   Keys
//	GET    /v1/status                 Status
//	GET    /v1/audit?after=N&limit=N  the audit log, oldest first
//	POST   /v1/releases               a bundle as the body (streamed) → 201 Release
//	GET    /v1/releases[?board=B]     []Release, by board and build
//	POST   /v1/rollout                RolloutRequest → 201 Rollout
//	GET    /v1/rollout                Rollout (404 before the first)
//	POST   /v1/rollout/halt           HaltRequest → Rollout
//
// Errors are an Error body with the HTTP status: 400 for bad input (with
// the field paths), 401 without the operator token, 404 for an unknown
// node or zone, 409 for a duplicate, 405 for a wrong method.
//
// # Enrollment (OOB)
//
//	POST /v1/enroll   EnrollRequest, signed → a DSSE envelope of Enrollment
//	                  (PayloadEnrollment), signed by the server key the
//	                  node's seed pins
//
// # Node endpoints (tunnel only, keyed on the peer's tunnel address)
//
//	GET  /v1/config?wait=SECONDS   the node's signed config; ETag and
//	                               If-None-Match make it a long poll that
//	                               answers 304 when nothing changed
//	POST /v1/heartbeat             Heartbeat → 204
//	GET  /v1/update                Update: the releases for the node's board
//	GET  /v1/bundles/{board}/{build}   a release bundle of the node's own
//	                               board, with Range requests (resume) and
//	                               the image's sha256 as ETag
package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"
)

// Payload types of the envelopes the server signs.
const (
	PayloadEnrollment = "application/vnd.goleudy.enrollment+json"
)

// Header names.
const (
	// HeaderSignature carries the node's ed25519 signature (base64) over
	// the body of an EnrollRequest, made with the identity key it names.
	HeaderSignature = "Goleudy-Signature"
)

// MaxBody bounds every request body the server reads.
const MaxBody = 1 << 20

// DefaultHeartbeat is how often a node reports.
const DefaultHeartbeat = 10 * time.Second

// NodeInfo is a node as the operator sees it: the node document (a
// fragment of the config contract merged over the fleet defaults), the
// in-service date and a free-text note.
//
// Config is kept as raw JSON so that the server decodes it with the
// config package's strict decoder and every error names its field.
type NodeInfo struct {
	Config    json.RawMessage `json:"config"`
	InService string          `json:"in_service,omitempty"` // YYYY-MM-DD
	Notes     string          `json:"notes,omitempty"`
}

// NewNode answers a node add: the node, and the one-time enrollment token
// with the seed an image for the node carries.
type NewNode struct {
	Node    NodeInfo  `json:"node"`
	Token   string    `json:"token"`
	Expires time.Time `json:"expires"`
	Seed    Seed      `json:"seed"`
}

// Zone is a customer zone: every node serves it, pulled through the hub.
type Zone struct {
	Name      string   `json:"name"`
	Primaries []string `json:"primaries"`
	TSIG      string   `json:"tsig,omitempty"`
}

// Keys are the fleet's public keys.
type Keys struct {
	// ServerKey signs enrollment answers; seeds pin it (base64 ed25519).
	ServerKey string `json:"server_key"`
	// Trust are the config keys nodes trust (base64 ed25519), with ids.
	Trust []TrustKey `json:"trust"`
	// WireGuard is the server's tunnel public key (base64).
	WireGuard string `json:"wireguard"`
	// Endpoint is the tunnel endpoint nodes dial, HOST:PORT; empty when
	// the server derives it from the enrollment request.
	Endpoint string `json:"endpoint,omitempty"`
	// ReleaseTrust are the release keys (base64 ed25519) seeds carry:
	// nodes accept update bundles signed by one of them.
	ReleaseTrust []TrustKey `json:"release_trust,omitempty"`
}

// TrustKey is one config signing key.
type TrustKey struct {
	ID  string `json:"id"`
	Key string `json:"key"`
}

// Seed is what an image for one node carries on its boot partition: who
// it is, where to enroll, the key the answer must be signed with, the
// one-time token, and the config keys it trusts.
type Seed struct {
	NodeID    string   `json:"node_id"`
	EnrollURL string   `json:"enroll_url"`
	ServerKey string   `json:"server_key"`
	Token     string   `json:"token"`
	Trust     []string `json:"trust"`
	// ReleaseTrust are the public keys (base64 ed25519) whose signature
	// on an update bundle's manifest the node accepts. None: the node
	// takes no update.
	ReleaseTrust []string `json:"release_trust,omitempty"`
	// OOB holds static settings for the OOB port, used when DHCP fails.
	OOB *StaticOOB `json:"oob,omitempty"`
}

// StaticOOB is a fallback address for the OOB port.
type StaticOOB struct {
	Address4 string   `json:"address4,omitempty"` // CIDR
	Gateway4 string   `json:"gateway4,omitempty"`
	Address6 string   `json:"address6,omitempty"`
	Gateway6 string   `json:"gateway6,omitempty"`
	DNS      []string `json:"dns,omitempty"`
}

// Facts describe a node's hardware, reported at enrollment.
type Facts struct {
	Board    string   `json:"board,omitempty"`
	Arch     string   `json:"arch,omitempty"`
	Kernel   string   `json:"kernel,omitempty"`
	MACs     []string `json:"macs,omitempty"`
	Serial   string   `json:"serial,omitempty"`
	CPUs     int      `json:"cpus,omitempty"`
	MemoryMB int      `json:"memory_mb,omitempty"`
}

// EnrollRequest is a node's first call home. The body is signed with the
// identity key (HeaderSignature), which proves the node holds it.
type EnrollRequest struct {
	NodeID      string    `json:"node_id"`
	Token       string    `json:"token"`
	IdentityKey string    `json:"identity_key"`  // base64 ed25519 public key
	WireGuard   string    `json:"wireguard_key"` // base64 Curve25519 public key
	Facts       Facts     `json:"facts"`
	Time        time.Time `json:"time"`
}

// Enrollment is the server's signed answer: the tunnel the node is to
// bring up and where to fetch its config.
type Enrollment struct {
	NodeID      string    `json:"node_id"`
	IdentityKey string    `json:"identity_key"` // echoes the request
	WireGuard   string    `json:"wireguard_key"`
	Tunnel      Tunnel    `json:"tunnel"`
	ConfigURL   string    `json:"config_url"`
	Heartbeat   string    `json:"heartbeat_url"`
	Issued      time.Time `json:"issued"`
}

// Tunnel is the node's side of the management tunnel.
type Tunnel struct {
	Address         string   `json:"address"`           // the node's, e.g. 10.53.0.7/32
	ServerAddress   string   `json:"server_address"`    // the hub's, e.g. 10.53.0.1
	ServerPublicKey string   `json:"server_public_key"` // base64
	Endpoint        string   `json:"endpoint"`          // HOST:PORT over OOB
	AllowedIPs      []string `json:"allowed_ips"`       // the tunnel prefix
	Keepalive       int      `json:"keepalive"`         // seconds
}

// Heartbeat is what a node reports over the tunnel.
type Heartbeat struct {
	NodeID       string        `json:"node_id"`
	Time         time.Time     `json:"time"`
	Version      string        `json:"version"`
	Build        uint64        `json:"build,omitempty"` // the running slot's release build
	Slot         string        `json:"slot,omitempty"`
	Board        string        `json:"board,omitempty"`
	Uptime       float64       `json:"uptime_seconds"`
	ConfigSerial uint64        `json:"config_serial"`
	ConfigError  string        `json:"config_error,omitempty"` // the last refusal, if any
	State        string        `json:"state"`                  // node.state applied
	Ready        bool          `json:"ready"`
	Healthy      bool          `json:"healthy"`
	Zones        []ZoneSerial  `json:"zones,omitempty"`
	BGP          []BGPSession  `json:"bgp,omitempty"`
	Services     []ServiceInfo `json:"services,omitempty"`
	// OOB is the node's addresses on its OOB port, and where they came
	// from ("dhcp4", "static", "slaac", "dhcp6").
	OOB []OOBAddress `json:"oob,omitempty"`
	// Clock says whether the node's clock is synced (SNTP) or only above
	// its persisted floor.
	Clock string `json:"clock,omitempty"`
	// Update is the update agent's latest word on the release the config
	// asks for (or the last one it tried).
	Update *UpdateReport `json:"update,omitempty"`
}

// Update states a node reports. Committed, RolledBack and Refused are
// outcomes; the rest are steps on the way.
const (
	UpdateDownloading = "downloading"
	UpdateWriting     = "writing"
	UpdateTrial       = "trial"       // switched, rebooting into the new slot
	UpdateCommitted   = "committed"   // running the release, slot committed
	UpdateRolledBack  = "rolled_back" // the new slot failed; back on the old one
	UpdateRefused     = "refused"     // bad signature, board, hash or build: not written
	UpdateFailed      = "failed"      // could not download or write; will retry
)

// UpdateReport is where a node stands with one release.
type UpdateReport struct {
	Version string    `json:"version"`
	Build   uint64    `json:"build"`
	State   string    `json:"state"`
	Reason  string    `json:"reason,omitempty"` // why, for rolled_back, refused and failed
	At      time.Time `json:"at"`
	// Done and Total are bytes, while downloading or writing.
	Done  int64 `json:"done,omitempty"`
	Total int64 `json:"total,omitempty"`
}

// OOBAddress is one address on a node's OOB port.
type OOBAddress struct {
	Address string `json:"address"` // CIDR
	Source  string `json:"source"`
}

// ZoneSerial is one zone's serial at the node.
type ZoneSerial struct {
	Name    string `json:"name"`
	Serial  uint32 `json:"serial"`
	Expired bool   `json:"expired,omitempty"`
	Pending bool   `json:"pending,omitempty"` // not transferred yet
}

// BGPSession is one BGP neighbor's state.
type BGPSession struct {
	Name     string `json:"name"`
	Neighbor string `json:"neighbor"`
	State    string `json:"state"`  // idle, connect, active, opensent, openconfirm, established
	Family   string `json:"family"` // ipv4 or ipv6, by the neighbor address
}

// ServiceInfo is a supervised service's state.
type ServiceInfo struct {
	Name    string `json:"name"`
	State   string `json:"state"`
	Healthy bool   `json:"healthy"`
}

// Update is the release metadata a node's update agent reads.
type Update struct {
	Board    string    `json:"board"`
	Releases []Release `json:"releases"` // oldest build first
}

// Release is one firmware build for a board: its signed manifest, and
// what the server stored.
type Release struct {
	Board   string `json:"board,omitempty"`
	Version string `json:"version"`
	Build   uint64 `json:"build"`
	SHA256  string `json:"sha256"`         // of the slot image
	Size    int64  `json:"size,omitempty"` // of the slot image
	// Created is the manifest's build time; Downgrade says it was signed
	// for nodes on a higher build.
	Created   time.Time `json:"created,omitzero"`
	Downgrade bool      `json:"downgrade,omitempty"`
	// BundleSize is the whole bundle's, as nodes download it.
	BundleSize int64     `json:"bundle_size,omitempty"`
	Published  time.Time `json:"published,omitzero"`
}

// Rollout phases.
const (
	RolloutCanary = "canary" // only the canaries are offered the release
	RolloutAll    = "all"    // every target is
	RolloutDone   = "done"   // every target committed it
	RolloutHalted = "halted" // a target failed it, or the operator halted it
)

// RolloutRequest starts a rollout of Version: the first Canary targets
// first, the rest once they all committed. Force replaces a running one.
type RolloutRequest struct {
	Version string `json:"version"`
	Canary  int    `json:"canary"`
	Force   bool   `json:"force,omitempty"`
}

// HaltRequest halts the running rollout, saying why.
type HaltRequest struct {
	Reason string `json:"reason,omitempty"`
}

// Rollout is the current rollout and where each node stands.
type Rollout struct {
	Version   string          `json:"version"`
	Canary    int             `json:"canary"`
	Phase     string          `json:"phase"`
	Actor     string          `json:"actor"`
	Started   time.Time       `json:"started"`
	PhaseAt   time.Time       `json:"phase_at"` // when Phase was entered
	Committed int             `json:"committed"`
	Targets   []RolloutTarget `json:"targets"` // canaries first
	Skipped   []RolloutSkip   `json:"skipped,omitempty"`
	Halt      *RolloutHalt    `json:"halt,omitempty"`
}

// RolloutTarget is one node a rollout updates.
type RolloutTarget struct {
	Node    string `json:"node"`
	Board   string `json:"board"`
	Build   uint64 `json:"build"`
	Canary  bool   `json:"canary,omitempty"`
	Offered bool   `json:"offered"` // its config carries the release now
	// State is the node's last update state for Build (Update*), empty
	// before its first word; Reason and At come with it.
	State     string    `json:"state,omitempty"`
	Reason    string    `json:"reason,omitempty"`
	At        time.Time `json:"at,omitzero"`
	Committed time.Time `json:"committed,omitzero"`
}

// RolloutSkip is a node a rollout left out.
type RolloutSkip struct {
	Node   string `json:"node"`
	Reason string `json:"reason"`
}

// RolloutHalt says why a rollout halted: a node's failed update (Node
// set), or the operator (Actor).
type RolloutHalt struct {
	Node   string    `json:"node,omitempty"`
	State  string    `json:"state,omitempty"`
	Reason string    `json:"reason,omitempty"`
	Actor  string    `json:"actor"`
	At     time.Time `json:"at"`
}

// Status is the fleet as the NOC sees it.
type Status struct {
	Serial    uint64       `json:"serial"`
	Generated time.Time    `json:"generated"`
	Zones     []ZoneSerial `json:"zones"` // at the hub
	Nodes     []NodeStatus `json:"nodes"`
}

// NodeStatus is one node's row.
type NodeStatus struct {
	ID            string     `json:"id"`
	State         string     `json:"state"` // live, maintenance, in progress, down
	Enrolled      bool       `json:"enrolled"`
	TunnelAddress string     `json:"tunnel_address,omitempty"`
	Heartbeat     *Heartbeat `json:"heartbeat,omitempty"`
	ZonesBehind   int        `json:"zones_behind"`
	ZonesMissing  int        `json:"zones_missing"`
}

// Error is the body of every error answer.
type Error struct {
	Error  string       `json:"error"`
	Fields []FieldError `json:"fields,omitempty"`
}

// FieldError names one bad field.
type FieldError struct {
	Path string `json:"path"`
	Msg  string `json:"msg"`
}

// Decode reads exactly one JSON value of v's type from r, refusing unknown
// fields and trailing data; the error says where.
func Decode(r io.Reader, v any) error {
	data, err := io.ReadAll(io.LimitReader(r, MaxBody+1))
	if err != nil {
		return err
	}
	if len(data) > MaxBody {
		return fmt.Errorf("body larger than %d bytes", MaxBody)
	}
	return DecodeBytes(data, v)
}

// DecodeBytes is Decode for a byte slice.
func DecodeBytes(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var se *json.SyntaxError
		var te *json.UnmarshalTypeError
		switch {
		case errors.As(err, &se):
			return fmt.Errorf("JSON syntax error at byte %d: %v", se.Offset, err)
		case errors.As(err, &te):
			return fmt.Errorf("%s: want %s, got JSON %s", te.Field, te.Type, te.Value)
		case errors.Is(err, io.EOF):
			return errors.New("empty body: want a JSON object")
		}
		return err
	}
	if dec.More() {
		return errors.New("trailing data after the JSON object")
	}
	return nil
}
