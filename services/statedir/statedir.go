// Package statedir writes the node's persistent state: the last accepted
// config and serial, transferred zones, the clock floor. Nodes lose power
// without warning, so every file is replaced atomically: a reader sees the
// old content or the new, never a torn mix.
package statedir

import (
	"fmt"
	"os"
	"path/filepath"
)

// WriteFile replaces name with data. It writes a temporary file in the same
// directory, syncs it, renames it over name and syncs the directory, so the
// rename itself survives a power cut.
func WriteFile(name string, data []byte, perm os.FileMode) (err error) {
	dir := filepath.Dir(name)
	f, err := os.CreateTemp(dir, "."+filepath.Base(name)+".tmp*")
	if err != nil {
		return fmt.Errorf("statedir: write %s: %w", name, err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if _, err = f.Write(data); err != nil {
		return fmt.Errorf("statedir: write %s: %w", name, err)
	}
	if err = f.Chmod(perm); err != nil {
		return fmt.Errorf("statedir: write %s: %w", name, err)
	}
	if err = f.Sync(); err != nil {
		return fmt.Errorf("statedir: sync %s: %w", name, err)
	}
	if err = f.Close(); err != nil {
		return fmt.Errorf("statedir: write %s: %w", name, err)
	}
	if err = os.Rename(f.Name(), name); err != nil {
		return fmt.Errorf("statedir: replace %s: %w", name, err)
	}
	return syncDir(dir)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("statedir: sync %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("statedir: sync %s: %w", dir, err)
	}
	return nil
}
