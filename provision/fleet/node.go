package fleet

import (
	"fmt"
	"strings"
	"time"

	"github.com/goleudy/goleudy/provision/config"
	bolt "go.etcd.io/bbolt"
)

// Node is a node document: the node's part of the config contract, plus what
// only the operator needs. Config.Node.ID is the node's unique id. Schema and
// Serial belong to the store and are cleared when a node is stored.
type Node struct {
	Config    config.Config `json:"config"`
	InService time.Time     `json:"in_service,omitzero"`
	Notes     string        `json:"notes,omitempty"`
}

// ID is the node's id.
func (n Node) ID() string { return n.Config.Node.ID }

// AddNode stores a new node. The node must render to a valid config with the
// current defaults and zones; the error otherwise wraps config.Errors.
func (s *Store) AddNode(actor string, n Node) error {
	n = normalizeNode(n)
	c := &change{actor: actor, action: "node add", subject: n.ID()}
	return s.update(c, func(tx *bolt.Tx) error {
		if err := checkNode(tx, n); err != nil {
			return err
		}
		b := tx.Bucket(bucketNodes)
		if b.Get([]byte(n.ID())) != nil {
			return fmt.Errorf("node %q: %w", n.ID(), ErrExists)
		}
		return put(b, n.ID(), n)
	})
}

// UpdateNode replaces an existing node document.
func (s *Store) UpdateNode(actor string, n Node) error {
	n = normalizeNode(n)
	c := &change{actor: actor, action: "node update", subject: n.ID()}
	return s.update(c, func(tx *bolt.Tx) error {
		if err := checkNode(tx, n); err != nil {
			return err
		}
		b := tx.Bucket(bucketNodes)
		if b.Get([]byte(n.ID())) == nil {
			return fmt.Errorf("node %q: %w", n.ID(), ErrNotFound)
		}
		return put(b, n.ID(), n)
	})
}

// RemoveNode deletes a node with its tunnel peer (freeing its address) and
// its enrollment tokens.
func (s *Store) RemoveNode(actor, id string) error {
	c := &change{actor: actor, action: "node remove", subject: id}
	return s.update(c, func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketNodes)
		if b.Get([]byte(id)) == nil {
			return fmt.Errorf("node %q: %w", id, ErrNotFound)
		}
		if err := b.Delete([]byte(id)); err != nil {
			return err
		}
		if err := tx.Bucket(bucketPeers).Delete([]byte(id)); err != nil {
			return err
		}
		detail, err := dropTarget(tx, id, s.now().UTC())
		if err != nil {
			return err
		}
		c.detail = strings.TrimPrefix(detail, "; ")
		return deleteTokens(tx, id)
	})
}

// GetNode returns one node document.
func (s *Store) GetNode(id string) (Node, error) {
	var n Node
	err := s.db.View(func(tx *bolt.Tx) error {
		var err error
		n, err = loadNode(tx, id)
		return err
	})
	if err != nil {
		return Node{}, fmt.Errorf("fleet: get node %s: %w", id, err)
	}
	return n, nil
}

// ListNodes returns every node document, ordered by id.
func (s *Store) ListNodes() ([]Node, error) {
	var out []Node
	err := s.db.View(func(tx *bolt.Tx) error {
		var err error
		out, err = list[Node](tx.Bucket(bucketNodes))
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("fleet: list nodes: %w", err)
	}
	return out, nil
}

// Defaults returns the fleet defaults.
func (s *Store) Defaults() (config.Config, error) {
	var c config.Config
	err := s.db.View(func(tx *bolt.Tx) error {
		var err error
		c, err = loadDefaults(tx)
		return err
	})
	if err != nil {
		return config.Config{}, fmt.Errorf("fleet: defaults: %w", err)
	}
	return c, nil
}

// SetDefaults replaces the fleet defaults. They may not name a node or set a
// serial, and every stored node must still render to a valid config.
func (s *Store) SetDefaults(actor string, d config.Config) error {
	var errs config.Errors
	if d.Node.ID != "" {
		errs = append(errs, &config.FieldError{Path: "node.id", Msg: "is set per node; leave it out of the fleet defaults"})
	}
	if d.Serial != 0 {
		errs = append(errs, &config.FieldError{Path: "serial", Msg: "is the fleet counter; leave it out of the fleet defaults"})
	}
	c := &change{actor: actor, action: "defaults set"}
	if len(errs) > 0 {
		return fmt.Errorf("fleet: %s: %w", c.action, errs)
	}
	d.Schema = 0
	return s.update(c, func(tx *bolt.Tx) error {
		if err := put(tx.Bucket(bucketDefaults), string(keyConfig), d); err != nil {
			return err
		}
		return checkAllNodes(tx)
	})
}

func normalizeNode(n Node) Node {
	n.Config.Schema = 0
	n.Config.Serial = 0
	if !n.InService.IsZero() {
		n.InService = n.InService.UTC()
	}
	return n
}

// checkNode renders n against the store and reports why it would not
// validate. Paths are those of the rendered config, which for a node's own
// fields are the paths in its document.
func checkNode(tx *bolt.Tx, n Node) error {
	if n.ID() == "" {
		return config.Errors{{Path: "node.id", Msg: "missing"}}
	}
	_, err := renderNode(tx, n, serial(tx)+1)
	return err
}

// checkAllNodes renders every stored node, for changes that reach them all.
func checkAllNodes(tx *bolt.Tx) error {
	nodes, err := list[Node](tx.Bucket(bucketNodes))
	if err != nil {
		return err
	}
	for _, n := range nodes {
		if err := checkNode(tx, n); err != nil {
			return fmt.Errorf("node %s: %w", n.ID(), err)
		}
	}
	return nil
}

func loadNode(tx *bolt.Tx, id string) (Node, error) {
	var n Node
	ok, err := get(tx.Bucket(bucketNodes), id, &n)
	if err != nil {
		return Node{}, err
	}
	if !ok {
		return Node{}, fmt.Errorf("node %q: %w", id, ErrNotFound)
	}
	return n, nil
}

func loadDefaults(tx *bolt.Tx) (config.Config, error) {
	var c config.Config
	_, err := get(tx.Bucket(bucketDefaults), string(keyConfig), &c)
	return c, err
}
