package fleet

import (
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/goleudy/goleudy/provision/config"
	bolt "go.etcd.io/bbolt"
)

// ErrIdentityMismatch refuses an enrollment retry whose keys differ from
// the ones the node enrolled with.
var ErrIdentityMismatch = errors.New("node already enrolled with other keys")

// Enrollment is what a node presents when it enrolls: the one-time token,
// its identity key (ed25519) and WireGuard key, and its hardware facts.
type Enrollment struct {
	NodeID      string
	Token       string // the secret, as the seed carries it
	IdentityKey string // base64 ed25519 public key
	WireGuard   string // base64 Curve25519 public key
	Facts       json.RawMessage
}

// Enroll spends the node's token and binds its identity and WireGuard keys
// to it, allocating its tunnel address, all in one transaction: a refused
// enrollment stores nothing, and an accepted one never leaves a token spent
// without a peer. It refuses an unknown, expired or used token, and a token
// for another node, with the token sentinels.
//
// One retry is allowed: a node whose answer was lost may present its used
// token again with the very same keys and gets the same peer back
// (retried is true). Anyone else presenting a used token is refused.
func (s *Store) Enroll(e Enrollment, now time.Time) (p Peer, retried bool, err error) {
	c := &change{actor: "node:" + e.NodeID, action: "node enroll", subject: e.NodeID}
	err = s.update(c, func(tx *bolt.Tx) error {
		if k, err := base64.StdEncoding.DecodeString(e.IdentityKey); err != nil || len(k) != 32 {
			return config.Errors{{Path: "identity_key", Msg: "is not a base64 ed25519 public key (32 bytes)"}}
		}
		b := tx.Bucket(bucketTokens)
		var t Token
		ok, err := get(b, tokenHash(e.Token), &t)
		switch {
		case err != nil:
			return err
		case !ok:
			return ErrTokenUnknown
		case subtle.ConstantTimeCompare([]byte(t.NodeID), []byte(e.NodeID)) != 1:
			return ErrTokenOtherNode
		case t.Used:
			var old Peer
			if _, err := get(tx.Bucket(bucketPeers), e.NodeID, &old); err != nil {
				return err
			}
			if old.Identity == "" || old.Identity != e.IdentityKey || old.PublicKey != e.WireGuard {
				return fmt.Errorf("%w at %s", ErrTokenUsed, t.UsedAt.Format(time.RFC3339))
			}
			p, retried = old, true
			c.action = "node enroll retry"
			return nil
		case !now.Before(t.Expires):
			return fmt.Errorf("%w at %s", ErrTokenExpired, t.Expires.Format(time.RFC3339))
		}
		t.Used, t.UsedAt = true, now.UTC()
		if err := put(b, tokenHash(e.Token), t); err != nil {
			return err
		}
		p, err = allocate(tx, e.NodeID, e.WireGuard)
		if err != nil {
			return err
		}
		p.Identity, p.Facts, p.Enrolled = e.IdentityKey, e.Facts, now.UTC()
		c.detail = p.Address + " wg " + p.PublicKey + " id " + p.Identity
		return put(tx.Bucket(bucketPeers), e.NodeID, p)
	})
	if err != nil {
		return Peer{}, false, err
	}
	return p, retried, nil
}

// Peer returns one node's tunnel peer, or ErrNotFound if it never enrolled.
func (s *Store) Peer(nodeID string) (Peer, error) {
	var p Peer
	err := s.db.View(func(tx *bolt.Tx) error {
		ok, err := get(tx.Bucket(bucketPeers), nodeID, &p)
		if err == nil && !ok {
			err = fmt.Errorf("peer %q: %w", nodeID, ErrNotFound)
		}
		return err
	})
	return p, err
}

// PeerByAddress returns the peer whose tunnel address is a; this is how
// the server knows which node a request over the tunnel came from.
func (s *Store) PeerByAddress(a netip.Addr) (Peer, error) {
	peers, err := s.Peers()
	if err != nil {
		return Peer{}, err
	}
	for _, p := range peers {
		if pp, err := netip.ParsePrefix(p.Address); err == nil && pp.Addr() == a.Unmap() {
			return p, nil
		}
	}
	return Peer{}, fmt.Errorf("peer at %s: %w", a, ErrNotFound)
}
