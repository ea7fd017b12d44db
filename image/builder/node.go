package builder

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"

	"github.com/goleudy/goleudy/boards"
)

// NodeBinary cross-compiles goleudy-node for b into dir and returns its
// path. The build is reproducible: no paths, no VCS stamp, no build id,
// the version set by flag, CGO off.
func NodeBinary(ctx context.Context, moduleRoot string, b boards.Board, version, dir string) (string, error) {
	out := filepath.Join(dir, "goleudy-node-"+b.GOARCH+b.GOARM)
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-buildvcs=false",
		"-ldflags", "-s -w -buildid= -X main.version="+version, "-o", out, "./init")
	cmd.Dir = moduleRoot
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+b.GOARCH, "GOARM="+b.GOARM, "GOFLAGS=-mod=readonly")
	if o, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("builder: go build goleudy-node for %s/%s%s: %w\n%s", "linux", b.GOARCH, b.GOARM, err, strings.TrimSpace(string(o)))
	}
	return out, nil
}

// NodeModules are modules every node needs whatever its board: tun for
// the userspace WireGuard tunnel, and dummy for anycast0, the link that
// holds the anycast addresses (without it they go on lo, where they
// work but mix with the loopback's own).
var NodeModules = []string{"tun", "dummy"}

// rootModules are the roots the image carries and the node loads: the
// board's (under emulation, its emulated set) and NodeModules.
func rootModules(b boards.Board, emulated bool) []string {
	out := slices.Clone(b.Modules)
	if emulated {
		out = b.EmulatedModules()
	}
	for _, m := range NodeModules {
		if !slices.Contains(out, m) {
			out = append(out, m)
		}
	}
	return out
}

// BoardJSON is /etc/goleudy/board.json for b: what the node reads at boot
// (see init/node.Board). Under emulation the port matches are the
// emulated NICs'. Version and Build are the release the slot holds, which
// the update agent compares offered bundles with.
func BoardJSON(b boards.Board, emulated bool, version string, build uint64) ([]byte, error) {
	ports := b.Ports
	if emulated {
		ports = b.EmulatedPorts()
	}
	return json.MarshalIndent(struct {
		Name    string   `json:"name"`
		Modules []string `json:"modules,omitempty"`
		OOB     string   `json:"oob,omitempty"`
		IX      string   `json:"ix,omitempty"`
		Version string   `json:"version,omitempty"`
		Build   uint64   `json:"build,omitempty"`
	}{b.Name, rootModules(b, emulated), ports.OOB, ports.IX, version, build}, "", "  ")
}

// ModuleRoot finds the Go module's root above dir.
func ModuleRoot(dir string) (string, error) {
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d, nil
		}
		if filepath.Dir(d) == d {
			return "", fmt.Errorf("builder: no go.mod above %s", dir)
		}
	}
}
