package fleet

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net/netip"

	"github.com/goleudy/goleudy/provision/config"
	"github.com/goleudy/goleudy/services/statedir"
	bolt "go.etcd.io/bbolt"
)

// ExportFormat is the version of the Export document.
const ExportFormat = 1

// Snapshot is the whole store as one JSON document.
type Snapshot struct {
	Format       int           `json:"format"`
	Serial       uint64        `json:"serial"`
	TunnelPrefix string        `json:"tunnel_prefix,omitempty"`
	Server       *Server       `json:"server,omitempty"`
	Defaults     config.Config `json:"defaults"`
	Nodes        []Node        `json:"nodes"`
	Zones        []Zone        `json:"zones"`
	Tokens       []Token       `json:"tokens"`
	Peers        []Peer        `json:"peers"`
	Releases     []Release     `json:"releases"`
	Rollout      *Rollout      `json:"rollout,omitempty"`
	Audit        []Entry       `json:"audit"`
}

// Export writes the whole store as indented JSON, from one consistent read.
// Token secrets are not in the store, so they are not in the export either.
func (s *Store) Export(w io.Writer) error {
	var snap Snapshot
	err := s.db.View(func(tx *bolt.Tx) error {
		var err error
		snap, err = snapshot(tx)
		return err
	})
	if err != nil {
		return fmt.Errorf("fleet: export: %w", err)
	}
	out, err := json.MarshalIndent(snap, "", "  ")
	if err != nil {
		return fmt.Errorf("fleet: export: %w", err)
	}
	if _, err := w.Write(append(out, '\n')); err != nil {
		return fmt.Errorf("fleet: export: %w", err)
	}
	return nil
}

func snapshot(tx *bolt.Tx) (Snapshot, error) {
	snap := Snapshot{Format: ExportFormat, Serial: serial(tx)}
	if p, err := tunnelPrefix(tx); err == nil {
		snap.TunnelPrefix = p.String()
	}
	if srv, err := server(tx); err == nil {
		snap.Server = &srv
	}
	var err error
	if snap.Defaults, err = loadDefaults(tx); err != nil {
		return snap, err
	}
	if snap.Nodes, err = list[Node](tx.Bucket(bucketNodes)); err != nil {
		return snap, err
	}
	if snap.Zones, err = list[Zone](tx.Bucket(bucketZones)); err != nil {
		return snap, err
	}
	if snap.Tokens, err = list[Token](tx.Bucket(bucketTokens)); err != nil {
		return snap, err
	}
	if snap.Peers, err = list[Peer](tx.Bucket(bucketPeers)); err != nil {
		return snap, err
	}
	if snap.Releases, err = list[Release](tx.Bucket(bucketReleases)); err != nil {
		return snap, err
	}
	if snap.Rollout, err = loadRollout(tx); err != nil {
		return snap, err
	}
	snap.Audit, err = list[Entry](tx.Bucket(bucketAudit))
	return snap, err
}

// Import loads an Export document into an empty store (ErrNotEmpty
// otherwise), in one transaction, after checking that every node renders.
// It restores the serial and the audit log exactly and adds no entry of its
// own, so exporting the result gives back the same bytes.
func (s *Store) Import(r io.Reader) error {
	var snap Snapshot
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&snap); err != nil {
		return fmt.Errorf("fleet: import: %w", err)
	}
	if snap.Format != ExportFormat {
		return fmt.Errorf("fleet: import: format %d is not supported; must be %d", snap.Format, ExportFormat)
	}
	err := s.db.Update(func(tx *bolt.Tx) error {
		if serial(tx) != 0 || tx.Bucket(bucketAudit).Stats().KeyN > 0 {
			return ErrNotEmpty
		}
		return restore(tx, snap)
	})
	if err != nil {
		return fmt.Errorf("fleet: import: %w", err)
	}
	return nil
}

func restore(tx *bolt.Tx, snap Snapshot) error {
	if err := setSerial(tx, snap.Serial); err != nil {
		return err
	}
	if snap.TunnelPrefix != "" {
		if _, err := netip.ParsePrefix(snap.TunnelPrefix); err != nil {
			return fmt.Errorf("tunnel_prefix: %w", err)
		}
		if err := tx.Bucket(bucketMeta).Put(keyPrefix, []byte(snap.TunnelPrefix)); err != nil {
			return err
		}
	}
	if snap.Server != nil {
		if err := put(tx.Bucket(bucketMeta), string(keyServer), *snap.Server); err != nil {
			return err
		}
	}
	if err := put(tx.Bucket(bucketDefaults), string(keyConfig), snap.Defaults); err != nil {
		return err
	}
	for i, n := range snap.Nodes {
		if err := putNew(tx.Bucket(bucketNodes), n.ID(), n); err != nil {
			return fmt.Errorf("nodes[%d]: %w", i, err)
		}
	}
	for i, z := range snap.Zones {
		if err := putNew(tx.Bucket(bucketZones), zoneKey(z.Name), z); err != nil {
			return fmt.Errorf("zones[%d]: %w", i, err)
		}
	}
	for i, t := range snap.Tokens {
		if err := putNew(tx.Bucket(bucketTokens), t.Hash, t); err != nil {
			return fmt.Errorf("tokens[%d]: %w", i, err)
		}
	}
	for i, p := range snap.Peers {
		if err := putNew(tx.Bucket(bucketPeers), p.NodeID, p); err != nil {
			return fmt.Errorf("peers[%d]: %w", i, err)
		}
	}
	for i, r := range snap.Releases {
		if err := putNew(tx.Bucket(bucketReleases), r.key(), r); err != nil {
			return fmt.Errorf("releases[%d]: %w", i, err)
		}
	}
	if snap.Rollout != nil {
		if err := putRollout(tx, snap.Rollout); err != nil {
			return err
		}
	}
	audit := tx.Bucket(bucketAudit)
	for i, e := range snap.Audit {
		if e.Seq != uint64(i+1) {
			return fmt.Errorf("audit[%d]: seq %d out of order", i, e.Seq)
		}
		data, err := json.Marshal(e)
		if err != nil {
			return err
		}
		if err := audit.Put(binary.BigEndian.AppendUint64(nil, e.Seq), data); err != nil {
			return err
		}
	}
	if err := audit.SetSequence(uint64(len(snap.Audit))); err != nil {
		return err
	}
	return checkAllNodes(tx)
}

// putNew is put that refuses a key given twice in one import.
func putNew(b *bolt.Bucket, key string, v any) error {
	if key == "" {
		return fmt.Errorf("empty key")
	}
	if b.Get([]byte(key)) != nil {
		return fmt.Errorf("%q: %w", key, ErrExists)
	}
	return put(b, key, v)
}

// Backup writes a consistent copy of the store file to w while the store
// stays in use. The copy opens with Open as a store with the same content.
func (s *Store) Backup(w io.Writer) (int64, error) {
	var n int64
	err := s.db.View(func(tx *bolt.Tx) error {
		var err error
		n, err = tx.WriteTo(w)
		return err
	})
	if err != nil {
		return n, fmt.Errorf("fleet: backup: %w", err)
	}
	return n, nil
}

// BackupFile writes a backup to name atomically (mode 0600), so an
// interrupted backup never leaves a torn file where the last good one was.
func (s *Store) BackupFile(name string) error {
	var buf bytes.Buffer
	if _, err := s.Backup(&buf); err != nil {
		return err
	}
	if err := statedir.WriteFile(name, buf.Bytes(), 0o600); err != nil {
		return fmt.Errorf("fleet: backup: %w", err)
	}
	return nil
}
