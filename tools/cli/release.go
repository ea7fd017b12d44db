package cli

import (
	"context"
	"fmt"
	"os"
	"text/tabwriter"
	"time"

	"github.com/goleudy/goleudy/provision/api"
)

// needServer is the API client for a command that only a running server
// can answer: it holds the store, the bundles and the nodes' heartbeats.
func (r *remote) needServer(cmd string) (*api.Client, error) {
	if !r.enabled() {
		return nil, usageError("goleudy %s: needs --server (or %s): the running server holds the releases and hears the nodes", cmd, EnvServer)
	}
	cl, err := r.client()
	if err != nil {
		return nil, refusedAPI(cmd, err)
	}
	return cl, nil
}

// releasePublish uploads a bundle written by `goleudy image build
// --bundle`. The server checks its signature against its release keys,
// its board, its build number and its image before it keeps it.
func releasePublish(ctx context.Context, c *Context, args []string) error {
	fs := c.flags("release publish")
	r := fleetFlags(fs)
	pos, err := parseArgs(fs, args, 1)
	if err != nil {
		return err
	}
	cl, err := r.needServer("release publish")
	if err != nil {
		return err
	}
	f, err := os.Open(pos[0])
	if err != nil {
		return fmt.Errorf("goleudy release publish: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("goleudy release publish: %w", err)
	}
	start := time.Now()
	rel, err := cl.PublishRelease(ctx, f, fi.Size())
	if err != nil {
		return refusedAPI("release publish", fmt.Errorf("%s: %w", pos[0], err))
	}
	fmt.Fprintf(c.Stdout, "published board %s version %s build %d\n", rel.Board, rel.Version, rel.Build)
	fmt.Fprintf(c.Stdout, "  image sha256 %s, %d bytes; bundle %d bytes; %v\n", rel.SHA256, rel.Size, rel.BundleSize,
		time.Since(start).Round(time.Millisecond))
	if rel.Downgrade {
		fmt.Fprintln(c.Stdout, "  signed as a downgrade: nodes on a higher build will take it")
	}
	return nil
}

func releaseList(ctx context.Context, c *Context, args []string) error {
	fs := c.flags("release list")
	r := fleetFlags(fs)
	if err := parse(fs, args, 0); err != nil {
		return err
	}
	cl, err := r.needServer("release list")
	if err != nil {
		return err
	}
	rs, err := cl.Releases(ctx)
	if err != nil {
		return refusedAPI("release list", err)
	}
	tw := tabwriter.NewWriter(c.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "BOARD\tVERSION\tBUILD\tIMAGE BYTES\tSHA256\tCREATED\tPUBLISHED\tNOTE")
	for _, rel := range rs {
		sha := rel.SHA256
		if len(sha) > 16 {
			sha = sha[:16] + "…"
		}
		flags := "-"
		if rel.Downgrade {
			flags = "downgrade"
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%s\t%s\t%s\t%s\n", rel.Board, rel.Version, rel.Build, rel.Size, sha,
			stamp(rel.Created), stamp(rel.Published), flags)
	}
	return tw.Flush()
}

func stamp(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format("2006-01-02T15:04:05Z")
}
