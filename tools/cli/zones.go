package cli

import (
	"context"
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/goleudy/goleudy/provision/fleet"
)

// The customer zones every node is secondary for. (zone.go is the
// stand-alone `zone serve`.)

func zoneAdd(_ context.Context, c *Context, args []string) (err error) {
	fs := c.flags("zone add")
	data := dataFlag(fs)
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

func zoneList(_ context.Context, c *Context, args []string) (err error) {
	fs := c.flags("zone list")
	data := dataFlag(fs)
	if err := parse(fs, args, 0); err != nil {
		return err
	}
	s, err := openFleet(*data, false)
	if err != nil {
		return refused("zone list", err)
	}
	defer closeStore(s, &err)
	zones, err := s.ListZones()
	if err != nil {
		return refused("zone list", err)
	}
	tw := tabwriter.NewWriter(c.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tPRIMARIES\tTSIG")
	for _, z := range zones {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", z.Name, strings.Join(z.Primaries, ","), dash(z.TSIG))
	}
	return tw.Flush()
}
