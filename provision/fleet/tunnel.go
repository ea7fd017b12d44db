package fleet

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/netip"
	"time"

	"github.com/goleudy/goleudy/provision/config"
	bolt "go.etcd.io/bbolt"
)

// Peer is a node's end of the management tunnel.
type Peer struct {
	NodeID    string `json:"node_id"`
	PublicKey string `json:"public_key"` // base64 WireGuard key
	Address   string `json:"address"`    // single-address prefix, like 10.53.0.2/32
	// Identity is the node's ed25519 identity key (base64), bound at
	// enrollment; Facts are the hardware facts it reported then.
	Identity string          `json:"identity,omitempty"`
	Facts    json.RawMessage `json:"facts,omitempty"`
	Enrolled time.Time       `json:"enrolled,omitzero"`
}

// SetTunnelPrefix sets the prefix tunnel addresses come from. Its first host
// address is the server's own. It cannot change while peers are allocated.
func (s *Store) SetTunnelPrefix(actor string, p netip.Prefix) error {
	c := &change{actor: actor, action: "tunnel prefix set", subject: p.String()}
	if !p.IsValid() || p.Bits() >= p.Addr().BitLen()-1 {
		return fmt.Errorf("fleet: %s %s: %w", c.action, c.subject,
			config.Errors{{Path: "tunnel_prefix", Msg: fmt.Sprintf("%q leaves no room for nodes", p)}})
	}
	p = p.Masked()
	return s.update(c, func(tx *bolt.Tx) error {
		old, _ := tunnelPrefix(tx)
		if old != p && tx.Bucket(bucketPeers).Stats().KeyN > 0 {
			return ErrPrefixInUse
		}
		return tx.Bucket(bucketMeta).Put(keyPrefix, []byte(p.String()))
	})
}

// TunnelPrefix returns the configured prefix, or ErrNoPrefix.
func (s *Store) TunnelPrefix() (netip.Prefix, error) {
	var p netip.Prefix
	err := s.db.View(func(tx *bolt.Tx) error {
		var err error
		p, err = tunnelPrefix(tx)
		return err
	})
	return p, err
}

func tunnelPrefix(tx *bolt.Tx) (netip.Prefix, error) {
	v := tx.Bucket(bucketMeta).Get(keyPrefix)
	if v == nil {
		return netip.Prefix{}, ErrNoPrefix
	}
	return netip.ParsePrefix(string(v))
}

// AllocateTunnelAddress binds publicKey to nodeID and returns the node's
// tunnel address. A node keeps its address across calls (a new key replaces
// the old one); two nodes never hold the same address or key. The address is
// freed when the node is removed.
func (s *Store) AllocateTunnelAddress(actor, nodeID, publicKey string) (netip.Prefix, error) {
	var addr netip.Prefix
	c := &change{actor: actor, action: "tunnel allocate", subject: nodeID}
	err := s.update(c, func(tx *bolt.Tx) error {
		p, err := allocate(tx, nodeID, publicKey)
		if err != nil {
			return err
		}
		addr = netip.MustParsePrefix(p.Address)
		c.detail = p.Address + " " + publicKey
		return put(tx.Bucket(bucketPeers), nodeID, p)
	})
	if err != nil {
		return netip.Prefix{}, err
	}
	return addr, nil
}

// allocate returns nodeID's peer with publicKey and an address: the one it
// had, or the lowest free one. The caller stores it.
func allocate(tx *bolt.Tx, nodeID, publicKey string) (Peer, error) {
	if k, err := base64.StdEncoding.DecodeString(publicKey); err != nil || len(k) != 32 {
		return Peer{}, config.Errors{{Path: "public_key", Msg: "is not a base64 WireGuard key (32 bytes)"}}
	}
	if _, err := loadNode(tx, nodeID); err != nil {
		return Peer{}, err
	}
	prefix, err := tunnelPrefix(tx)
	if err != nil {
		return Peer{}, err
	}
	peers, err := list[Peer](tx.Bucket(bucketPeers))
	if err != nil {
		return Peer{}, err
	}
	used := map[netip.Addr]bool{}
	var mine Peer
	for _, p := range peers {
		if p.NodeID == nodeID {
			mine = p
			continue
		}
		if p.PublicKey == publicKey {
			return Peer{}, fmt.Errorf("%w: %s", ErrKeyInUse, p.NodeID)
		}
		if a, err := netip.ParsePrefix(p.Address); err == nil {
			used[a.Addr()] = true
		}
	}
	if mine.Address == "" {
		a, err := freeAddress(prefix, used)
		if err != nil {
			return Peer{}, err
		}
		mine = Peer{NodeID: nodeID, Address: netip.PrefixFrom(a, a.BitLen()).String()}
	}
	mine.PublicKey = publicKey
	return mine, nil
}

// freeAddress returns the lowest address in p after the server's (the first
// host) that is not used, skipping the IPv4 broadcast address.
func freeAddress(p netip.Prefix, used map[netip.Addr]bool) (netip.Addr, error) {
	a := p.Addr().Next().Next()
	for ; a.IsValid() && p.Contains(a); a = a.Next() {
		if a.Is4() && !p.Contains(a.Next()) {
			break // broadcast
		}
		if !used[a] {
			return a, nil
		}
	}
	return netip.Addr{}, fmt.Errorf("%w: %s", ErrPrefixFull, p)
}

// Peers returns every tunnel peer ordered by node id.
func (s *Store) Peers() ([]Peer, error) {
	var out []Peer
	err := s.db.View(func(tx *bolt.Tx) error {
		var err error
		out, err = list[Peer](tx.Bucket(bucketPeers))
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("fleet: peers: %w", err)
	}
	return out, nil
}
