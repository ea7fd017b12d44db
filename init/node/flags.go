package node

import (
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"
)

// Options are the flags of `goleudy-node run`.
type Options struct {
	Seed      string
	Config    string
	State     string
	Trust     []string
	Unsigned  bool
	Network   string
	LogLevel  slog.Level
	LogFormat string
	// OOB and IX match the board's ports for those roles (a name, MAC,
	// driver:NAME or bus path); the config's interfaces section wins.
	OOB, IX string
	// DHCPTimeout is how long the OOB port waits for a DHCPv4 lease
	// before it takes the seed's static settings.
	DHCPTimeout time.Duration
	// NTP servers for the clock (SNTP over OOB).
	NTP []string
}

// DefaultNTP is where a node without --ntp asks the time.
var DefaultNTP = []string{"pool.ntp.org"}

func parseRun(args []string, stderr io.Writer) (Options, error) {
	o := Options{Network: "none", LogFormat: "json", DHCPTimeout: 15 * time.Second}
	fs := flag.NewFlagSet("goleudy-node run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.Seed, "seed", "", "seed file: enroll with the provisioning server and pull the config over the tunnel")
	fs.StringVar(&o.Config, "config", "", "node config: a signed envelope, or bare JSON with --unsigned")
	fs.StringVar(&o.State, "state", "", "state directory: identity, last good config, serial floor, zones")
	fs.Func("trust", "trusted public key file; may be given several times", func(s string) error {
		o.Trust = append(o.Trust, s)
		return nil
	})
	fs.BoolVar(&o.Unsigned, "unsigned", false, "accept bare, unsigned configs (labs and tests only)")
	fs.StringVar(&o.Network, "network", o.Network, "none: touch no interface; manage: configure interfaces by role")
	fs.StringVar(&o.OOB, "oob", "", "the board's OOB port: name, MAC, driver:NAME or bus path (the config's interfaces.oob.match wins)")
	fs.StringVar(&o.IX, "ix", "", "the board's IX port, as --oob (the config's interfaces.ix.match wins)")
	fs.DurationVar(&o.DHCPTimeout, "dhcp-timeout", o.DHCPTimeout, "wait this long for a DHCPv4 lease on OOB before using the seed's static settings")
	fs.Func("ntp", "SNTP server, host or host:port (repeatable; default "+strings.Join(DefaultNTP, ", ")+")", func(s string) error {
		o.NTP = append(o.NTP, s)
		return nil
	})
	fs.TextVar(&o.LogLevel, "log-level", slog.LevelInfo, "debug, info, warn or error")
	fs.StringVar(&o.LogFormat, "log-format", o.LogFormat, "json or text")
	if err := fs.Parse(args); err != nil {
		return o, exitf(ExitUsage, "goleudy-node run: %v", err)
	}
	if len(o.NTP) == 0 {
		o.NTP = DefaultNTP
	}
	if err := o.check(fs.Args()); err != nil {
		return o, err
	}
	return o, nil
}

// check names every problem with the flags at once.
func (o Options) check(rest []string) error {
	var problems []string
	if len(rest) > 0 {
		problems = append(problems, fmt.Sprintf("unexpected arguments %q", rest))
	}
	if o.Config == "" && o.Seed == "" {
		problems = append(problems, "--config is required (or --seed)")
	}
	if o.State == "" {
		problems = append(problems, "--state is required")
	}
	switch {
	case o.Unsigned && len(o.Trust) > 0:
		problems = append(problems, "--trust and --unsigned exclude each other")
	case o.Unsigned && o.Seed != "":
		problems = append(problems, "--seed and --unsigned exclude each other: configs from the server are always signed")
	case !o.Unsigned && len(o.Trust) == 0 && o.Seed == "":
		problems = append(problems, "give --trust PUB (or --unsigned for a lab)")
	}
	switch o.Network {
	case "none":
		if o.Seed != "" {
			problems = append(problems, "--seed needs --network=manage: the node brings its OOB port and management tunnel up")
		}
	case "manage":
	default:
		problems = append(problems, fmt.Sprintf("--network=%q: must be none or manage", o.Network))
	}
	if o.DHCPTimeout <= 0 {
		problems = append(problems, fmt.Sprintf("--dhcp-timeout=%v: must be positive", o.DHCPTimeout))
	}
	if o.LogFormat != "json" && o.LogFormat != "text" {
		problems = append(problems, fmt.Sprintf("--log-format=%q: must be json or text", o.LogFormat))
	}
	if len(problems) > 0 {
		return exitf(ExitUsage, "goleudy-node run: %s", strings.Join(problems, "; "))
	}
	return nil
}
