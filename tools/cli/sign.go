package cli

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"os"

	"github.com/goleudy/goleudy/provision/config"
	"github.com/goleudy/goleudy/provision/envelope"
	"github.com/goleudy/goleudy/services/statedir"
)

func sign(_ context.Context, c *Context, args []string) error {
	fs := c.flags("sign")
	var keys listFlag
	fs.Var(&keys, "key", "private key file; give it twice to sign with old and new keys during rotation")
	in := fs.String("in", "", "node config (JSON)")
	out := fs.String("out", "", "signed envelope to write (default: standard output)")
	if err := parse(fs, args, 0); err != nil {
		return err
	}
	if len(keys) == 0 || *in == "" {
		return usageError("goleudy sign: --key and --in are required")
	}
	data, err := os.ReadFile(*in)
	if err != nil {
		return fmt.Errorf("goleudy sign: %w", err)
	}
	if envelope.IsEnvelope(data) {
		return fmt.Errorf("goleudy sign: %s is already a signed envelope", *in)
	}
	// Nodes refuse invalid configs, so signing one would only strand it.
	if _, err := config.Parse(data); err != nil {
		return fmt.Errorf("goleudy sign: %s is not a valid config:\n%w", *in, err)
	}
	var privs []ed25519.PrivateKey
	for _, k := range keys {
		p, err := envelope.LoadPrivateKey(k)
		if err != nil {
			return fmt.Errorf("goleudy sign: %w", err)
		}
		privs = append(privs, p)
	}
	signed, err := envelope.Sign(config.PayloadType, data, privs...)
	if err != nil {
		return fmt.Errorf("goleudy sign: %w", err)
	}
	if *out == "" {
		_, err = c.Stdout.Write(signed)
		return err
	}
	if err := statedir.WriteFile(*out, signed, 0o644); err != nil {
		return fmt.Errorf("goleudy sign: %w", err)
	}
	return nil
}

func verify(_ context.Context, c *Context, args []string) error {
	fs := c.flags("verify")
	var pubs listFlag
	fs.Var(&pubs, "pub", "trusted public key file; may be given several times")
	in := fs.String("in", "", "signed config envelope")
	if err := parse(fs, args, 0); err != nil {
		return err
	}
	if len(pubs) == 0 || *in == "" {
		return usageError("goleudy verify: --pub and --in are required")
	}
	trust, err := envelope.LoadTrustSet(pubs...)
	if err != nil {
		return fmt.Errorf("goleudy verify: %w", err)
	}
	data, err := os.ReadFile(*in)
	if err != nil {
		return fmt.Errorf("goleudy verify: %w", err)
	}
	payload, keyID, err := trust.Verify(data, config.PayloadType)
	if err != nil {
		return fmt.Errorf("goleudy verify: %s: %w", *in, err)
	}
	cfg, err := config.Parse(payload)
	if err != nil {
		return fmt.Errorf("goleudy verify: %s: the signature is good but the config is not:\n%w", *in, err)
	}
	fmt.Fprintf(c.Stdout, "OK: config serial %d for node %s, signed by key %s\n", cfg.Serial, cfg.Node.ID, envelope.ShortID(keyID))
	return nil
}

func configCheck(_ context.Context, c *Context, args []string) error {
	fs := c.flags("config check")
	if err := parse(fs, args, 1); err != nil {
		return err
	}
	file := fs.Arg(0)
	data, err := os.ReadFile(file)
	if err != nil {
		return fmt.Errorf("goleudy config check: %w", err)
	}
	if envelope.IsEnvelope(data) {
		_, payload, err := envelope.Parse(data)
		if err != nil {
			return fmt.Errorf("goleudy config check: %s: %w", file, err)
		}
		fmt.Fprintf(c.Stderr, "%s is a signed envelope; checking its payload (use 'goleudy verify' to check the signature)\n", file)
		data = payload
	}
	cfg, err := config.Parse(data)
	var es config.Errors
	if errors.As(err, &es) {
		for _, e := range es {
			fmt.Fprintf(c.Stdout, "%s: %s\n", file, e)
		}
		return &ExitError{Code: ExitFailure, Err: fmt.Errorf("goleudy config check: %s: %d problem(s)", file, len(es))}
	}
	if err != nil {
		return fmt.Errorf("goleudy config check: %w", err)
	}
	fmt.Fprintf(c.Stdout, "%s: OK (node %s, serial %d, %d zone(s))\n", file, cfg.Node.ID, cfg.Serial, len(cfg.Zones))
	return nil
}
