// Package config is the node config contract that the provisioning server
// and every node speak: the Go types for the JSON document in DESIGN.md,
// a strict decoder, defaults, and validation that names every problem by its
// field path.
//
// The server renders and signs a Config; the node verifies the envelope
// (package envelope), decodes it here, and only then lets services see it.
// Because a node at a remote site cannot be reached by hand, a config that
// fails here must be refused whole, with errors an operator can act on, and
// the node keeps its last good one.
package config

// Schema is the only schema version this code understands.
const Schema = 1

// PayloadType is the DSSE payload type of a signed node config. A node refuses
// envelopes of any other type, so a signed release manifest can never be
// replayed as a config.
const PayloadType = "application/vnd.goleudy.node-config+json"

// Node states. Maintenance and drained announce with GRACEFUL_SHUTDOWN and
// then withdraw.
const (
	StateLive        = "live"
	StateMaintenance = "maintenance"
	StateDrained     = "drained"
)

// Config is one node's complete configuration. Every section except Schema,
// Serial and Node may be left out; a lab config with only DNS and Zones is
// valid.
type Config struct {
	Schema     int        `json:"schema"`
	Serial     uint64     `json:"serial"`
	Node       Node       `json:"node"`
	Interfaces Interfaces `json:"interfaces,omitzero"`
	Anycast    Anycast    `json:"anycast,omitzero"`
	BGP        BGP        `json:"bgp,omitzero"`
	DNS        DNS        `json:"dns,omitzero"`
	Zones      []Zone     `json:"zones,omitempty"`
	Catalogs   []Zone     `json:"catalogs,omitempty"`
	TSIGKeys   []TSIGKey  `json:"tsig_keys,omitempty"`
	Management Management `json:"management,omitzero"`
	Info       Info       `json:"info,omitzero"`
	Update     Update     `json:"update,omitzero"`
}

// Node names the node and says what it should be doing.
type Node struct {
	ID       string   `json:"id"`
	FQDN     string   `json:"fqdn,omitempty"`
	Board    string   `json:"board,omitempty"`
	State    string   `json:"state,omitempty"`
	Location Location `json:"location,omitzero"`
}

// Location is shown on the info page and the NOC map.
type Location struct {
	Display    string  `json:"display,omitempty"`
	City       string  `json:"city,omitempty"`
	Country    string  `json:"country,omitempty"`
	CountryISO string  `json:"countryiso,omitempty"`
	Lat        float64 `json:"lat,omitempty"`
	Lng        float64 `json:"lng,omitempty"`
}

// Interfaces assigns the physical ports their roles.
type Interfaces struct {
	OOB Interface `json:"oob,omitzero"`
	IX  Interface `json:"ix,omitzero"`
}

// Interface is one role's port: how to find it and how to address it.
// Match is an interface name, a MAC address, a driver or a bus path; empty,
// it is the port the node's board gives the role.
type Interface struct {
	Match     string   `json:"match,omitempty"`
	DHCP4     bool     `json:"dhcp4,omitempty"`
	DHCP6     bool     `json:"dhcp6,omitempty"`
	Addresses []string `json:"addresses,omitempty"`
	Gateway4  string   `json:"gateway4,omitempty"`
	Gateway6  string   `json:"gateway6,omitempty"`
}

// Anycast is what the node announces and answers on.
type Anycast struct {
	ASN       uint32   `json:"asn,omitempty"`
	Prefixes  []string `json:"prefixes,omitempty"`
	Addresses []string `json:"addresses,omitempty"`
}

// BGP holds the sessions to the host's routers.
type BGP struct {
	RouterID string `json:"router_id,omitempty"`
	Peers    []Peer `json:"peers,omitempty"`
}

// Peer is one eBGP neighbour at the host.
type Peer struct {
	Name             string   `json:"name"`
	ASN              uint32   `json:"asn"`
	Neighbor         string   `json:"neighbor"`
	Communities      []string `json:"communities,omitempty"`
	LargeCommunities []string `json:"large_communities,omitempty"`
	Prepend          int      `json:"prepend,omitempty"`
	Password         string   `json:"password,omitempty"`
	HoldTime         int      `json:"hold_time,omitempty"`
	// Passive waits for the neighbor to connect; the node then listens on
	// TCP 179, which it otherwise never does.
	Passive bool `json:"passive,omitempty"`
	// Multihop is the eBGP multihop TTL (2..255) for a neighbor that is not
	// directly connected; 0 means directly connected.
	Multihop int `json:"multihop,omitempty"`
}

// DNS configures the authoritative service.
type DNS struct {
	Listen   []string `json:"listen,omitempty"`
	Identity string   `json:"identity,omitempty"` // CHAOS id.server and hostname.bind
	NSID     string   `json:"nsid,omitempty"`
	Version  string   `json:"version,omitempty"`  // CHAOS version.bind; empty hides it
	UDPSize  int      `json:"udp_size,omitempty"` // largest UDP response; default 1232
	RRL      RRL      `json:"rrl,omitzero"`
	// Downstreams may transfer every zone from this node and are sent
	// NOTIFY when one changes: the zone hub's nodes, or a chained node.
	Downstreams []Downstream `json:"downstreams,omitempty"`
}

// Downstream is a secondary of this node.
type Downstream struct {
	Address string `json:"address"` // ip or ip:port (NOTIFY goes to the port, default 53)
	TSIG    string `json:"tsig,omitempty"`
}

// RRL is response rate limiting; zero responses per second turns it off.
type RRL struct {
	ResponsesPerSecond int `json:"responses_per_second,omitempty"`
	Slip               int `json:"slip,omitempty"`               // every slip-th limited response goes out truncated, 1..10; default 2
	IPv4PrefixLength   int `json:"ipv4_prefix_length,omitempty"` // default 24
	IPv6PrefixLength   int `json:"ipv6_prefix_length,omitempty"` // default 56
}

// Zone is a zone (or catalog zone) the node is secondary for.
type Zone struct {
	Name      string   `json:"name"`
	Primaries []string `json:"primaries"`
	TSIG      string   `json:"tsig,omitempty"`
}

// TSIGKey is a shared secret used to authenticate transfers.
type TSIGKey struct {
	Name      string `json:"name"`
	Algorithm string `json:"algorithm"`
	Secret    string `json:"secret"`
}

// Management is how the node reaches the provisioning server.
type Management struct {
	WireGuard   WireGuard `json:"wireguard,omitzero"`
	ConfigURL   string    `json:"config_url,omitempty"`
	AdminListen string    `json:"admin_listen,omitempty"`
}

// WireGuard is the node's end of the management tunnel.
type WireGuard struct {
	Endpoint   string   `json:"endpoint,omitempty"`
	PublicKey  string   `json:"public_key,omitempty"`
	Address    string   `json:"address,omitempty"`
	AllowedIPs []string `json:"allowed_ips,omitempty"`
}

// Update is the firmware release the node should run: the rollout's
// choice for it (see provision/fleet). Empty means stay on what runs. The
// node fetches the bundle from URL over its tunnel and trusts it only as
// far as the bundle's own signature by a release key from its seed; these
// fields must match the signed manifest, so a config cannot swap builds.
type Update struct {
	Version string `json:"version,omitempty"`
	Build   uint64 `json:"build,omitempty"`  // the manifest's monotonic build number
	SHA256  string `json:"sha256,omitempty"` // of the slot image, as in the manifest
	Size    int64  `json:"size,omitempty"`   // of the slot image
	URL     string `json:"url,omitempty"`    // of the bundle, on the management tunnel
}

// Info is the small JSON page naming the node's location.
type Info struct {
	Listen []string `json:"listen,omitempty"`
}
