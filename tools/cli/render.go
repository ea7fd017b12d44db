package cli

import (
	"context"
	"crypto/ed25519"

	"github.com/goleudy/goleudy/provision/config"
	"github.com/goleudy/goleudy/provision/envelope"
	"github.com/goleudy/goleudy/services/statedir"
)

// configRender writes the config the store renders for one node, signed
// exactly as `goleudy sign` would sign it, so an operator holding the
// config key offline can produce what the server would serve.
func configRender(_ context.Context, c *Context, args []string) (err error) {
	fs := c.flags("config render")
	data := dataFlag(fs)
	var keys listFlag
	fs.Var(&keys, "sign", "private key file to sign with; give it twice during rotation")
	out := fs.String("out", "", "file to write (mode 0644; default: standard output)")
	pos, err := parseArgs(fs, args, 1)
	if err != nil {
		return err
	}
	// Load keys first: a bad key path should fail before the store is locked.
	var privs []ed25519.PrivateKey
	for _, k := range keys {
		p, err := envelope.LoadPrivateKey(k)
		if err != nil {
			return refused("config render", err)
		}
		privs = append(privs, p)
	}
	s, err := openFleet(*data, false)
	if err != nil {
		return refused("config render", err)
	}
	defer closeStore(s, &err)
	doc, err := renderConfig(s, pos[0])
	if err != nil {
		return refused("config render", err)
	}
	if len(privs) > 0 {
		if doc, err = envelope.Sign(config.PayloadType, doc, privs...); err != nil {
			return refused("config render", err)
		}
	}
	if *out == "" {
		_, err = c.Stdout.Write(doc)
		return err
	}
	if err := statedir.WriteFile(*out, doc, 0o644); err != nil {
		return refused("config render", err)
	}
	return nil
}
