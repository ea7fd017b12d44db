package fleet

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Token is a stored enrollment token. Only the hash of the secret is kept,
// so a copy of the store (or a backup) cannot enroll a node.
type Token struct {
	Hash    string    `json:"hash"` // hex sha256 of the secret
	NodeID  string    `json:"node_id"`
	Expires time.Time `json:"expires"`
	Used    bool      `json:"used,omitempty"`
	UsedAt  time.Time `json:"used_at,omitzero"`
}

func tokenHash(secret string) string {
	h := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(h[:])
}

// NewToken creates a single-use enrollment token for an existing node that
// expires at expires. The secret is returned once and never stored.
func (s *Store) NewToken(actor, nodeID string, expires time.Time) (string, error) {
	var raw [32]byte
	rand.Read(raw[:]) // never fails (crypto/rand since Go 1.24)
	secret := base64.RawURLEncoding.EncodeToString(raw[:])
	t := Token{Hash: tokenHash(secret), NodeID: nodeID, Expires: expires.UTC()}
	c := &change{actor: actor, action: "token new", subject: nodeID,
		detail: "expires " + t.Expires.Format(time.RFC3339)}
	err := s.update(c, func(tx *bolt.Tx) error {
		if _, err := loadNode(tx, nodeID); err != nil {
			return err
		}
		return put(tx.Bucket(bucketTokens), t.Hash, t)
	})
	if err != nil {
		return "", err
	}
	return secret, nil
}

// Redeem spends secret for nodeID at now. It refuses an unknown token
// (ErrTokenUnknown), a token for another node (ErrTokenOtherNode), a used one
// (ErrTokenUsed) and an expired one (ErrTokenExpired). A refused token is
// left as it was.
func (s *Store) Redeem(secret, nodeID string, now time.Time) error {
	h := tokenHash(secret)
	c := &change{actor: "node:" + nodeID, action: "token redeem", subject: nodeID}
	return s.update(c, func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketTokens)
		var t Token
		ok, err := get(b, h, &t)
		switch {
		case err != nil:
			return err
		case !ok:
			return ErrTokenUnknown
		case subtle.ConstantTimeCompare([]byte(t.NodeID), []byte(nodeID)) != 1:
			return ErrTokenOtherNode
		case t.Used:
			return fmt.Errorf("%w at %s", ErrTokenUsed, t.UsedAt.Format(time.RFC3339))
		case !now.Before(t.Expires):
			return fmt.Errorf("%w at %s", ErrTokenExpired, t.Expires.Format(time.RFC3339))
		}
		if _, err := loadNode(tx, nodeID); err != nil {
			return err
		}
		t.Used, t.UsedAt = true, now.UTC()
		return put(b, h, t)
	})
}

// Tokens returns the stored tokens (hashes only) for nodeID, or for every
// node if nodeID is empty.
func (s *Store) Tokens(nodeID string) ([]Token, error) {
	var out []Token
	err := s.db.View(func(tx *bolt.Tx) error {
		all, err := list[Token](tx.Bucket(bucketTokens))
		for _, t := range all {
			if nodeID == "" || t.NodeID == nodeID {
				out = append(out, t)
			}
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("fleet: tokens: %w", err)
	}
	return out, nil
}

func deleteTokens(tx *bolt.Tx, nodeID string) error {
	b := tx.Bucket(bucketTokens)
	all, err := list[Token](b)
	if err != nil {
		return err
	}
	for _, t := range all {
		if t.NodeID == nodeID {
			if err := b.Delete([]byte(t.Hash)); err != nil {
				return err
			}
		}
	}
	return nil
}
