package cli

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/goleudy/goleudy/provision/config"
	"github.com/goleudy/goleudy/provision/fleet"
	"github.com/goleudy/goleudy/services/statedir"
)

// defaultDataDir is where the operator commands and the server keep the
// fleet store unless told otherwise.
const defaultDataDir = "./goleudy-data"

// storeFile is the fleet store's name inside the data dir.
const storeFile = "fleet.db"

// dataFlag adds the --data flag every fleet command takes.
func dataFlag(fs *flag.FlagSet) *string {
	return fs.String("data", defaultDataDir, "data directory holding "+storeFile)
}

// openFleet opens the store under dir. Only commands that add to the
// fleet create it: a typo in --data must not make a list or an export
// quietly answer from a new, empty store.
func openFleet(dir string, create bool) (*fleet.Store, error) {
	path := filepath.Join(dir, storeFile)
	if create {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, err
		}
	} else if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("no fleet store at %s (wrong --data?): %w", path, err)
	}
	return fleet.Open(path)
}

// actor names the operator in the audit log.
func actor() string {
	if u := os.Getenv("USER"); u != "" {
		return u
	}
	return "operator"
}

// parseArgs is parse for commands whose positional arguments come before
// their flags ("node add alban --board rpi"), which the flag package alone
// would stop at.
func parseArgs(fs *flag.FlagSet, args []string, want int) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, &ExitError{Code: ExitOK, Err: err}
			}
			return nil, usageError("%s: %v", fs.Name(), err)
		}
		rest := fs.Args()
		if len(rest) == 0 {
			break
		}
		if n := len(args) - len(rest); n > 0 && args[n-1] == "--" {
			pos = append(pos, rest...) // everything after -- is positional
			break
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
	if len(pos) != want {
		return nil, usageError("%s: want %d argument(s), got %q", fs.Name(), want, pos)
	}
	return pos, nil
}

// refused turns a store error into the command's error. A validation
// failure lists every field problem on its own line after the context the
// store gave it (which node, which zone), and exits 1 like any refusal.
func refused(op string, err error) error {
	var es config.Errors
	if !errors.As(err, &es) {
		return fmt.Errorf("goleudy %s: %w", op, err)
	}
	where := strings.TrimSuffix(err.Error(), es.Error())
	var b strings.Builder
	fmt.Fprintf(&b, "goleudy %s: %s%d problem(s):", op, where, len(es))
	for _, e := range es {
		fmt.Fprintf(&b, "\n  %s", e)
	}
	return &ExitError{Code: ExitFailure, Err: errors.New(b.String())}
}

func fleetExport(_ context.Context, c *Context, args []string) (err error) {
	fs := c.flags("fleet export")
	data := dataFlag(fs)
	out := fs.String("out", "", "file to write (mode 0600; default: standard output)")
	if err := parse(fs, args, 0); err != nil {
		return err
	}
	s, err := openFleet(*data, false)
	if err != nil {
		return refused("fleet export", err)
	}
	defer closeStore(s, &err)
	var buf bytes.Buffer
	if err := s.Export(&buf); err != nil {
		return refused("fleet export", err)
	}
	if *out == "" {
		_, err = c.Stdout.Write(buf.Bytes())
		return err
	}
	// The export holds the fleet's TSIG and BGP secrets.
	if err := statedir.WriteFile(*out, buf.Bytes(), 0o600); err != nil {
		return refused("fleet export", err)
	}
	return nil
}

func fleetImport(_ context.Context, c *Context, args []string) (err error) {
	fs := c.flags("fleet import")
	data := dataFlag(fs)
	pos, err := parseArgs(fs, args, 1)
	if err != nil {
		return err
	}
	f, err := os.Open(pos[0])
	if err != nil {
		return refused("fleet import", err)
	}
	defer f.Close()
	s, err := openFleet(*data, true)
	if err != nil {
		return refused("fleet import", err)
	}
	defer closeStore(s, &err)
	if err := s.Import(f); err != nil {
		return refused("fleet import", fmt.Errorf("%s: %w", pos[0], err))
	}
	serial, err := s.Serial()
	if err != nil {
		return refused("fleet import", err)
	}
	fmt.Fprintf(c.Stdout, "imported %s into %s (serial %d)\n", pos[0], filepath.Join(*data, storeFile), serial)
	return nil
}

func fleetBackup(_ context.Context, c *Context, args []string) (err error) {
	fs := c.flags("fleet backup")
	data := dataFlag(fs)
	out := fs.String("out", "", "backup file to write (mode 0600, replaced atomically)")
	if err := parse(fs, args, 0); err != nil {
		return err
	}
	if *out == "" {
		return usageError("goleudy fleet backup: --out is required")
	}
	s, err := openFleet(*data, false)
	if err != nil {
		return refused("fleet backup", err)
	}
	defer closeStore(s, &err)
	if err := s.BackupFile(*out); err != nil {
		return refused("fleet backup", err)
	}
	fmt.Fprintf(c.Stdout, "wrote %s\n", *out)
	return nil
}

// closeStore closes s, reporting a close error only if nothing failed
// before it.
func closeStore(s *fleet.Store, err *error) {
	if cerr := s.Close(); cerr != nil && *err == nil {
		*err = fmt.Errorf("goleudy: close fleet store: %w", cerr)
	}
}

// removeCommand is `goleudy KIND remove NAME`: remove takes the thing out
// of the store under the caller's name for the audit log.
func removeCommand(kind string, remove func(s *fleet.Store, actor, name string) error) func(context.Context, *Context, []string) error {
	return func(ctx context.Context, c *Context, args []string) (err error) {
		cmd := kind + " remove"
		fs := c.flags(cmd)
		r := fleetFlags(fs)
		data := r.data
		pos, err := parseArgs(fs, args, 1)
		if err != nil {
			return err
		}
		if r.enabled() {
			cl, err := r.client()
			if err != nil {
				return refusedAPI(cmd, err)
			}
			path := "/v1/nodes/"
			if kind == "zone" {
				path = "/v1/zones/"
			}
			if err := cl.Do(ctx, http.MethodDelete, path+url.PathEscape(pos[0]), nil, nil); err != nil {
				return refusedAPI(cmd, err)
			}
			fmt.Fprintf(c.Stdout, "removed %s %s\n", kind, pos[0])
			return nil
		}
		s, err := openFleet(*data, false)
		if err != nil {
			return refused(cmd, err)
		}
		defer closeStore(s, &err)
		if err := remove(s, actor(), pos[0]); err != nil {
			return refused(cmd, err)
		}
		fmt.Fprintf(c.Stdout, "removed %s %s\n", kind, pos[0])
		return nil
	}
}
