package debugtools

import (
	"bytes"
	"context"
	"fmt"
	"go/version"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/u-root/gobusybox/src/pkg/bb"
	"github.com/u-root/gobusybox/src/pkg/bb/findpkg"
	"github.com/u-root/gobusybox/src/pkg/golang"
)

// Dir is where the binary and its links go in the initramfs. u-root's
// own images use /bbin; /bin is on the PATH every shell assumes when
// none is set, which is the case on a bare console.
const Dir = "/bin"

// binaryName is what u-root calls the busybox binary.
const binaryName = "bb"

// Build generates and compiles the busybox for o's target and returns
// what goes in the initramfs. Generation (gobusybox loading and
// rewriting the commands) cannot be cancelled and takes seconds; the
// compile, which takes longer, stops with ctx.
func Build(ctx context.Context, o Options) (Tools, error) {
	if err := o.check(); err != nil {
		return Tools{}, err
	}
	goroot, err := o.goroot(ctx)
	if err != nil {
		return Tools{}, err
	}
	pkgs, lang, err := o.resolve(ctx, goroot)
	if err != nil {
		return Tools{}, err
	}
	work, err := os.MkdirTemp(o.WorkDir, "debugtools-")
	if err != nil {
		return Tools{}, fmt.Errorf("debugtools: work dir: %w", err)
	}
	defer os.RemoveAll(work)

	start := time.Now()
	gopath := filepath.Join(work, "gopath")
	if err := o.generate(ctx, goroot, gopath, pkgs, lang); err != nil {
		return Tools{}, err
	}
	generated := time.Since(start)
	bin := filepath.Join(work, binaryName)
	if err := o.compile(ctx, goroot, gopath, bin); err != nil {
		return Tools{}, err
	}
	data, err := os.ReadFile(bin)
	if err != nil {
		return Tools{}, fmt.Errorf("debugtools: %w", err)
	}
	t := newTools(o.target(), o.Commands, data)
	o.Log.Info("debugtools: built busybox", "target", o.target(), "commands", len(t.Commands), "bytes", t.Size,
		"generate", generated.Round(time.Millisecond), "compile", (time.Since(start) - generated).Round(time.Millisecond))
	return t, nil
}

// env is the environment of every go command Build runs for o's target.
// GOAMD64 and GO386 are cleared so that a setting in the caller's shell
// cannot make a binary the board's CPU does not run.
func (o *Options) env(extra ...string) []string {
	return append(os.Environ(), append([]string{"GOOS=linux", "GOARCH=" + o.GOARCH, "GOARM=" + o.GOARM,
		"GOAMD64=", "GO386=", "CGO_ENABLED=0"}, extra...)...)
}

// goroot asks the go command on PATH for its GOROOT, so that gobusybox,
// which runs $GOROOT/bin/go, and the compile use the same toolchain, even
// when this program was built with -trimpath and does not know its own.
func (o *Options) goroot(ctx context.Context) (string, error) {
	cmd := exec.CommandContext(ctx, "go", "env", "GOROOT")
	cmd.Dir = o.ModuleRoot
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("debugtools: go env GOROOT: %w", err)
	}
	return strings.TrimSpace(string(out)), nil
}

// resolve turns command names into import paths, checking with go list
// that each is a command u-root has at the version go.mod pins, so that
// a bad name is an error naming it rather than gobusybox's. lang is the
// newest go version the commands' modules declare, e.g. go1.24.
func (o *Options) resolve(ctx context.Context, goroot string) (pkgs []string, lang string, err error) {
	for _, c := range o.Commands {
		pkgs = append(pkgs, corePath+c)
	}
	args := append([]string{"list", "-e", "-f",
		"{{.ImportPath}}\t{{.Name}}\t{{with .Module}}{{.GoVersion}}{{end}}\t{{with .Error}}{{.Err}}{{end}}"}, pkgs...)
	cmd := exec.CommandContext(ctx, filepath.Join(goroot, "bin", "go"), args...)
	cmd.Dir = o.ModuleRoot
	cmd.Env = o.env("GOFLAGS=-mod=readonly", "GO111MODULE=on")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, "", fmt.Errorf("debugtools: go list commands for %s: %w\n%s", o.target(), err, strings.TrimSpace(stderr.String()))
	}
	var probs []string
	for line := range strings.Lines(string(out)) {
		f := strings.SplitN(strings.TrimSuffix(line, "\n"), "\t", 4)
		if len(f) != 4 {
			return nil, "", fmt.Errorf("debugtools: go list: unexpected line %q", line)
		}
		name := strings.TrimPrefix(f[0], corePath)
		switch {
		case f[3] != "":
			probs = append(probs, fmt.Sprintf("command %q: not a command in u-root's cmds/core at the version go.mod pins (go list: %s)", name, firstLine(f[3])))
		case f[1] != "main":
			probs = append(probs, fmt.Sprintf("command %q: %s is package %s, not a command", name, f[0], f[1]))
		}
		if v := version.Lang("go" + f[2]); v != "" && version.Compare(v, lang) > 0 {
			lang = v
		}
	}
	if len(probs) > 0 {
		return nil, "", fmt.Errorf("debugtools: %s", strings.Join(probs, "; "))
	}
	if lang == "" {
		return nil, "", fmt.Errorf("debugtools: go list: no go version for the commands' module")
	}
	return pkgs, lang, nil
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	return s
}

// generate has gobusybox write the busybox source into gopath: every
// command rewritten as a package, their dependencies copied from the
// module cache, and the main that dispatches on argv[0].
func (o *Options) generate(ctx context.Context, goroot, gopath string, pkgs []string, lang string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("debugtools: generate busybox for %s: %w", o.target(), err)
	}
	env := golang.Default(golang.WithGOOS("linux"), golang.WithGOARCH(o.GOARCH), golang.DisableCGO(),
		golang.WithGOROOT(goroot), golang.WithGO111MODULE("on"), golang.WithMod(golang.ModReadonly),
		golang.WithWorkingDir(o.ModuleRoot), golang.WithBuildTag(buildTags...))
	err := bb.BuildBusybox(ulogger{o.Log}, &bb.Opts{
		Env:          env,
		LookupEnv:    &findpkg.Env{}, // no GBB_PATH or UROOT_SOURCE from the caller's environment
		GenSrcDir:    gopath,
		CommandPaths: pkgs,
		GenerateOnly: true,
	})
	if err != nil {
		return fmt.Errorf("debugtools: generate busybox for %s: %w", o.target(), err)
	}
	// gobusybox skips, with only a log line, a command whose files
	// build constraints exclude; a debug shell missing ls is an error.
	for _, c := range o.Commands {
		if _, err := os.Stat(filepath.Join(gopath, "src", corePath, c)); err != nil {
			return fmt.Errorf("debugtools: generate busybox for %s: command %q was left out (does it build for this target?)", o.target(), c)
		}
	}
	// A GOPATH-mode build gets Go 1.20's GODEBUG defaults (old timers,
	// panic(nil), TLS RSA key exchange and more). Ask for those of the
	// Go version the commands are written and tested for, as a module
	// build of them would get.
	godebug := fmt.Sprintf("//go:debug default=%s\n\npackage main\n", lang)
	if err := os.WriteFile(filepath.Join(gopath, mainDir, "godebug.go"), []byte(godebug), 0o644); err != nil {
		return fmt.Errorf("debugtools: generate busybox for %s: %w", o.target(), err)
	}
	return nil
}

// buildTags select the commands' variants. goshsmall gives gosh its plain
// line reader instead of bubbline's editor: the shell is on a serial
// console, and bubbline asks the terminal for its colours and cursor
// position (OSC 10, CSI 6n) and waits for answers that a serial
// terminal, or a test typing into QEMU, never sends.
var buildTags = []string{"goshsmall"}

// mainDir is where, under its GOPATH, gobusybox writes the busybox main.
var mainDir = filepath.Join("src", "bb.u-root.com", "bb")

// compile builds the generated source as u-root does (GOPATH mode, no
// inlining, stripped), but with the build cache instead of u-root's -a,
// with no VCS stamp, and with GOARM, which gobusybox cannot pass.
func (o *Options) compile(ctx context.Context, goroot, gopath, bin string) error {
	cmd := exec.CommandContext(ctx, filepath.Join(goroot, "bin", "go"), "build", "-trimpath", "-buildvcs=false",
		"-tags="+strings.Join(buildTags, ","), "-gcflags=all=-l", "-ldflags=-s -w -buildid=", "-o", bin, ".")
	cmd.Dir = filepath.Join(gopath, mainDir)
	cmd.Env = o.env("GO111MODULE=off", "GOPATH="+gopath, "GOFLAGS=", "GOWORK=off")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("debugtools: go build busybox for %s: %w\n%s", o.target(), err, strings.TrimSpace(string(out)))
	}
	return nil
}

// ulogger passes gobusybox's log lines to slog.
type ulogger struct{ l *slog.Logger }

func (u ulogger) Printf(format string, v ...any) {
	u.l.Debug("debugtools: gobusybox: " + strings.TrimSpace(fmt.Sprintf(format, v...)))
}

// sorted returns a sorted copy of s.
func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}
