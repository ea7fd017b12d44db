package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/goleudy/goleudy/provision/api"
	"github.com/goleudy/goleudy/provision/config"
	"github.com/goleudy/goleudy/provision/fleet"
	"github.com/goleudy/goleudy/services/statedir"
)

// Environment variables that point the fleet commands at a running
// server instead of the store file (which the server holds locked).
const (
	EnvServer    = "GOLEUDY_SERVER"
	EnvTokenFile = "GOLEUDY_TOKEN_FILE"
)

// remote are the flags that send a fleet command to a server's API.
type remote struct {
	data      *string
	server    *string
	tokenFile *string
}

// fleetFlags adds --data, --server and --token-file.
func fleetFlags(fs *flag.FlagSet) *remote {
	r := &remote{data: dataFlag(fs)}
	r.server = fs.String("server", os.Getenv(EnvServer), "provisioning server API URL, e.g. http://127.0.0.1:8053 (env "+EnvServer+"); empty: use the store under --data")
	r.tokenFile = fs.String("token-file", os.Getenv(EnvTokenFile), "operator token file (env "+EnvTokenFile+"; default DATA/operator.token)")
	return r
}

func (r *remote) enabled() bool { return *r.server != "" }

func (r *remote) client() (*api.Client, error) {
	tf := *r.tokenFile
	if tf == "" {
		tf = filepath.Join(*r.data, "operator.token")
	}
	tok, err := os.ReadFile(tf)
	if err != nil {
		return nil, fmt.Errorf("operator token: %w (give --token-file)", err)
	}
	return &api.Client{Base: *r.server, Token: strings.TrimSpace(string(tok)), Actor: actor()}, nil
}

// refusedAPI is refused for an API error: field problems one per line.
func refusedAPI(op string, err error) error {
	var ce *api.CallError
	if !errors.As(err, &ce) || len(ce.Body.Fields) == 0 {
		return fmt.Errorf("goleudy %s: %w", op, err)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "goleudy %s: %d problem(s):", op, len(ce.Body.Fields))
	for _, f := range ce.Body.Fields {
		e := config.FieldError{Path: f.Path, Msg: f.Msg}
		fmt.Fprintf(&b, "\n  %s", e.Error())
	}
	return &ExitError{Code: ExitFailure, Err: errors.New(b.String())}
}

// printNewNode reports an added node's token and writes its seed.
func printNewNode(c *Context, nn api.NewNode, seedOut string) error {
	var doc struct {
		Node config.Node `json:"node"`
	}
	json.Unmarshal(nn.Node.Config, &doc)
	fmt.Fprintf(c.Stdout, "added node %s\n", doc.Node.ID)
	fmt.Fprintf(c.Stdout, "enrollment token (single use, valid until %s; shown only now):\n%s\n", nn.Expires.Format("2006-01-02T15:04:05Z07:00"), nn.Token)
	if seedOut == "" {
		return nil
	}
	data, err := json.MarshalIndent(nn.Seed, "", "  ")
	if err != nil {
		return err
	}
	if err := statedir.WriteFile(seedOut, append(data, '\n'), 0o600); err != nil {
		return err
	}
	fmt.Fprintf(c.Stdout, "seed for the node's image: %s\n", seedOut)
	return nil
}

func nodeToken(ctx context.Context, c *Context, args []string) error {
	fs := c.flags("node token")
	r := fleetFlags(fs)
	seedOut := fs.String("seed-out", "", "write the node's seed (with the token) to this file, mode 0600")
	pos, err := parseArgs(fs, args, 1)
	if err != nil {
		return err
	}
	if !r.enabled() {
		return usageError("goleudy node token: needs --server: the seed carries the server's keys")
	}
	cl, err := r.client()
	if err != nil {
		return refusedAPI("node token", err)
	}
	nn, err := cl.NewToken(ctx, pos[0])
	if err != nil {
		return refusedAPI("node token", err)
	}
	return printNewNode(c, nn, *seedOut)
}

func fleetKeys(ctx context.Context, c *Context, args []string) error {
	fs := c.flags("fleet keys")
	r := fleetFlags(fs)
	if err := parse(fs, args, 0); err != nil {
		return err
	}
	if !r.enabled() {
		return usageError("goleudy fleet keys: needs --server")
	}
	cl, err := r.client()
	if err != nil {
		return refusedAPI("fleet keys", err)
	}
	k, err := cl.Keys(ctx)
	if err != nil {
		return refusedAPI("fleet keys", err)
	}
	tw := tabwriter.NewWriter(c.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "server key (seeds pin it)\t%s\n", k.ServerKey)
	fmt.Fprintf(tw, "wireguard\t%s\n", k.WireGuard)
	fmt.Fprintf(tw, "tunnel endpoint\t%s\n", dash(k.Endpoint))
	for _, t := range k.Trust {
		fmt.Fprintf(tw, "config key %s\t%s\n", t.ID[:16], t.Key)
	}
	for _, t := range k.ReleaseTrust {
		fmt.Fprintf(tw, "release key %s\t%s\n", t.ID[:16], t.Key)
	}
	return tw.Flush()
}

func fleetStatus(ctx context.Context, c *Context, args []string) error {
	fs := c.flags("fleet status")
	r := fleetFlags(fs)
	if err := parse(fs, args, 0); err != nil {
		return err
	}
	if !r.enabled() {
		return usageError("goleudy fleet status: needs --server")
	}
	cl, err := r.client()
	if err != nil {
		return refusedAPI("fleet status", err)
	}
	st, err := cl.Status(ctx)
	if err != nil {
		return refusedAPI("fleet status", err)
	}
	tw := tabwriter.NewWriter(c.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "serial %d, %d zone(s)\n", st.Serial, len(st.Zones))
	fmt.Fprintln(tw, "NODE\tSTATE\tTUNNEL\tVERSION\tCONFIG\tZONES BEHIND\tMISSING\tLAST HEARTBEAT")
	for _, n := range st.Nodes {
		version, serial, last := "-", "-", "never"
		if hb := n.Heartbeat; hb != nil {
			version, serial, last = dash(hb.Version), fmt.Sprint(hb.ConfigSerial), hb.Time.Format("2006-01-02T15:04:05Z")
			if hb.Build != 0 {
				version += fmt.Sprintf(" #%d", hb.Build)
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%d\t%s\n", n.ID, n.State, dash(n.TunnelAddress), version, serial, n.ZonesBehind, n.ZonesMissing, last)
	}
	return tw.Flush()
}

func nodeAddRemote(ctx context.Context, c *Context, r *remote, n fleet.Node, seedOut string) error {
	cl, err := r.client()
	if err != nil {
		return refusedAPI("node add", err)
	}
	doc, err := json.Marshal(n.Config)
	if err != nil {
		return err
	}
	in := api.NodeInfo{Config: doc, Notes: n.Notes}
	if !n.InService.IsZero() {
		in.InService = n.InService.Format(dateLayout)
	}
	nn, err := cl.AddNode(ctx, in)
	if err != nil {
		return refusedAPI("node add", err)
	}
	return printNewNode(c, nn, seedOut)
}

func nodeListRemote(ctx context.Context, c *Context, r *remote) error {
	cl, err := r.client()
	if err != nil {
		return refusedAPI("node list", err)
	}
	nodes, err := cl.Nodes(ctx)
	if err != nil {
		return refusedAPI("node list", err)
	}
	tw := tabwriter.NewWriter(c.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tBOARD\tSTATE\tIN SERVICE")
	for _, n := range nodes {
		var doc struct {
			Node config.Node `json:"node"`
		}
		json.Unmarshal(n.Config, &doc)
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", doc.Node.ID, dash(doc.Node.Board), dash(doc.Node.State), dash(n.InService))
	}
	return tw.Flush()
}
