// Package node is the goleudy-node program: the same binary is /init in
// every image and `goleudy-node run` in labs and tests. It verifies the
// node's config, keeps the last good one in the state directory, and runs
// the node's services under the supervisor until it is told to stop.
//
// A node fails static: when a new config is refused, it logs why and keeps
// running on the last one it accepted.
package node

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/goleudy/goleudy/provision/api"
	"github.com/goleudy/goleudy/provision/config"
	"github.com/goleudy/goleudy/provision/configstore"
	"github.com/goleudy/goleudy/provision/envelope"
	"github.com/goleudy/goleudy/services/bgp"
	"github.com/goleudy/goleudy/services/clock"
	"github.com/goleudy/goleudy/services/dns/dnsservice"
	"github.com/goleudy/goleudy/services/health"
	"github.com/goleudy/goleudy/services/mgmt"
	"github.com/goleudy/goleudy/services/supervisor"
)

// Exit codes of goleudy-node.
const (
	ExitOK       = 0 // stopped cleanly on SIGTERM or SIGINT
	ExitFailure  = 1 // a runtime failure: state dir unusable, services did not stop
	ExitUsage    = 2 // bad flags, or a flag names an unreadable file
	ExitNoConfig = 3 // the config was refused and there is no last good config to fall back on
)

// ExitError carries the process exit code for an error.
type ExitError struct {
	Code int
	Err  error
}

func (e *ExitError) Error() string { return e.Err.Error() }
func (e *ExitError) Unwrap() error { return e.Err }

// ExitCode maps an error from Main to a process exit code.
func ExitCode(err error) int {
	var ee *ExitError
	switch {
	case err == nil:
		return ExitOK
	case errors.As(err, &ee):
		return ee.Code
	}
	return ExitFailure
}

func exitf(code int, format string, args ...any) error {
	return &ExitError{Code: code, Err: fmt.Errorf(format, args...)}
}

const usage = `usage: goleudy-node run --config FILE --state DIR (--trust PUB... | --unsigned) [--network=none|manage]
       goleudy-node run --seed FILE --state DIR --network=manage [--config FILE] [--trust PUB...]
       goleudy-node version

With --seed the node enrolls with the provisioning server named in the
seed, brings the management tunnel up and pulls its signed config; the
seed's trust anchors are trusted as well as any --trust.

Exit status: 0 clean stop, 1 runtime failure, 2 usage error,
3 config refused with no last good config to fall back on.
`

// Main runs the command in args (without the program name). Logs go to
// stderr as structured lines; stdout is for answers such as the version.
func Main(ctx context.Context, version string, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitf(ExitUsage, "goleudy-node: no command given")
	}
	switch args[0] {
	case "run":
		return run(ctx, version, args[1:], stderr)
	case "version":
		fmt.Fprintln(stdout, version)
		return nil
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprint(stderr, usage)
	return exitf(ExitUsage, "goleudy-node: unknown command %q", args[0])
}

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
}

func parseRun(args []string, stderr io.Writer) (Options, error) {
	o := Options{Network: "none", LogFormat: "json"}
	fs := flag.NewFlagSet("goleudy-node run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.Seed, "seed", "", "seed file: enroll with the provisioning server and pull the config over the tunnel")
	fs.StringVar(&o.Config, "config", "", "node config: a signed envelope, or bare JSON with --unsigned")
	fs.StringVar(&o.State, "state", "", "state directory: last good config, serial floor, zones")
	fs.Func("trust", "trusted public key file; may be given several times", func(s string) error {
		o.Trust = append(o.Trust, s)
		return nil
	})
	fs.BoolVar(&o.Unsigned, "unsigned", false, "accept bare, unsigned configs (labs and tests only)")
	fs.StringVar(&o.Network, "network", o.Network, "none: touch no interface; manage: configure interfaces by role")
	fs.TextVar(&o.LogLevel, "log-level", slog.LevelInfo, "debug, info, warn or error")
	fs.StringVar(&o.LogFormat, "log-format", o.LogFormat, "json or text")
	if err := fs.Parse(args); err != nil {
		return o, exitf(ExitUsage, "goleudy-node run: %v", err)
	}
	var problems []string
	if fs.NArg() > 0 {
		problems = append(problems, fmt.Sprintf("unexpected arguments %q", fs.Args()))
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
			problems = append(problems, "--seed needs --network=manage: the node brings its management tunnel up")
		}
	case "manage":
		if o.Seed == "" {
			problems = append(problems, "--network=manage needs --seed: the tunnel comes from enrollment")
		}
	default:
		problems = append(problems, fmt.Sprintf("--network=%q: must be none or manage", o.Network))
	}
	if o.LogFormat != "json" && o.LogFormat != "text" {
		problems = append(problems, fmt.Sprintf("--log-format=%q: must be json or text", o.LogFormat))
	}
	if len(problems) > 0 {
		return o, exitf(ExitUsage, "goleudy-node run: %s", strings.Join(problems, "; "))
	}
	return o, nil
}

func newLogger(o Options, w io.Writer) *slog.Logger {
	ho := &slog.HandlerOptions{Level: o.LogLevel}
	if o.LogFormat == "text" {
		return slog.New(slog.NewTextHandler(w, ho))
	}
	return slog.New(slog.NewJSONHandler(w, ho))
}

func run(ctx context.Context, version string, args []string, stderr io.Writer) error {
	o, err := parseRun(args, stderr)
	if err != nil {
		return err
	}
	log := newLogger(o, stderr)
	var seed api.Seed
	var trust *envelope.TrustSet
	if o.Seed != "" {
		if seed, err = mgmt.LoadSeed(o.Seed); err != nil {
			return exitf(ExitUsage, "goleudy-node run: --seed: %w", err)
		}
		if trust, err = seedTrust(seed, o.Trust); err != nil {
			return exitf(ExitUsage, "goleudy-node run: %w", err)
		}
	} else if !o.Unsigned {
		if trust, err = envelope.LoadTrustSet(o.Trust...); err != nil {
			return exitf(ExitUsage, "goleudy-node run: --trust: %w", err)
		}
	} else {
		log.Warn("accepting unsigned configs (--unsigned); never do this on a deployed node")
	}
	store, err := configstore.Open(o.State, trust, log.With("part", "configstore"))
	if err != nil {
		return exitf(ExitFailure, "goleudy-node run: %w", err)
	}
	var cfg *config.Config
	if o.Config != "" {
		if cfg, err = load(store, o.Config, log); err != nil && o.Seed == "" {
			return exitf(ExitNoConfig, "goleudy-node run: %w", err)
		}
	} else {
		cfg = store.Current()
	}

	l := &live{store: store, version: version, first: make(chan *config.Config, 1), log: log}
	var agentDone chan struct{}
	if o.Seed != "" {
		agent, err := mgmt.New(mgmt.Options{
			StateDir: o.State, Seed: seed, OnConfig: l.offer, Heartbeat: l.heartbeat,
			Log: log.With("part", "mgmt"),
		})
		if err != nil {
			return exitf(ExitFailure, "goleudy-node run: %w", err)
		}
		l.agent = agent
		agentDone = make(chan struct{})
		go func() {
			defer close(agentDone)
			runAgent(ctx, agent, log)
		}()
		defer func() { <-agentDone }()
		if cfg == nil {
			log.Info("waiting for the first config from the server", "node", seed.NodeID)
			select {
			case cfg = <-l.first:
			case <-ctx.Done():
				log.Info("node stopped before its first config")
				return nil
			}
		}
	}
	log = log.With("node", cfg.Node.ID)
	services, err := servicesFor(cfg, o.State, log)
	if err != nil {
		return exitf(ExitFailure, "goleudy-node run: %w", err)
	}
	sup, err := supervisor.New(supervisor.Options{Logger: log.With("part", "supervisor")}, services...)
	if err != nil {
		return exitf(ExitFailure, "goleudy-node run: %w", err)
	}
	l.start(cfg, services, sup)
	names := make([]string, len(services))
	for i, s := range services {
		names[i] = s.Name()
	}
	log.Info("node running", "version", version, "serial", cfg.Serial, "state", cfg.Node.State,
		"network", o.Network, "services", names)
	if o.Config != "" {
		stopReload := reloadOnHangup(ctx, store, o.Config, services, log)
		defer stopReload()
	}
	err = sup.Run(ctx)
	if err != nil {
		return exitf(ExitFailure, "goleudy-node run: %w", err)
	}
	log.Info("node stopped")
	return nil
}

// seedTrust trusts the seed's config keys and any --trust files.
func seedTrust(seed api.Seed, files []string) (*envelope.TrustSet, error) {
	keys := []ed25519.PublicKey{}
	for i, t := range seed.Trust {
		k, err := base64.StdEncoding.DecodeString(t)
		if err != nil || len(k) != ed25519.PublicKeySize {
			return nil, fmt.Errorf("--seed: trust[%d]: not a base64 ed25519 key", i)
		}
		keys = append(keys, ed25519.PublicKey(k))
	}
	for _, f := range files {
		k, err := envelope.LoadPublicKey(f)
		if err != nil {
			return nil, fmt.Errorf("--trust: %w", err)
		}
		keys = append(keys, k)
	}
	return envelope.NewTrustSet(keys...)
}

// runAgent runs the management agent until ctx ends, starting it again
// after a failure (a tunnel that would not come up) with a growing wait.
func runAgent(ctx context.Context, agent *mgmt.Agent, log *slog.Logger) {
	wait := time.Second
	for ctx.Err() == nil {
		err := agent.Run(ctx)
		if ctx.Err() != nil {
			return
		}
		log.Error("management agent failed; starting it again", "err", err, "in", wait)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		wait = min(2*wait, time.Minute)
	}
}

// load offers the config file to the store. If the store refuses it, or the
// file cannot be read, the node falls back to the last good config.
func load(store *configstore.Store, file string, log *slog.Logger) (*config.Config, error) {
	data, err := os.ReadFile(file)
	if err == nil {
		var cfg *config.Config
		var isNew bool
		if cfg, isNew, err = store.Accept(data); err == nil {
			log.Info("config accepted", "serial", cfg.Serial, "new", isNew, "file", file)
			return cfg, nil
		}
	}
	lkg := store.Current()
	if lkg == nil {
		return nil, err
	}
	log.Error("config refused; serving the last good config", "file", file, "err", err, "serial", lkg.Serial)
	return lkg, nil
}

// servicesFor builds the services the node runs for cfg, in start order;
// the supervisor stops them in reverse, so BGP withdraws before the health
// gate and DNS stop. The health gate probes the node's own DNS on its
// anycast addresses and tells BGP which prefixes may be announced.
func servicesFor(cfg *config.Config, stateDir string, log *slog.Logger) ([]supervisor.Service, error) {
	clk := clock.Real()
	dns, err := dnsservice.New(cfg, stateDir, clk, log.With("service", "dns"))
	if err != nil {
		return nil, err
	}
	speaker, err := bgp.New(cfg, bgp.Options{Logger: log.With("service", "bgp"), Clock: clk})
	if err != nil {
		return nil, err
	}
	gate, err := health.New(cfg, health.Options{
		Clock: clk,
		Log:   log.With("service", "health"),
		OnChange: func(p netip.Prefix, healthy bool) {
			if err := speaker.SetHealthy(p, healthy); err != nil {
				log.Error("health gate: cannot tell bgp", "prefix", p, "healthy", healthy, "err", err)
			}
		},
	})
	if err != nil {
		return nil, err
	}
	return []supervisor.Service{dns, gate, speaker}, nil
}

// applier is a service that takes a new config live.
type applier interface {
	Apply(*config.Config) error
}

// reloadOnHangup re-reads the config file on SIGHUP and hands an accepted
// config to every service that applies config live. The config pull over
// the management tunnel will feed the same path.
func reloadOnHangup(ctx context.Context, store *configstore.Store, file string, services []supervisor.Service, log *slog.Logger) (stop func()) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
			}
			data, err := os.ReadFile(file)
			if err != nil {
				log.Error("config reload: keeping the current config", "err", err)
				continue
			}
			cfg, isNew, err := store.Accept(data)
			if err != nil {
				log.Error("config refused; keeping the current config", "file", file, "err", err, "serial", store.Serial())
				continue
			}
			if !isNew {
				log.Info("config reload: unchanged", "serial", cfg.Serial)
				continue
			}
			for _, s := range services {
				if a, ok := s.(applier); ok {
					if err := a.Apply(cfg); err != nil {
						log.Error("config apply failed", "service", s.Name(), "err", err)
					}
				}
			}
			log.Info("config applied", "serial", cfg.Serial)
		}
	}()
	return func() {
		signal.Stop(hup)
		cancel()
		<-done
	}
}
