package cli

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	authdns "github.com/goleudy/goleudy/services/dns"
	"github.com/goleudy/goleudy/services/dns/dnsserver"
)

// zoneServe answers from zone files exactly as a node answers from
// transferred zones. Operators use it to see how a node will answer a
// zone before adding it; dnsbench uses it to measure the answering path
// against NSD and Knot on the same files.
func zoneServe(ctx context.Context, c *Context, args []string) error {
	fs := c.flags("zone serve")
	var listen listFlag
	fs.Var(&listen, "listen", "address to serve on, host:port (repeatable)")
	dir := fs.String("zones", "", "directory of ORIGIN.zone files (root.zone for the root)")
	identity := fs.String("identity", "", "CHAOS id.server answer")
	if err := parse(fs, args, 0); err != nil {
		return err
	}
	if len(listen) == 0 || *dir == "" {
		return usageError("goleudy zone serve: --listen and --zones are required")
	}
	start := time.Now()
	zones, err := loadZoneDir(*dir)
	if err != nil {
		return fmt.Errorf("goleudy zone serve: %w", err)
	}
	store := authdns.NewZones()
	if err := store.Add(zones...); err != nil {
		return fmt.Errorf("goleudy zone serve: %w", err)
	}
	records := 0
	for _, z := range zones {
		records += z.Len()
	}
	fmt.Fprintf(c.Stderr, "loaded %d zones, %d records in %v\n", len(zones), records, time.Since(start).Round(time.Millisecond))
	// Parsing leaves several times the zone's size in garbage; give it
	// back now rather than when the scavenger gets round to it.
	debug.FreeOSMemory()
	srv := dnsserver.New(dnsserver.Options{Listen: listen, Identity: *identity}, store, nil, nil)
	return srv.Run(ctx)
}

// loadZoneDir parses every *.zone file in dir, in parallel.
func loadZoneDir(dir string) ([]*authdns.Zone, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.zone"))
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("no *.zone files in %s", dir)
	}
	zones := make([]*authdns.Zone, len(files))
	errs := make([]error, len(files))
	next := make(chan int)
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for i := range next {
				zones[i], errs[i] = loadZoneFile(files[i])
			}
		})
	}
	for i := range files {
		next <- i
	}
	close(next)
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return zones, nil
}

func loadZoneFile(file string) (*authdns.Zone, error) {
	origin := strings.TrimSuffix(filepath.Base(file), ".zone") + "."
	if origin == "root." {
		origin = "."
	}
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return authdns.ParseZone(f, origin, file)
}
