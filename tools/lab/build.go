package lab

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

var built struct {
	sync.Mutex
	dir  string
	bins map[string]string
}

// Build builds the module's command in pkg (a path inside the module,
// such as "./tools/goleudy") once per test process and returns the
// binary's path. The binaries are static (CGO_ENABLED=0), as in images.
// CleanupBuilds removes them; call it from TestMain.
func Build(tb testing.TB, pkg, name string) string {
	tb.Helper()
	built.Lock()
	defer built.Unlock()
	if bin, ok := built.bins[pkg]; ok {
		return bin
	}
	root, err := moduleRoot()
	if err != nil {
		tb.Fatal(err)
	}
	if built.dir == "" {
		if built.dir, err = os.MkdirTemp("", "goleudy-bin"); err != nil {
			tb.Fatal(err)
		}
		built.bins = map[string]string{}
	}
	bin := filepath.Join(built.dir, name)
	cmd := exec.Command("go", "build", "-o", bin, pkg)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		tb.Fatalf("lab: go build %s: %v\n%s", pkg, err, out)
	}
	built.bins[pkg] = bin
	return bin
}

// CleanupBuilds removes what Build built.
func CleanupBuilds() {
	built.Lock()
	defer built.Unlock()
	if built.dir != "" {
		os.RemoveAll(built.dir)
		built.dir, built.bins = "", nil
	}
}

func moduleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("lab: go env GOMOD: %w", err)
	}
	mod := strings.TrimSpace(string(out))
	if mod == "" || mod == os.DevNull {
		return "", fmt.Errorf("lab: not inside the module")
	}
	return filepath.Dir(mod), nil
}
