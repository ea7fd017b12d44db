package fleet

import (
	"fmt"
	"net"
	"net/netip"

	"github.com/goleudy/goleudy/provision/config"
	bolt "go.etcd.io/bbolt"
)

// CatalogName is the catalog zone (RFC 9432) the zone hub publishes,
// listing every customer zone. Nodes are configured with it rather than
// with each zone, so adding a zone reaches them by NOTIFY.
const CatalogName = "catalog.goleudy.invalid."

// Hub ports on the server's tunnel address.
const (
	HubDNSPort    = 53
	HubConfigPort = 8053
	NodeAdminPort = 9053
)

var keyServer = []byte("server")

// Server is how nodes reach the provisioning server: its WireGuard public
// key and the endpoint they dial over their OOB network. Once it and the
// tunnel prefix are set, Render gives every node a management section and
// the hub's catalog in place of the customer zones.
type Server struct {
	PublicKey string `json:"public_key"` // base64 WireGuard key
	Endpoint  string `json:"endpoint"`   // HOST:PORT
}

// SetServer records the server's tunnel settings. Setting the same ones
// again changes nothing and does not bump the serial.
func (s *Store) SetServer(actor string, srv Server) error {
	if cur, err := s.Server(); err == nil && cur == srv {
		return nil
	}
	c := &change{actor: actor, action: "server set", subject: srv.Endpoint, detail: srv.PublicKey}
	return s.update(c, func(tx *bolt.Tx) error {
		var probs config.Errors
		if h, port, err := net.SplitHostPort(srv.Endpoint); err != nil || h == "" || port == "" {
			probs = append(probs, &config.FieldError{Path: "endpoint", Msg: fmt.Sprintf("%q is not HOST:PORT", srv.Endpoint)})
		}
		if len(srv.PublicKey) != 44 {
			probs = append(probs, &config.FieldError{Path: "public_key", Msg: "is not a base64 WireGuard key"})
		}
		if len(probs) > 0 {
			return probs
		}
		return put(tx.Bucket(bucketMeta), string(keyServer), srv)
	})
}

// Server returns the server's tunnel settings, or ErrNotFound.
func (s *Store) Server() (Server, error) {
	var srv Server
	err := s.db.View(func(tx *bolt.Tx) error {
		var err error
		srv, err = server(tx)
		return err
	})
	return srv, err
}

func server(tx *bolt.Tx) (Server, error) {
	var srv Server
	ok, err := get(tx.Bucket(bucketMeta), string(keyServer), &srv)
	if err == nil && !ok {
		err = fmt.Errorf("server: %w", ErrNotFound)
	}
	return srv, err
}

// HubAddress is the server's own tunnel address: the prefix's first host.
func HubAddress(p netip.Prefix) netip.Addr { return p.Masked().Addr().Next() }

// hubSettings is what Render needs to point a node at the hub.
type hubSettings struct {
	prefix netip.Prefix
	server Server
}

func loadHub(tx *bolt.Tx) (*hubSettings, error) {
	p, err := tunnelPrefix(tx)
	if err != nil {
		return nil, nil // no prefix: no hub
	}
	srv, err := server(tx)
	if err != nil {
		return nil, nil //nolint:nilerr // no server settings: no hub yet
	}
	return &hubSettings{prefix: p, server: srv}, nil
}

// apply points node at the hub: the management tunnel and config URL, and
// the hub's catalog as the source of every customer zone.
func (h *hubSettings) apply(node *config.Config, peer Peer) {
	hub := HubAddress(h.prefix)
	wg := &node.Management.WireGuard
	if wg.Endpoint == "" {
		wg.Endpoint = h.server.Endpoint
	}
	if wg.PublicKey == "" {
		wg.PublicKey = h.server.PublicKey
	}
	if len(wg.AllowedIPs) == 0 {
		wg.AllowedIPs = []string{h.prefix.String()}
	}
	if node.Management.ConfigURL == "" {
		node.Management.ConfigURL = "http://" + netip.AddrPortFrom(hub, HubConfigPort).String() + "/v1/config"
	}
	if a, err := netip.ParsePrefix(peer.Address); err == nil && node.Management.AdminListen == "" {
		node.Management.AdminListen = netip.AddrPortFrom(a.Addr(), NodeAdminPort).String()
	}
	node.Catalogs = append(node.Catalogs, config.Zone{
		Name:      CatalogName,
		Primaries: []string{netip.AddrPortFrom(hub, HubDNSPort).String()},
	})
}
