package debugtools

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
)

// Options says what to build and where.
type Options struct {
	// ModuleRoot is the directory of this module's go.mod, which pins
	// the u-root version the commands come from.
	ModuleRoot string
	// GOARCH is the target: 386, amd64, arm or arm64 (GOOS is linux).
	GOARCH string
	// GOARM is 5, 6 or 7 when GOARCH is arm, and empty otherwise.
	GOARM string
	// WorkDir holds the generated source and the binary while Build
	// runs; Build cleans up after itself. Empty means os.TempDir().
	WorkDir string
	// Commands are names of u-root cmds/core commands. Nil means
	// Commands, the package default.
	Commands []string
	// Log gets one line per build. Nil discards.
	Log *slog.Logger
}

// goarms are the GOARM values each architecture takes; Goleudy's boards
// use only these architectures.
var goarms = map[string][]string{
	"386":   {""},
	"amd64": {""},
	"arm":   {"5", "6", "7"},
	"arm64": {""},
}

// commandName is what a u-root command's directory is called, and so
// what is safe to join into an import path and a symlink name.
var commandName = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]*$`)

// check fills in defaults and returns every problem with the options.
func (o *Options) check() error {
	var probs []string
	if o.ModuleRoot == "" {
		probs = append(probs, "ModuleRoot is empty")
	} else if _, err := os.Stat(filepath.Join(o.ModuleRoot, "go.mod")); err != nil {
		probs = append(probs, fmt.Sprintf("ModuleRoot %s: no go.mod", o.ModuleRoot))
	}
	arms, ok := goarms[o.GOARCH]
	switch {
	case !ok:
		probs = append(probs, fmt.Sprintf("GOARCH %q: not one of 386, amd64, arm, arm64", o.GOARCH))
	case !slices.Contains(arms, o.GOARM) && o.GOARCH == "arm":
		probs = append(probs, fmt.Sprintf("GOARM %q: GOARCH arm needs 5, 6 or 7", o.GOARM))
	case !slices.Contains(arms, o.GOARM):
		probs = append(probs, fmt.Sprintf("GOARM %q: only GOARCH arm takes one, not %s", o.GOARM, o.GOARCH))
	}
	if o.Commands == nil {
		o.Commands = Commands
	}
	if len(o.Commands) == 0 {
		probs = append(probs, "no commands")
	}
	seen := map[string]bool{}
	for _, c := range o.Commands {
		switch {
		case !commandName.MatchString(c):
			probs = append(probs, fmt.Sprintf("command %q: not a u-root command name (lower case letters, digits, - and _)", c))
		case c == binaryName:
			probs = append(probs, fmt.Sprintf("command %q: the busybox binary's own name", c))
		case seen[c]:
			probs = append(probs, fmt.Sprintf("command %q: listed twice", c))
		}
		seen[c] = true
	}
	if o.WorkDir == "" {
		o.WorkDir = os.TempDir()
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if len(probs) > 0 {
		return fmt.Errorf("debugtools: %s", strings.Join(probs, "; "))
	}
	return nil
}

// target names the build target in logs and errors, e.g. linux/arm6.
func (o *Options) target() string {
	return "linux/" + o.GOARCH + o.GOARM
}
