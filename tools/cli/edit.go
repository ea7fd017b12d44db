package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"time"

	"github.com/goleudy/goleudy/provision/api"
	"github.com/goleudy/goleudy/provision/config"
	"github.com/goleudy/goleudy/provision/fleet"
)

// nodeEdit changes a node: a whole new document from --file, and/or the
// common fields by flag. The result is validated like node add.
func nodeEdit(ctx context.Context, c *Context, args []string) (err error) {
	fs := c.flags("node edit")
	r := fleetFlags(fs)
	file := fs.String("file", "", "replace the node document with this JSON file (its node.id must match)")
	state := fs.String("state", "", "live, maintenance or drained")
	display := fs.String("location-display", "", "location shown on the info page and NOC")
	inService := fs.String("in-service", "", "in-service date, YYYY-MM-DD")
	notes := fs.String("notes", "", "operator notes")
	pos, err := parseArgs(fs, args, 1)
	if err != nil {
		return err
	}
	id := pos[0]
	edit := func(n *fleet.Node) error {
		if *file != "" {
			data, err := os.ReadFile(*file)
			if err != nil {
				return err
			}
			doc, err := config.Decode(data)
			if err != nil {
				return fmt.Errorf("%s: %w", *file, err)
			}
			n.Config = *doc
		}
		if *state != "" {
			n.Config.Node.State = *state
		}
		if *display != "" {
			n.Config.Node.Location.Display = *display
		}
		if *notes != "" {
			n.Notes = *notes
		}
		if *inService != "" {
			t, err := time.Parse(dateLayout, *inService)
			if err != nil {
				return usageError("goleudy node edit: --in-service: want YYYY-MM-DD: %v", err)
			}
			n.InService = t
		}
		if n.ID() != id {
			return config.Errors{{Path: "node.id", Msg: fmt.Sprintf("%q does not match the node being edited, %q", n.ID(), id)}}
		}
		return nil
	}
	if r.enabled() {
		cl, err := r.client()
		if err != nil {
			return refusedAPI("node edit", err)
		}
		in, err := cl.Node(ctx, id)
		if err != nil {
			return refusedAPI("node edit", err)
		}
		var n fleet.Node
		if err := json.Unmarshal(in.Config, &n.Config); err != nil {
			return err
		}
		n.Notes = in.Notes
		if in.InService != "" {
			n.InService, _ = time.Parse(dateLayout, in.InService)
		}
		if err := edit(&n); err != nil {
			return refused("node edit", err)
		}
		doc, _ := json.Marshal(n.Config)
		out := api.NodeInfo{Config: doc, Notes: n.Notes}
		if !n.InService.IsZero() {
			out.InService = n.InService.Format(dateLayout)
		}
		if _, err := cl.UpdateNode(ctx, out, id); err != nil {
			return refusedAPI("node edit", err)
		}
		fmt.Fprintf(c.Stdout, "changed node %s\n", id)
		return nil
	}
	s, err := openFleet(*r.data, false)
	if err != nil {
		return refused("node edit", err)
	}
	defer closeStore(s, &err)
	n, err := s.GetNode(id)
	if err != nil {
		return refused("node edit", err)
	}
	if err := edit(&n); err != nil {
		return refused("node edit", err)
	}
	if err := s.UpdateNode(actor(), n); err != nil {
		return refused("node edit", err)
	}
	fmt.Fprintf(c.Stdout, "changed node %s\n", id)
	return nil
}
