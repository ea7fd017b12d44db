package cli

import (
	"context"
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/goleudy/goleudy/provision/api"
)

// rolloutStart offers a version to the canaries, then, once they all
// committed it, to the rest of the fleet; the server halts it by itself
// when a node reports a failed update.
func rolloutStart(ctx context.Context, c *Context, args []string) error {
	fs := c.flags("rollout start")
	r := fleetFlags(fs)
	canary := fs.Int("canary", 1, "how many nodes take the release first (nodes heard from lately first, then by id); 0: all at once")
	force := fs.Bool("force", false, "replace a rollout that is still running")
	pos, err := parseArgs(fs, args, 1)
	if err != nil {
		return err
	}
	cl, err := r.needServer("rollout start")
	if err != nil {
		return err
	}
	ro, err := cl.StartRollout(ctx, api.RolloutRequest{Version: pos[0], Canary: *canary, Force: *force})
	if err != nil {
		return refusedAPI("rollout start", err)
	}
	fmt.Fprintf(c.Stdout, "started rollout of %s to %d node(s)\n", ro.Version, len(ro.Targets))
	return printRollout(c, ro)
}

func rolloutStatus(ctx context.Context, c *Context, args []string) error {
	fs := c.flags("rollout status")
	r := fleetFlags(fs)
	if err := parse(fs, args, 0); err != nil {
		return err
	}
	cl, err := r.needServer("rollout status")
	if err != nil {
		return err
	}
	ro, err := cl.Rollout(ctx)
	if err != nil {
		return refusedAPI("rollout status", err)
	}
	return printRollout(c, ro)
}

func rolloutHalt(ctx context.Context, c *Context, args []string) error {
	fs := c.flags("rollout halt")
	r := fleetFlags(fs)
	reason := fs.String("reason", "", "why, for the audit log and the NOC page")
	if err := parse(fs, args, 0); err != nil {
		return err
	}
	cl, err := r.needServer("rollout halt")
	if err != nil {
		return err
	}
	ro, err := cl.HaltRollout(ctx, *reason)
	if err != nil {
		return refusedAPI("rollout halt", err)
	}
	fmt.Fprintf(c.Stdout, "halted rollout of %s: nodes that committed it keep it, the others are no longer offered it\n", ro.Version)
	return printRollout(c, ro)
}

func printRollout(c *Context, ro api.Rollout) error {
	fmt.Fprintf(c.Stdout, "rollout %s: phase %s since %s; %d of %d committed; started by %s at %s\n",
		ro.Version, ro.Phase, stamp(ro.PhaseAt), ro.Committed, len(ro.Targets), ro.Actor, stamp(ro.Started))
	if h := ro.Halt; h != nil {
		who := h.Actor
		if h.Node != "" {
			who = "node " + h.Node + " (" + strings.ReplaceAll(h.State, "_", " ") + ")"
		}
		fmt.Fprintf(c.Stdout, "halted by %s at %s: %s\n", who, stamp(h.At), dash(h.Reason))
	}
	tw := tabwriter.NewWriter(c.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NODE\tBOARD\tBUILD\tCANARY\tOFFERED\tSTATE\tSINCE\tREASON")
	for _, t := range ro.Targets {
		state := t.State
		if state == "" {
			state = "-"
			if t.Offered {
				state = "waiting"
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%s\t%s\t%s\n", t.Node, t.Board, t.Build, yes(t.Canary), yes(t.Offered),
			state, stamp(t.At), dash(t.Reason))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, s := range ro.Skipped {
		fmt.Fprintf(c.Stdout, "left out %s: %s\n", s.Node, s.Reason)
	}
	return nil
}

func yes(b bool) string {
	if b {
		return "yes"
	}
	return "-"
}
