package cli

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"os/signal"
	"syscall"

	"github.com/goleudy/goleudy/provision/server"
)

// serve is `goleudy serve`: the provisioning server.
func serve(ctx context.Context, c *Context, args []string) error {
	fs := c.flags("serve")
	var o server.Options
	fs.StringVar(&o.DataDir, "data", defaultDataDir, "data directory: fleet store, keys, operator token, hub zones")
	fs.StringVar(&o.APIListen, "api-listen", "127.0.0.1:8000", "operator API and NOC page address (plain HTTP; keep it on loopback or behind TLS)")
	fs.StringVar(&o.EnrollListen, "enroll-listen", "", "enrollment address on the OOB side, e.g. 203.0.113.10:8080")
	fs.StringVar(&o.EnrollURL, "enroll-url", "", "enrollment URL seeds carry (default http://ENROLL-LISTEN/v1/enroll)")
	prefix := fs.String("tunnel-prefix", "", "tunnel address prefix; the first host is the server's (default "+server.DefaultTunnelPrefix+")")
	fs.IntVar(&o.TunnelPort, "tunnel-port", server.DefaultTunnelPort, "WireGuard UDP port")
	fs.StringVar(&o.TunnelEndpoint, "tunnel-endpoint", "", "HOST:PORT nodes dial for the tunnel (default: the enroll URL's host)")
	fs.StringVar(&o.Interface, "interface", server.DefaultInterface, "tunnel interface name")
	var hub, keys, releaseTrust listFlag
	fs.Var(&hub, "hub-listen", "another address the zone hub answers DNS on, e.g. for customer NOTIFY (repeatable)")
	fs.Var(&keys, "config-key", "private key that signs node configs (repeatable; default DATA/config.key, created when missing)")
	fs.Var(&releaseTrust, "release-trust", "public key whose signature on update bundles the server and nodes accept (repeatable; none: no releases)")
	level := slog.LevelInfo
	fs.TextVar(&level, "log-level", slog.LevelInfo, "debug, info, warn or error")
	if err := parse(fs, args, 0); err != nil {
		return err
	}
	if *prefix != "" {
		p, err := netip.ParsePrefix(*prefix)
		if err != nil {
			return usageError("goleudy serve: --tunnel-prefix: %v", err)
		}
		o.TunnelPrefix = p
	}
	o.HubListen, o.ConfigKeys, o.ReleaseTrust = hub, keys, releaseTrust
	o.Log = slog.New(slog.NewJSONHandler(c.Stderr, &slog.HandlerOptions{Level: level}))
	s, err := server.New(o)
	if err != nil {
		return fmt.Errorf("goleudy serve: %w", err)
	}
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGTERM, os.Interrupt)
	defer stop()
	if err := s.Run(ctx); err != nil {
		return fmt.Errorf("goleudy serve: %w", err)
	}
	return nil
}
