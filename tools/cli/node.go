package cli

import (
	"context"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/goleudy/goleudy/provision/config"
	"github.com/goleudy/goleudy/provision/fleet"
)

// tokenLifetime is how long an enrollment token stays good: long enough to
// build an image and ship the box, short enough that a lost image is not a
// standing invitation.
const tokenLifetime = 14 * 24 * time.Hour

// dateLayout is how in-service dates are typed and shown.
const dateLayout = "2006-01-02"

func nodeAdd(ctx context.Context, c *Context, args []string) (err error) {
	fs := c.flags("node add")
	r := fleetFlags(fs)
	data := r.data
	seedOut := fs.String("seed-out", "", "with --server: write the node's seed (token, server key, trust anchors) to this file, mode 0600")
	board := fs.String("board", "", "board name, e.g. rpi")
	fqdn := fs.String("fqdn", "", "the node's fully qualified name")
	display := fs.String("location-display", "", "location shown on the info page and NOC map")
	inService := fs.String("in-service", "", "in-service date, YYYY-MM-DD")
	pos, err := parseArgs(fs, args, 1)
	if err != nil {
		return err
	}
	n := fleet.Node{Config: config.Config{Node: config.Node{
		ID: pos[0], Board: *board, FQDN: *fqdn,
		Location: config.Location{Display: *display},
	}}}
	if *inService != "" {
		if n.InService, err = time.Parse(dateLayout, *inService); err != nil {
			return usageError("goleudy node add: --in-service: want YYYY-MM-DD: %v", err)
		}
	}
	if r.enabled() {
		return nodeAddRemote(ctx, c, r, n, *seedOut)
	}
	if *seedOut != "" {
		return usageError("goleudy node add: --seed-out needs --server: the seed carries the server's keys")
	}
	s, err := openFleet(*data, true)
	if err != nil {
		return refused("node add", err)
	}
	defer closeStore(s, &err)
	who := actor()
	if err := s.AddNode(who, n); err != nil {
		return refused("node add", err)
	}
	expires := time.Now().Add(tokenLifetime).UTC().Truncate(time.Second)
	token, err := s.NewToken(who, n.ID(), expires)
	if err != nil {
		// A node nobody can enroll is half-added; take it back out.
		if rerr := s.RemoveNode(who, n.ID()); rerr != nil {
			return refused("node add", fmt.Errorf("%w; and removing the node again: %w", err, rerr))
		}
		return refused("node add", err)
	}
	fmt.Fprintf(c.Stdout, "added node %s\n", n.ID())
	fmt.Fprintf(c.Stdout, "enrollment token (single use, valid until %s; shown only now):\n", expires.Format(time.RFC3339))
	fmt.Fprintln(c.Stdout, token)
	return nil
}

func nodeList(ctx context.Context, c *Context, args []string) (err error) {
	fs := c.flags("node list")
	r := fleetFlags(fs)
	data := r.data
	if err := parse(fs, args, 0); err != nil {
		return err
	}
	if r.enabled() {
		return nodeListRemote(ctx, c, r)
	}
	s, err := openFleet(*data, false)
	if err != nil {
		return refused("node list", err)
	}
	defer closeStore(s, &err)
	nodes, err := s.ListNodes()
	if err != nil {
		return refused("node list", err)
	}
	tw := tabwriter.NewWriter(c.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tBOARD\tSTATE\tIN SERVICE")
	for _, n := range nodes {
		// Board and state may come from the fleet defaults, so show
		// what the node will be told, not only its own document.
		cfg, err := s.Render(n.ID())
		if err != nil {
			return refused("node list", err)
		}
		since := "-"
		if !n.InService.IsZero() {
			since = n.InService.Format(dateLayout)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", n.ID(), dash(cfg.Node.Board), dash(cfg.Node.State), since)
	}
	return tw.Flush()
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func nodeShow(ctx context.Context, c *Context, args []string) (err error) {
	fs := c.flags("node show")
	r := fleetFlags(fs)
	data := r.data
	pos, err := parseArgs(fs, args, 1)
	if err != nil {
		return err
	}
	if r.enabled() {
		cl, err := r.client()
		if err != nil {
			return refusedAPI("node show", err)
		}
		doc, err := cl.Config(ctx, pos[0], false)
		if err != nil {
			return refusedAPI("node show", err)
		}
		_, err = c.Stdout.Write(doc)
		return err
	}
	s, err := openFleet(*data, false)
	if err != nil {
		return refused("node show", err)
	}
	defer closeStore(s, &err)
	doc, err := renderConfig(s, pos[0])
	if err != nil {
		return refused("node show", err)
	}
	_, err = c.Stdout.Write(doc)
	return err
}

// renderConfig is the document the node with id would fetch, unsigned.
func renderConfig(s *fleet.Store, id string) ([]byte, error) {
	cfg, err := s.Render(id)
	if err != nil {
		return nil, err
	}
	return cfg.Encode()
}
