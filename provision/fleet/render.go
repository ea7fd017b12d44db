package fleet

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/goleudy/goleudy/provision/config"
	bolt "go.etcd.io/bbolt"
)

// concatenated are the top-level lists that add up rather than override:
// fleet defaults first, then the node's own entries (then customer zones).
// Every other list in the node document replaces the default's list.
var concatenated = []string{"zones", "catalogs", "tsig_keys"}

// Render returns the complete config for nodeID: the fleet defaults with the
// node document merged over them, every customer zone, the node's tunnel
// address if one is allocated, and the current fleet serial. The result has
// defaults set and passes config.Validate; otherwise the error wraps
// config.Errors naming the field.
func (s *Store) Render(nodeID string) (*config.Config, error) {
	var c *config.Config
	err := s.db.View(func(tx *bolt.Tx) error {
		n, err := loadNode(tx, nodeID)
		if err != nil {
			return err
		}
		c, err = renderNode(tx, n, serial(tx))
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("fleet: render %s: %w", nodeID, err)
	}
	return c, nil
}

// renderNode renders n (which need not be stored yet) against the rest of the
// store as seen by tx.
func renderNode(tx *bolt.Tx, n Node, serial uint64) (*config.Config, error) {
	defaults, err := loadDefaults(tx)
	if err != nil {
		return nil, err
	}
	zones, err := list[Zone](tx.Bucket(bucketZones))
	if err != nil {
		return nil, err
	}
	var peer Peer
	if _, err := get(tx.Bucket(bucketPeers), n.Config.Node.ID, &peer); err != nil {
		return nil, err
	}
	hub, err := loadHub(tx)
	if err != nil {
		return nil, err
	}
	c, err := merge(defaults, n.Config, zones, peer, hub, serial)
	if err != nil {
		return nil, err
	}
	// The rollout's choice for the node replaces any update section the
	// defaults or the document carry.
	u, ok, err := offer(tx, n.ID(), c)
	if err != nil {
		return nil, fmt.Errorf("rollout: %w", err)
	}
	if ok {
		c.Update = u
		if err := c.Validate(); err != nil {
			return nil, fmt.Errorf("rollout: %w", err)
		}
	}
	return c, nil
}

// merge is Render without the store. A field the node document leaves at its
// zero value is taken from the defaults; so a node cannot set a default's
// true or non-zero value back to false or zero.
//
// With a hub (the server's tunnel settings are known), the node gets its
// management section and the hub's catalog, and customer zones reach it
// through the catalog; without one, the customer zones are listed with
// their own primaries.
func merge(defaults, node config.Config, zones []Zone, peer Peer, hub *hubSettings, serial uint64) (*config.Config, error) {
	// The caller's slices stay as they were.
	node.Zones = slices.Clone(node.Zones)
	node.Catalogs = slices.Clone(node.Catalogs)
	node.Management.WireGuard.AllowedIPs = slices.Clone(node.Management.WireGuard.AllowedIPs)
	if hub == nil {
		for _, z := range zones {
			node.Zones = append(node.Zones, z.config())
		}
	}
	if peer.Address != "" && node.Management.WireGuard.Address == "" {
		node.Management.WireGuard.Address = peer.Address
	}
	if hub != nil {
		hub.apply(&node, peer)
	}
	d, err := toMap(defaults)
	if err != nil {
		return nil, err
	}
	o, err := toMap(node)
	if err != nil {
		return nil, err
	}
	for _, k := range concatenated {
		dl, _ := d[k].([]any)
		ol, _ := o[k].([]any)
		if l := append(dl, ol...); len(l) > 0 {
			o[k] = l
		}
	}
	mergeObjects(d, o)
	delete(d, "schema")
	delete(d, "serial")
	data, err := json.Marshal(d)
	if err != nil {
		return nil, err
	}
	c, err := config.Decode(data)
	if err != nil {
		return nil, err
	}
	if hub != nil {
		c.Catalogs = hubCatalogLast(c.Catalogs)
	}
	c.Schema = config.Schema
	c.Serial = serial
	c.SetDefaults()
	if hub != nil {
		// The hub's NOTIFYs come over the tunnel, to the node's tunnel
		// address (after the defaults, which listen on the anycast
		// addresses when the document names none).
		if a, err := netip.ParsePrefix(peer.Address); err == nil {
			l := netip.AddrPortFrom(a.Addr(), 53).String()
			if !slices.Contains(c.DNS.Listen, l) {
				c.DNS.Listen = append(c.DNS.Listen, l)
			}
		}
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return c, nil
}

// mergeObjects overlays src on dst: objects merge key by key, anything else
// in src replaces dst's value.
func mergeObjects(dst, src map[string]any) {
	for k, v := range src {
		if sv, ok := v.(map[string]any); ok {
			if dv, ok := dst[k].(map[string]any); ok {
				mergeObjects(dv, sv)
				continue
			}
		}
		dst[k] = v
	}
}

func toMap(c config.Config) (map[string]any, error) {
	data, err := json.Marshal(c)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber() // keep ASNs and serials exact
	m := map[string]any{}
	if err := dec.Decode(&m); err != nil {
		return nil, err
	}
	// An empty node object in the defaults would otherwise set node.id "".
	if n, ok := m["node"].(map[string]any); ok && n["id"] == "" {
		delete(n, "id")
	}
	return m, nil
}

// hubCatalogLast drops entries for the hub's catalog that the defaults or
// the node document carry: the hub's own entry, last, is the one that holds.
func hubCatalogLast(zs []config.Zone) []config.Zone {
	var out []config.Zone
	for i, z := range zs {
		if i < len(zs)-1 && strings.EqualFold(z.Name, CatalogName) {
			continue
		}
		out = append(out, z)
	}
	return out
}
