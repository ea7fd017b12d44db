package cli

import (
	"context"
	"fmt"

	"github.com/goleudy/goleudy/image/flash"
)

// flashCmd writes an image to a card and reads it back.
func flashCmd(ctx context.Context, c *Context, args []string) error {
	fs := c.flags("flash")
	quiet := fs.Bool("quiet", false, "no progress bar")
	if err := parse(fs, args, 2); err != nil {
		return err
	}
	img, dev := fs.Arg(0), fs.Arg(1)
	o := flash.Options{}
	if !*quiet {
		o.Progress = flash.Bar(c.Stderr)
	}
	res, err := flash.Write(ctx, img, dev, o)
	if err != nil {
		return &ExitError{Code: ExitFailure, Err: err}
	}
	fmt.Fprintf(c.Stdout, "%s: wrote %d MiB of %s in %v and read it back in %v; it matches\n",
		dev, res.Bytes>>20, img, res.Write.Round(1e6), res.Verify.Round(1e6))
	return nil
}
