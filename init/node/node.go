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
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/goleudy/goleudy/provision/api"
	"github.com/goleudy/goleudy/provision/config"
	"github.com/goleudy/goleudy/provision/configstore"
	"github.com/goleudy/goleudy/provision/envelope"
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
	if os.Getpid() == 1 {
		// The kernel starts /init with no arguments of ours.
		return runPID1(ctx, version, stderr)
	}
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

// reloadOnHangup re-reads the config file on SIGHUP and applies an
// accepted config live, as the config pull over the tunnel does.
func reloadOnHangup(ctx context.Context, store *configstore.Store, file string, l *live, log *slog.Logger) (stop func()) {
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
			l.mu.Lock()
			l.cfg = cfg
			l.mu.Unlock()
			l.apply(cfg, true)
		}
	}()
	return func() {
		signal.Stop(hup)
		cancel()
		<-done
	}
}
