package cli

import (
	"context"
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/goleudy/goleudy/provision/api"
	"github.com/goleudy/goleudy/provision/fleet"
)

// The customer zones every node is secondary for. (zone.go is the
// stand-alone `zone serve`.)

func zoneAdd(ctx context.Context, c *Context, args []string) (err error) {
	fs := c.flags("zone add")
	r := fleetFlags(fs)
	data := r.data
	var primaries listFlag
	fs.Var(&primaries, "primary", "customer primary, IP or IP:PORT (repeatable)")
	tsig := fs.String("tsig", "", "TSIG key name from the fleet defaults")
	pos, err := parseArgs(fs, args, 1)
	if err != nil {
		return err
	}
	if len(primaries) == 0 {
		return usageError("goleudy zone add: --primary is required")
	}
	if r.enabled() {
		cl, err := r.client()
		if err != nil {
			return refusedAPI("zone add", err)
		}
		if err := cl.AddZone(ctx, api.Zone{Name: pos[0], Primaries: primaries, TSIG: *tsig}); err != nil {
			return refusedAPI("zone add", err)
		}
		fmt.Fprintf(c.Stdout, "added zone %s\n", pos[0])
		return nil
	}
	s, err := openFleet(*data, true)
	if err != nil {
		return refused("zone add", err)
	}
	defer closeStore(s, &err)
	z := fleet.Zone{Name: pos[0], Primaries: primaries, TSIG: *tsig}
	if err := s.AddZone(actor(), z); err != nil {
		return refused("zone add", err)
	}
	fmt.Fprintf(c.Stdout, "added zone %s\n", z.Name)
	return nil
}

func zoneList(ctx context.Context, c *Context, args []string) (err error) {
	fs := c.flags("zone list")
	r := fleetFlags(fs)
	data := r.data
	if err := parse(fs, args, 0); err != nil {
		return err
	}
	var zones []fleet.Zone
	if r.enabled() {
		cl, err := r.client()
		if err != nil {
			return refusedAPI("zone list", err)
		}
		zs, err := cl.Zones(ctx)
		if err != nil {
			return refusedAPI("zone list", err)
		}
		for _, z := range zs {
			zones = append(zones, fleet.Zone{Name: z.Name, Primaries: z.Primaries, TSIG: z.TSIG})
		}
	} else {
		s, err := openFleet(*data, false)
		if err != nil {
			return refused("zone list", err)
		}
		defer closeStore(s, &err)
		if zones, err = s.ListZones(); err != nil {
			return refused("zone list", err)
		}
	}
	tw := tabwriter.NewWriter(c.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tPRIMARIES\tTSIG")
	for _, z := range zones {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", z.Name, strings.Join(z.Primaries, ","), dash(z.TSIG))
	}
	return tw.Flush()
}
