package fleet

import (
	"fmt"
	"strings"

	"github.com/goleudy/goleudy/provision/config"
	bolt "go.etcd.io/bbolt"
)

// Zone is a customer zone that every node is secondary for. TSIG names a key
// in the fleet defaults' tsig_keys.
type Zone struct {
	Name      string   `json:"name"`
	Primaries []string `json:"primaries"`
	TSIG      string   `json:"tsig,omitempty"`
}

func (z Zone) config() config.Zone {
	return config.Zone{Name: z.Name, Primaries: z.Primaries, TSIG: z.TSIG}
}

// zoneKey is the name compared case-insensitively, so "Example.com." and
// "example.com." are the same zone.
func zoneKey(name string) string { return strings.ToLower(name) }

// AddZone adds a customer zone. The name must be fully qualified and new;
// the TSIG key, if any, must be in the fleet defaults; and every node must
// still render to a valid config.
func (s *Store) AddZone(actor string, z Zone) error {
	c := &change{actor: actor, action: "zone add", subject: z.Name, detail: strings.Join(z.Primaries, " ")}
	return s.update(c, func(tx *bolt.Tx) error {
		z.Primaries = primariesWithPort(z.Primaries)
		if err := checkZone(tx, z); err != nil {
			return err
		}
		b := tx.Bucket(bucketZones)
		if b.Get([]byte(zoneKey(z.Name))) != nil {
			return fmt.Errorf("zone %q: %w", z.Name, ErrExists)
		}
		if err := put(b, zoneKey(z.Name), z); err != nil {
			return err
		}
		return checkAllNodes(tx)
	})
}

// RemoveZone removes a customer zone from every node.
func (s *Store) RemoveZone(actor, name string) error {
	c := &change{actor: actor, action: "zone remove", subject: name}
	return s.update(c, func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketZones)
		if b.Get([]byte(zoneKey(name))) == nil {
			return fmt.Errorf("zone %q: %w", name, ErrNotFound)
		}
		return b.Delete([]byte(zoneKey(name)))
	})
}

// ListZones returns the customer zones ordered by name.
func (s *Store) ListZones() ([]Zone, error) {
	var out []Zone
	err := s.db.View(func(tx *bolt.Tx) error {
		var err error
		out, err = list[Zone](tx.Bucket(bucketZones))
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("fleet: list zones: %w", err)
	}
	return out, nil
}

// checkZone validates z on its own through the config package, with the
// fleet's TSIG keys in scope. Paths are the zone's own: "name",
// "primaries[1]", "tsig".
func checkZone(tx *bolt.Tx, z Zone) error {
	d, err := loadDefaults(tx)
	if err != nil {
		return err
	}
	probe := config.Config{
		Schema: config.Schema, Serial: 1, Node: config.Node{ID: "probe"},
		TSIGKeys: d.TSIGKeys, Zones: []config.Zone{z.config()},
	}
	probe.SetDefaults()
	err = probe.Validate()
	if err == nil {
		return nil
	}
	var out config.Errors
	for _, e := range err.(config.Errors) {
		if p, ok := strings.CutPrefix(e.Path, "zones[0]."); ok {
			out = append(out, &config.FieldError{Path: p, Msg: e.Msg})
		}
	}
	if len(out) == 0 {
		return err // the defaults' keys themselves are broken
	}
	return out
}

// primariesWithPort gives bare addresses port 53, as config.SetDefaults
// would, so the stored zone is what nodes see.
func primariesWithPort(ps []string) []string {
	c := config.Config{Zones: []config.Zone{{Primaries: append([]string(nil), ps...)}}}
	c.SetDefaults()
	return c.Zones[0].Primaries
}
