package debugtools

import (
	"bytes"
	"context"
	"crypto/sha256"
	"debug/buildinfo"
	"debug/elf"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/goleudy/goleudy/image/initramfs"
	"github.com/goleudy/goleudy/tools/lab"
)

var toolCpio = lab.Tool{Name: "cpio", Package: "cpio"}

func moduleRoot(t testing.TB) string {
	t.Helper()
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		t.Fatalf("go env GOMOD: %v", err)
	}
	return filepath.Dir(strings.TrimSpace(string(out)))
}

func testLog(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), nil))
}

func build(t testing.TB, goarch, goarm string) Tools {
	t.Helper()
	start := time.Now()
	tools, err := Build(context.Background(), Options{
		ModuleRoot: moduleRoot(t), GOARCH: goarch, GOARM: goarm, WorkDir: t.TempDir(), Log: testLog(t),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("linux/%s%s: %d bytes, built in %s", goarch, goarm, tools.Size, time.Since(start).Round(time.Millisecond))
	return tools
}

// host is the busybox for this machine, built once for the tests that
// run it.
var host struct {
	sync.Mutex
	tools *Tools
}

func hostTools(t *testing.T) Tools {
	t.Helper()
	if _, ok := goarms[runtime.GOARCH]; !ok {
		t.Fatalf("tests run the busybox, so they need a host whose GOARCH is one of 386, amd64, arm64, not %s", runtime.GOARCH)
	}
	host.Lock()
	defer host.Unlock()
	if host.tools == nil {
		goarm := ""
		if runtime.GOARCH == "arm" {
			goarm = "7"
		}
		tl := build(t, runtime.GOARCH, goarm)
		host.tools = &tl
	}
	return *host.tools
}

// run runs a program and returns its stdout, failing on a non-zero exit.
func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s%s", name, strings.Join(args, " "), err, out, stderr.String())
	}
	return string(out)
}

// TestRunOnHost puts the host's busybox in an initramfs, unpacks that
// with GNU cpio as the kernel would, and runs the commands from the
// unpacked tree, both as bb <command> and through the links' names.
func TestRunOnHost(t *testing.T) {
	lab.Require(t, toolCpio)
	tools := hostTools(t)

	if len(tools.Files) != 1 || tools.Files[0].Path != "/bin/bb" || tools.Files[0].Mode != 0o755 || int64(len(tools.Files[0].Data)) != tools.Size {
		t.Fatalf("files: want /bin/bb 0755 of %d bytes, got %+v", tools.Size, tools.Files)
	}
	if !slices.IsSorted(tools.Commands) || len(tools.Commands) != len(Commands) || len(tools.Symlinks) != len(Commands) {
		t.Fatalf("commands %v, %d symlinks", tools.Commands, len(tools.Symlinks))
	}
	for i, l := range tools.Symlinks {
		if l.Path != "/bin/"+tools.Commands[i] || l.Target != "bb" {
			t.Errorf("symlink %s -> %s", l.Path, l.Target)
		}
	}

	a, err := initramfs.New(time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	if err := tools.AddTo(a); err != nil {
		t.Fatal(err)
	}
	if err := tools.AddTo(a); err == nil || !strings.Contains(err.Error(), "/bin/bb") || !errors.Is(err, initramfs.ErrExists) {
		t.Errorf("adding the tools twice: %v", err)
	}
	var archive bytes.Buffer
	if _, err := a.WriteTo(&archive); err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	cpio, err := toolCpio.Path()
	if err != nil {
		t.Fatal(err)
	}
	unpack := exec.Command(cpio, "-idm", "--quiet", "--no-absolute-filenames")
	unpack.Dir, unpack.Stdin = root, &archive
	if out, err := unpack.CombinedOutput(); err != nil {
		t.Fatalf("cpio -i: %v\n%s", err, out)
	}
	bin := filepath.Join(root, "bin")

	// bb ls / lists what the host's / holds.
	var want []string
	entries, err := os.ReadDir("/")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), ".") {
			want = append(want, e.Name())
		}
	}
	if got := strings.Fields(run(t, filepath.Join(bin, "bb"), "ls", "/")); !slices.Equal(got, want) {
		t.Errorf("bb ls /: %q, want %q", got, want)
	}

	file := filepath.Join(t.TempDir(), "zone.txt")
	if err := os.WriteFile(file, []byte("example.com. 3600 IN SOA ns1 hostmaster 1 2 3 4 5\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := run(t, filepath.Join(bin, "bb"), "cat", file); got != "example.com. 3600 IN SOA ns1 hostmaster 1 2 3 4 5\n" {
		t.Errorf("bb cat: %q", got)
	}

	// argv[0] picks the command when run through a link.
	if got := run(t, filepath.Join(bin, "gosh"), "-c", "echo hi"); got != "hi\n" {
		t.Errorf("gosh -c 'echo hi': %q", got)
	}
	if got, want := run(t, filepath.Join(bin, "uname"), "-m"), run(t, "uname", "-m"); got != want {
		t.Errorf("uname -m through the link: %q, want %q", got, want)
	}
	if got := run(t, filepath.Join(bin, "head"), "-c", "11", file); got != "example.com" {
		t.Errorf("head -c 11: %q", got)
	}

	// bb alone lists every command it holds.
	out, err := exec.Command(filepath.Join(bin, "bb")).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "Supported commands are:") {
		t.Fatalf("bb with no command: %v\n%s", err, out)
	}
	for _, c := range Commands {
		if !strings.Contains(string(out), " - "+c+"\n") {
			t.Errorf("bb does not hold %s:\n%s", c, out)
		}
	}
	checkBuildInfo(t, tools.Files[0].Data, runtime.GOARCH, "")
}

// checkBuildInfo reads what the go command stamped into the binary: the
// target, -trimpath, CGO off, no VCS stamp, and GODEBUG defaults newer
// than GOPATH mode's Go 1.20.
func checkBuildInfo(t *testing.T, bin []byte, goarch, goarm string) {
	t.Helper()
	info, err := buildinfo.Read(bytes.NewReader(bin))
	if err != nil {
		t.Fatal(err)
	}
	settings := map[string]string{}
	for _, s := range info.Settings {
		settings[s.Key] = s.Value
		if strings.HasPrefix(s.Key, "vcs") {
			t.Errorf("VCS stamp %s=%s", s.Key, s.Value)
		}
	}
	for k, v := range map[string]string{"GOOS": "linux", "GOARCH": goarch, "-trimpath": "true", "CGO_ENABLED": "0"} {
		if settings[k] != v {
			t.Errorf("build setting %s=%q, want %q", k, settings[k], v)
		}
	}
	if goarm != "" && settings["GOARM"] != goarm {
		t.Errorf("GOARM=%q, want %s", settings["GOARM"], goarm)
	}
	if strings.Contains(settings["DefaultGODEBUG"], "panicnil=1") {
		t.Errorf("GOPATH mode's Go 1.20 GODEBUG defaults: %s", settings["DefaultGODEBUG"])
	}
}

// TestReproducible builds the host's busybox again from scratch, with a
// fresh build cache and another work dir, and wants the same bytes.
func TestReproducible(t *testing.T) {
	first := hostTools(t)
	t.Setenv("GOCACHE", t.TempDir())
	goarm := ""
	if runtime.GOARCH == "arm" {
		goarm = "7"
	}
	again := build(t, runtime.GOARCH, goarm)
	if a, b := sha256.Sum256(first.Files[0].Data), sha256.Sum256(again.Files[0].Data); a != b {
		t.Fatalf("two builds differ: %x (%d bytes), %x (%d bytes)", a, first.Size, b, again.Size)
	}
}

// TestCrossBuild builds for the other boards' targets and checks each
// binary's ELF machine and build settings.
func TestCrossBuild(t *testing.T) {
	for _, tc := range []struct {
		goarch, goarm string
		machine       elf.Machine
		class         elf.Class
	}{
		{"386", "", elf.EM_386, elf.ELFCLASS32},
		{"arm", "6", elf.EM_ARM, elf.ELFCLASS32},
		{"arm64", "", elf.EM_AARCH64, elf.ELFCLASS64},
	} {
		t.Run(tc.goarch+tc.goarm, func(t *testing.T) {
			tools := build(t, tc.goarch, tc.goarm)
			f, err := elf.NewFile(bytes.NewReader(tools.Files[0].Data))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if f.Machine != tc.machine || f.Class != tc.class || f.OSABI != elf.ELFOSABI_NONE || f.Type != elf.ET_EXEC {
				t.Errorf("ELF %s %s %s %s, want %s %s", f.Machine, f.Class, f.OSABI, f.Type, tc.machine, tc.class)
			}
			checkBuildInfo(t, tools.Files[0].Data, tc.goarch, tc.goarm)
			if tools.Target != "linux/"+tc.goarch+tc.goarm {
				t.Errorf("target %s", tools.Target)
			}
		})
	}
}

func TestBadOptions(t *testing.T) {
	root := moduleRoot(t)
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	for _, tc := range []struct {
		name string
		ctx  context.Context
		o    Options
		want string
	}{
		{"unknown command", nil, Options{GOARCH: "amd64", Commands: []string{"ls", "nosuch"}}, `command "nosuch": not a command in u-root's cmds/core`},
		{"library package", nil, Options{GOARCH: "amd64", Commands: []string{"ls", "../../pkg/ls"}}, `command "../../pkg/ls": not a u-root command name`},
		{"bad GOARCH", nil, Options{GOARCH: "sparc"}, `GOARCH "sparc": not one of 386, amd64, arm, arm64`},
		{"no GOARCH", nil, Options{}, `GOARCH "": not one of`},
		{"arm without GOARM", nil, Options{GOARCH: "arm"}, `GOARM "": GOARCH arm needs 5, 6 or 7`},
		{"GOARM 8", nil, Options{GOARCH: "arm", GOARM: "8"}, `GOARM "8"`},
		{"GOARM on amd64", nil, Options{GOARCH: "amd64", GOARM: "6"}, `GOARM "6": only GOARCH arm takes one, not amd64`},
		{"twice", nil, Options{GOARCH: "amd64", Commands: []string{"ls", "cat", "ls"}}, `command "ls": listed twice`},
		{"bb", nil, Options{GOARCH: "amd64", Commands: []string{"bb"}}, `command "bb": the busybox binary's own name`},
		{"none", nil, Options{GOARCH: "amd64", Commands: []string{}}, "no commands"},
		{"no module", nil, Options{GOARCH: "amd64", ModuleRoot: "-"}, "ModuleRoot -: no go.mod"},
		{"cancelled", cancelled, Options{GOARCH: "amd64"}, "context canceled"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.o.ModuleRoot == "" {
				tc.o.ModuleRoot = root
			} else if tc.o.ModuleRoot == "-" {
				tc.o.ModuleRoot = t.TempDir()
				tc.want = "ModuleRoot " + tc.o.ModuleRoot + ": no go.mod"
			}
			tc.o.WorkDir = t.TempDir()
			ctx := tc.ctx
			if ctx == nil {
				ctx = context.Background()
			}
			_, err := Build(ctx, tc.o)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "debugtools: ") {
				t.Errorf("got %v, want an error containing %q", err, tc.want)
			}
			if left, _ := os.ReadDir(tc.o.WorkDir); len(left) != 0 {
				t.Errorf("work dir not cleaned up: %v", left)
			}
		})
	}
}

// TestCommandsAreTools: every default command is a tool in go.mod, so
// that go mod tidy keeps what it needs to build in go.sum.
func TestCommandsAreTools(t *testing.T) {
	cmd := exec.Command("go", "mod", "edit", "-json")
	cmd.Dir = moduleRoot(t)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go mod edit -json: %v", err)
	}
	var mod struct{ Tool []struct{ Path string } }
	if err := json.Unmarshal(out, &mod); err != nil {
		t.Fatal(err)
	}
	tools := map[string]bool{}
	for _, tl := range mod.Tool {
		tools[tl.Path] = true
	}
	for _, c := range Commands {
		if !tools[corePath+c] {
			t.Errorf("go.mod has no `tool %s%s`; run go get -tool %s%s", corePath, c, corePath, c)
		}
	}
	fmt.Fprintln(t.Output(), len(Commands), "commands, all tools in go.mod")
}
