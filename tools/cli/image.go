package cli

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/goleudy/goleudy/boards"
	"github.com/goleudy/goleudy/image/builder"
	"github.com/goleudy/goleudy/image/debs"
	"github.com/goleudy/goleudy/provision/api"
	"github.com/goleudy/goleudy/provision/envelope"
	"github.com/goleudy/goleudy/provision/server"
)

// DefaultEpoch is the images' timestamp when SOURCE_DATE_EPOCH is unset,
// so that two builds of the same inputs are the same bytes by default.
var DefaultEpoch = time.Date(2026, 11, 21, 0, 0, 0, 0, time.UTC)

// Demo fleet: `make image` builds an image for a node of a fleet kept in
// build/demo-fleet, made on first use, so that it works with no setup.
// The demo server is where QEMU's user network puts the host (10.0.2.2).
const (
	DemoNode      = "demo"
	DemoEnrollURL = "http://10.0.2.2:8080/v1/enroll"
)

// fetcherFlags are the package cache and mirror flags of the image
// commands.
type fetcherFlags struct {
	cache   *string
	mirrors listFlag
}

func (c *Context) addFetcherFlags(fs *flag.FlagSet, f *fetcherFlags) {
	f.cache = fs.String("cache", "", "package cache (default $"+debs.CacheEnv+" or ~/.cache/goleudy/debs)")
	fs.Var(&f.mirrors, "mirror", "Debian mirror base URL or local directory (repeatable; default: the system's apt sources)")
}

func (f *fetcherFlags) fetcher(log *slog.Logger) (*debs.Fetcher, error) {
	cache := *f.cache
	if cache == "" {
		var err error
		if cache, err = debs.DefaultCache(); err != nil {
			return nil, err
		}
	}
	mirrors := []string(f.mirrors)
	if len(mirrors) == 0 {
		ms, err := debs.Sources("/")
		if err != nil {
			return nil, fmt.Errorf("reading apt sources (give --mirror): %w", err)
		}
		mirrors = debs.URIs(ms, boards.Suite)
	}
	return &debs.Fetcher{Cache: cache, Mirrors: mirrors, Log: log}, nil
}

// imageFetch fills the package cache for boards (default all).
func imageFetch(ctx context.Context, c *Context, args []string) error {
	fs := c.flags("image fetch")
	var ff fetcherFlags
	c.addFetcherFlags(fs, &ff)
	var names listFlag
	fs.Var(&names, "board", "board to fetch for (repeatable; default every board)")
	if err := parse(fs, args, 0); err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(c.Stderr, nil))
	f, err := ff.fetcher(log)
	if err != nil {
		return &ExitError{Code: ExitFailure, Err: err}
	}
	var pkgs []boards.Package
	if len(names) == 0 {
		pkgs = boards.Everything()
	} else {
		pkgs = append(pkgs, boards.Tools...)
		for _, n := range names {
			b, err := boards.Lookup(n)
			if err != nil {
				return usageError("image fetch: %v", err)
			}
			pkgs = append(pkgs, b.AllPackages()...)
		}
	}
	for _, p := range pkgs {
		// Unpacked fetches, checks and unpacks once into the cache, so
		// later builds and tests read files without decompressing.
		t, err := f.Unpacked(ctx, p)
		if err != nil {
			return &ExitError{Code: ExitFailure, Err: err}
		}
		fmt.Fprintf(c.Stdout, "%s\t%s\n", p, t.Dir)
	}
	return nil
}

// imageBuild builds a node image.
func imageBuild(ctx context.Context, c *Context, args []string) error {
	fs := c.flags("image build")
	var ff fetcherFlags
	c.addFetcherFlags(fs, &ff)
	board := fs.String("board", boards.Default, "board: "+strings.Join(boards.Names(), ", "))
	out := fs.String("out", "", "image file (default build/goleudy-BOARD-NODE.img)")
	seedFile := fs.String("seed", "", "the node's seed file (goleudy node add --seed-out)")
	node := fs.String("node", "", "with --server: issue a fresh token for this node and embed its seed")
	srvURL := fs.String("server", os.Getenv(EnvServer), "provisioning server API URL, for --node")
	tokenFile := fs.String("token-file", os.Getenv(EnvTokenFile), "operator token file, for --node")
	demo := fs.String("demo", "", "build for the demo node of a demo fleet kept in this directory (made if missing)")
	version := fs.String("version", "dev", "firmware version")
	build := fs.Uint64("build", 1, "monotonic build number, for the bundle")
	bundleOut := fs.String("bundle", "", "also write the slot's signed update bundle here")
	var releaseKeys listFlag
	fs.Var(&releaseKeys, "release-key", "private key that signs the bundle (repeatable)")
	emulated := fs.Bool("emulated", false, "use the board's QEMU port matches (images for emulation)")
	debug := fs.Bool("debug", false, "add u-root's commands and a shell on the serial console: an image for the bench, never to post")
	nodeBin := fs.String("node-binary", "", "a prebuilt goleudy-node for the board (default: cross-compile it)")
	if err := parse(fs, args, 0); err != nil {
		return err
	}
	b, err := boards.Lookup(*board)
	if err != nil {
		return usageError("image build: %v", err)
	}
	set := 0
	for _, s := range []string{*seedFile, *node, *demo} {
		if s != "" {
			set++
		}
	}
	if set != 1 {
		return usageError("image build: give exactly one of --seed FILE, --node ID (with --server) or --demo DIR")
	}
	epoch := DefaultEpoch
	if v := os.Getenv("SOURCE_DATE_EPOCH"); v != "" {
		sec, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return usageError("image build: SOURCE_DATE_EPOCH=%q is not a number of seconds", v)
		}
		epoch = time.Unix(sec, 0).UTC()
	}
	log := slog.New(slog.NewTextHandler(c.Stderr, nil))

	var seed []byte
	name := *node
	switch {
	case *seedFile != "":
		if seed, err = os.ReadFile(*seedFile); err != nil {
			return &ExitError{Code: ExitFailure, Err: err}
		}
		var s api.Seed
		if err := api.DecodeBytes(seed, &s); err != nil {
			return &ExitError{Code: ExitFailure, Err: fmt.Errorf("image build: --seed %s: %w", *seedFile, err)}
		}
		name = s.NodeID
	case *node != "":
		if *srvURL == "" {
			return usageError("image build: --node needs --server (or %s)", EnvServer)
		}
		cl, err := clientFor(*srvURL, *tokenFile)
		if err != nil {
			return &ExitError{Code: ExitFailure, Err: err}
		}
		nn, err := cl.NewToken(ctx, *node)
		if err != nil {
			return &ExitError{Code: ExitFailure, Err: err}
		}
		seed, _ = json.MarshalIndent(nn.Seed, "", "  ")
	case *demo != "":
		if seed, err = demoSeed(*demo, b.Name); err != nil {
			return &ExitError{Code: ExitFailure, Err: err}
		}
		name = DemoNode
	}
	var keys []ed25519.PrivateKey
	for _, k := range releaseKeys {
		key, err := envelope.LoadPrivateKey(k)
		if err != nil {
			return &ExitError{Code: ExitFailure, Err: err}
		}
		keys = append(keys, key)
	}
	if *out == "" {
		*out = filepath.Join("build", fmt.Sprintf("goleudy-%s-%s.img", b.Name, name))
	}
	f, err := ff.fetcher(log)
	if err != nil {
		return &ExitError{Code: ExitFailure, Err: err}
	}
	wd, _ := os.Getwd()
	root, err := builder.ModuleRoot(wd)
	if err != nil && *nodeBin == "" {
		return &ExitError{Code: ExitFailure, Err: fmt.Errorf("image build: run it in the goleudy source tree, or give --node-binary: %w", err)}
	}
	if err != nil && *debug {
		return &ExitError{Code: ExitFailure, Err: fmt.Errorf("image build: --debug builds u-root's commands from the goleudy source tree; run it there: %w", err)}
	}
	r, err := builder.Build(ctx, builder.Options{
		Board: b, Seed: seed, Version: *version, Build: *build, Epoch: epoch, Out: *out,
		Bundle: *bundleOut, ReleaseKeys: keys, Fetcher: f, NodeBinary: *nodeBin, ModuleRoot: root,
		Emulated: *emulated, Debug: *debug, Log: log,
	})
	if err != nil {
		return &ExitError{Code: ExitFailure, Err: err}
	}
	fmt.Fprintf(c.Stdout, "%s: %s image for node %s, %d MiB (sparse); initramfs %.1f MiB (%d files, %d modules), kernel %.1f MiB, goleudy-node %.1f MiB\n",
		r.Image, b.Name, name, r.ImageSize>>20, mib(r.InitramfsSize), r.InitramfsFiles, r.Modules, mib(r.KernelSize), mib(r.NodeSize))
	if r.DebugToolsSize > 0 {
		fmt.Fprintf(c.Stdout, "%s: DEBUG image: u-root's commands (%.1f MiB) and a console shell; do not post it\n", r.Image, mib(r.DebugToolsSize))
	}
	if r.Bundle != "" {
		fmt.Fprintf(c.Stdout, "%s: update bundle\n", r.Bundle)
	}
	return nil
}

func mib(n int64) float64 { return float64(n) / (1 << 20) }

// clientFor is an API client for the server at url with the operator
// token from file.
func clientFor(url, file string) (*api.Client, error) {
	if file == "" {
		return nil, errors.New("give --token-file (or " + EnvTokenFile + ")")
	}
	tok, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	return &api.Client{Base: url, Token: strings.TrimSpace(string(tok)), Actor: "goleudy image build"}, nil
}

// DemoReleaseKey names the demo fleet's release key pair in its directory.
const DemoReleaseKey = "release"

// demoSeed returns the demo node's seed from the demo fleet in dir,
// making the fleet (keys, store, node) on first use.
func demoSeed(dir, board string) ([]byte, error) {
	file := filepath.Join(dir, DemoNode+".seed")
	if data, err := os.ReadFile(file); err == nil {
		return data, nil
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	// The demo fleet has its own release key, so the demo node takes
	// bundles signed with DIR/release.key.
	release := filepath.Join(dir, DemoReleaseKey)
	if _, err := os.Stat(release + ".pub"); errors.Is(err, os.ErrNotExist) {
		if _, err := envelope.NewKeyPair(release); err != nil {
			return nil, fmt.Errorf("demo fleet: release key: %w", err)
		}
	}
	srv, err := server.New(server.Options{DataDir: dir, EnrollURL: DemoEnrollURL, NoTunnel: true,
		TunnelEndpoint: "10.0.2.2:51820", ReleaseTrust: []string{release + ".pub"}, Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		return nil, fmt.Errorf("demo fleet: %w", err)
	}
	defer srv.Close()
	doc := fmt.Sprintf(`{"node": {"id": %q, "board": %q, "fqdn": "demo.nodes.example.net",
		"location": {"display": "Wales, Cardiff", "city": "Cardiff", "country": "Wales", "countryiso": "gb"}},
	  "interfaces": {"oob": {"dhcp4": true, "dhcp6": true},
	                 "ix": {"addresses": ["198.51.100.2/30"], "gateway4": "198.51.100.1"}},
	  "anycast": {"asn": 64512, "prefixes": ["192.0.2.0/24"], "addresses": ["192.0.2.53"]},
	  "bgp": {"peers": [{"name": "ix", "asn": 64500, "neighbor": "198.51.100.1"}]},
	  "dns": {"listen": ["192.0.2.53:53"]},
	  "info": {"listen": ["192.0.2.53:80"]}}`, DemoNode, board)
	body, _ := json.Marshal(api.NodeInfo{Config: json.RawMessage(doc), Notes: "demo node made by goleudy image build --demo"})
	req := httptest.NewRequest(http.MethodPost, "/v1/nodes", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+srv.Token())
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	srv.OperatorHandler().ServeHTTP(rec, req)
	if rec.Code != http.StatusOK && rec.Code != http.StatusCreated {
		return nil, fmt.Errorf("demo fleet: adding the demo node: %s: %s", http.StatusText(rec.Code), rec.Body.String())
	}
	var nn api.NewNode
	if err := json.Unmarshal(rec.Body.Bytes(), &nn); err != nil {
		return nil, fmt.Errorf("demo fleet: %w", err)
	}
	seed, _ := json.MarshalIndent(nn.Seed, "", "  ")
	if err := os.WriteFile(file, append(seed, '\n'), 0o600); err != nil {
		return nil, err
	}
	return seed, nil
}
