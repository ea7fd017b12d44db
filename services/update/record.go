package update

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/goleudy/goleudy/image/grub"
	"github.com/goleudy/goleudy/provision/api"
	"github.com/goleudy/goleudy/provision/config"
	"github.com/goleudy/goleudy/services/statedir"
)

// The agent's files in its directory on the data partition.
const (
	RecordFile = "update.json"   // the record below, replaced atomically
	StagedFile = "bundle.staged" // the bundle as downloaded so far
)

// Phases of an update in the record. Each is where a power loss leaves
// the node, and what it does next at boot.
const (
	phaseIdle        = ""            // nothing under way
	phaseDownloading = "downloading" // the staged file grows; the slots are untouched
	phaseWriting     = "writing"     // the inactive slot is marked bad and being written from the verified staged bundle
	phaseTrial       = "trial"       // the slot is written and verified; the bootloader is (being) told to try it
	phaseDone        = "done"        // committed, rolled back or refused: see Report
)

// record is what the agent keeps across reboots.
type record struct {
	Phase  string        `json:"phase"`
	Target config.Update `json:"target,omitzero"` // the release being installed
	Slot   grub.Slot     `json:"slot,omitempty"`  // the slot it goes to
	// Report is the latest word on Target, sent in heartbeats.
	Report *api.UpdateReport `json:"report,omitempty"`
	// Failed are releases (key: build/sha256) refused or rolled back,
	// with why; the agent never tries one again, whatever the config
	// says, until the operator publishes another build.
	Failed map[string]string `json:"failed,omitempty"`
}

// releaseKey names a release in record.Failed.
func releaseKey(u config.Update) string { return fmt.Sprintf("%d/%s", u.Build, u.SHA256) }

// loadRecord reads the record in dir; none is an idle record.
func loadRecord(dir string) (record, error) {
	var r record
	data, err := os.ReadFile(filepath.Join(dir, RecordFile))
	if errors.Is(err, os.ErrNotExist) {
		return r, nil
	}
	if err != nil {
		return r, fmt.Errorf("update: record: %w", err)
	}
	if err := json.Unmarshal(data, &r); err != nil {
		// A record the agent cannot read must not stop updates for
		// good; what it held is at worst a retried download.
		return record{}, fmt.Errorf("update: record %s: %w", filepath.Join(dir, RecordFile), err)
	}
	return r, nil
}

// save writes the record atomically and durably.
func (r *record) save(dir string) error {
	data, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("update: record: %w", err)
	}
	if err := statedir.WriteFile(filepath.Join(dir, RecordFile), append(data, '\n'), 0o600); err != nil {
		return fmt.Errorf("update: record: %w", err)
	}
	return nil
}
