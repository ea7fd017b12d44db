package cli

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/goleudy/goleudy/provision/envelope"
)

func keysNew(_ context.Context, c *Context, args []string) error {
	fs := c.flags("keys new")
	out := fs.String("out", "", "DIR/NAME: writes NAME.key (mode 0600) and NAME.pub")
	if err := parse(fs, args, 0); err != nil {
		return err
	}
	if *out == "" {
		return usageError("goleudy keys new: --out is required")
	}
	prefix := strings.TrimSuffix(strings.TrimSuffix(*out, ".key"), ".pub")
	if err := os.MkdirAll(filepath.Dir(prefix), 0o700); err != nil {
		return fmt.Errorf("goleudy keys new: %w", err)
	}
	pub, err := envelope.NewKeyPair(prefix)
	if err != nil {
		return fmt.Errorf("goleudy keys new: %w", err)
	}
	fmt.Fprintf(c.Stdout, "wrote %s.key and %s.pub (key id %s)\n", prefix, prefix, envelope.KeyID(pub))
	return nil
}
