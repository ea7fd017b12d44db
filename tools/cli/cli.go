// Package cli is the operator's `goleudy` command: keys, signing,
// verification and config checks, the fleet (nodes, zones, rendered
// configs), releases and rollouts, the provisioning server (serve), and
// the image builder.
// It is a type that tests drive in-process; main only parses the process's
// arguments and maps the error to an exit code.
//
// The fleet commands work on the store under --data, or, with --server
// (or GOLEUDY_SERVER), through a running server's API, since the server
// holds the store locked.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/goleudy/goleudy/provision/fleet"
)

// Exit codes. Scripts and CI rely on them.
const (
	ExitOK      = 0
	ExitFailure = 1 // the command ran and the answer is no: invalid config, bad signature
	ExitUsage   = 2 // the command line was wrong
)

// ExitError carries an exit code with the message to print.
type ExitError struct {
	Code int
	Err  error
}

func (e *ExitError) Error() string { return e.Err.Error() }
func (e *ExitError) Unwrap() error { return e.Err }

// ExitCode maps an error returned by Execute to a process exit code.
func ExitCode(err error) int {
	if err == nil {
		return ExitOK
	}
	var ee *ExitError
	if errors.As(err, &ee) {
		return ee.Code
	}
	return ExitFailure
}

func usageError(format string, args ...any) error {
	return &ExitError{Code: ExitUsage, Err: fmt.Errorf(format, args...)}
}

// Context is one invocation of the command.
type Context struct {
	Args   []string // without the program name
	Stdout io.Writer
	Stderr io.Writer
}

type command struct {
	name    string // as typed, e.g. "keys new"
	summary string
	run     func(ctx context.Context, c *Context, args []string) error
}

var commands []command

func init() {
	commands = []command{
		{"keys new", "create an ed25519 key pair: --out DIR/NAME writes NAME.key (0600) and NAME.pub", keysNew},
		{"sign", "sign a node config: --key K [--key K2 ...] --in node.json --out node.signed.json", sign},
		{"verify", "verify a signed config: --pub P [--pub P2 ...] --in node.signed.json", verify},
		{"config check", "report every problem in a config (bare or signed), with field paths", configCheck},
		{"config render", "render a node's config from the fleet store: ID [--sign K.key ...] [--out FILE]", configRender},
		{"node add", "add a node and print its one-time enrollment token: ID [--board B] [--fqdn F] [--location-display T]", nodeAdd},
		{"node edit", "change a node: ID [--file DOC.json] [--state S] [--location-display T] [--in-service D] [--notes N]", nodeEdit},
		{"node token", "issue a fresh one-time enrollment token and seed: ID --server URL [--seed-out F]", nodeToken},
		{"node list", "list the fleet's nodes: id, board, state, in-service date", nodeList},
		{"node show", "show a node's rendered config: ID", nodeShow},
		{"node remove", "remove a node with its tunnel peer and tokens: ID", removeCommand("node", (*fleet.Store).RemoveNode)},
		{"zone add", "add a customer zone to every node: NAME --primary IP[:PORT] ... [--tsig KEY]", zoneAdd},
		{"zone list", "list the customer zones", zoneList},
		{"zone remove", "remove a customer zone from every node: NAME", removeCommand("zone", (*fleet.Store).RemoveZone)},
		{"zone serve", "answer from zone files as a node would: --listen ADDR --zones DIR", zoneServe},
		{"fleet export", "write the fleet store as JSON: [--out F] (mode 0600)", fleetExport},
		{"fleet import", "load an export into an empty fleet store: FILE", fleetImport},
		{"fleet backup", "write a consistent copy of the fleet store: --out F (mode 0600)", fleetBackup},
		{"fleet keys", "show the fleet's public keys: server key, WireGuard key, config keys (--server)", fleetKeys},
		{"fleet status", "show every node's state, versions, serials and zone lag (--server)", fleetStatus},
		{"image fetch", "fetch the pinned Debian packages of every board (or --board B ...) into the package cache", imageFetch},
		{"image build", "build a flashable node image: --board B (--seed F | --node ID --server URL | --demo DIR) [--out F] [--bundle F --release-key K]", imageBuild},
		{"flash", "write a node image to a card and read it back: IMG DEVICE (refuses mounted and system disks)", flashCmd},
		{"release publish", "upload a signed update bundle to the server: BUNDLE (--server)", releasePublish},
		{"release list", "list the published releases: board, version, build, image hash (--server)", releaseList},
		{"rollout start", "roll a version out, canaries first: VERSION [--canary N] [--force] (--server)", rolloutStart},
		{"rollout status", "show the rollout's phase and every node's update state (--server)", rolloutStatus},
		{"rollout halt", "stop offering the rollout's release to nodes that have not committed it: [--reason R] (--server)", rolloutHalt},
		{"serve", "run the provisioning server: --data DIR --api-listen A --enroll-listen A [--tunnel-prefix P] [--release-trust K.pub] ...", serve},
		{"help", "show this help", help},
	}
}

// Execute runs the command named by c.Args.
func (c *Context) Execute(ctx context.Context) error {
	if len(c.Args) == 0 {
		c.usage(c.Stderr)
		return usageError("goleudy: no command given")
	}
	for _, cmd := range commands {
		words := strings.Fields(cmd.name)
		if len(c.Args) >= len(words) && strings.Join(c.Args[:len(words)], " ") == cmd.name {
			return cmd.run(ctx, c, c.Args[len(words):])
		}
	}
	switch c.Args[0] {
	case "-h", "-help", "--help":
		return help(ctx, c, nil)
	}
	return usageError("goleudy: unknown command %q; run 'goleudy help'", strings.Join(c.Args, " "))
}

func (c *Context) usage(w io.Writer) {
	fmt.Fprintln(w, "usage: goleudy COMMAND [flags]")
	fmt.Fprintln(w)
	for _, cmd := range commands {
		fmt.Fprintf(w, "  %-15s %s\n", cmd.name, cmd.summary)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Exit status: 0 success, 1 refused or invalid, 2 usage error.")
}

func help(_ context.Context, c *Context, _ []string) error {
	c.usage(c.Stdout)
	return nil
}

// flags returns a flag set for a subcommand whose errors become usage errors.
func (c *Context) flags(name string) *flag.FlagSet {
	fs := flag.NewFlagSet("goleudy "+name, flag.ContinueOnError)
	fs.SetOutput(c.Stderr)
	return fs
}

// parse parses args and refuses stray positional arguments beyond want.
func parse(fs *flag.FlagSet, args []string, want int) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return &ExitError{Code: ExitOK, Err: err}
		}
		return usageError("%s: %v", fs.Name(), err)
	}
	if fs.NArg() != want {
		return usageError("%s: want %d argument(s), got %q", fs.Name(), want, fs.Args())
	}
	return nil
}

// listFlag is a flag that may be given several times.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }
