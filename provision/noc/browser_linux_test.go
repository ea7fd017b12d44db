package noc

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image/png"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// chromiumTimeout bounds one chromium run; a cold first start takes seconds.
const chromiumTimeout = 30 * time.Second

// chromiumFlags run chromium headless, alone and quietly, in a profile of its
// own. --no-sandbox because CI and this test often run as root.
var chromiumFlags = []string{
	"--headless=new",
	"--no-sandbox",
	"--disable-gpu",
	"--no-first-run",
	"--no-default-browser-check",
	"--disable-extensions",
	"--disable-background-networking",
	"--disable-component-update",
	"--disable-sync",
	"--hide-scrollbars",
	"--force-device-scale-factor=1",
	"--mute-audio",
}

// chromiumPath finds the browser; CI installs Debian's "chromium" package.
// GOLEUDY_CHROMIUM overrides. A missing browser fails the test: a skipped
// browser test is one nobody notices is not running.
func chromiumPath(t *testing.T) string {
	t.Helper()
	names := []string{"chromium", "/usr/bin/chromium", "chromium-browser"}
	if env := os.Getenv("GOLEUDY_CHROMIUM"); env != "" {
		names = []string{env}
	}
	for _, name := range names {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Fatalf("chromium not found as %q (apt-get install chromium, or set GOLEUDY_CHROMIUM)", names)
	return ""
}

// artifactDir is where screenshots go: $GOLEUDY_ARTIFACTS/<test> if set,
// else t.ArtifactDir(), which `go test -artifacts -outputdir DIR` keeps.
func artifactDir(t *testing.T) string {
	t.Helper()
	dir := t.ArtifactDir()
	if env := os.Getenv("GOLEUDY_ARTIFACTS"); env != "" {
		dir = filepath.Join(env, strings.ReplaceAll(t.Name(), "/", "_"))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// runChromium runs one chromium with its own profile and process group, and
// kills the whole group when it returns, so no renderer or zygote outlives
// the test. It returns stdout; stderr (dbus noise and the like) is reported
// only on failure.
func runChromium(t *testing.T, bin string, args ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), chromiumTimeout)
	defer cancel()
	profile, err := os.MkdirTemp("", "noc-chromium-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(profile) // after the group is dead: deferred first, runs last

	cmd := exec.CommandContext(ctx, bin, slices.Concat(chromiumFlags, []string{"--user-data-dir=" + profile}, args)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.Env = append(os.Environ(), "HOME="+profile) // keep ~/.config and ~/.pki out of the way
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second

	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", bin, err)
	}
	pgid := cmd.Process.Pid
	err = cmd.Wait()
	// Whatever happened, nothing of this chromium may survive it. Its
	// zygotes stay in the group; crashpad handlers start sessions of their
	// own, but name the profile (HOME) on their command line.
	if kerr := syscall.Kill(-pgid, syscall.SIGKILL); kerr != nil && !errors.Is(kerr, syscall.ESRCH) {
		t.Errorf("kill chromium group %d: %v", pgid, kerr)
	}
	reap(t, profile)
	t.Logf("chromium %s: %v", strings.Join(args, " "), time.Since(start).Round(time.Millisecond))
	if err != nil {
		if ctx.Err() != nil {
			err = fmt.Errorf("%w (timeout %v)", err, chromiumTimeout)
		}
		t.Fatalf("chromium %s: %v\nstderr tail:\n%s", strings.Join(args, " "), err, tail(stderr.String(), 2000))
	}
	return stdout.Bytes()
}

// reap waits for processes naming profile on their command line to exit, as
// crashpad handlers do once their browser is gone, and kills those that do
// not within a few seconds.
func reap(t *testing.T, profile string) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if len(processesNaming(profile)) == 0 {
			return
		}
	}
	for _, pid := range processesNaming(profile) {
		t.Logf("chromium process %d outlived its browser; killing it", pid)
		syscall.Kill(pid, syscall.SIGKILL)
	}
	time.Sleep(500 * time.Millisecond)
	if left := processesNaming(profile); len(left) > 0 {
		t.Errorf("chromium processes %v survive SIGKILL", left)
	}
}

// processesNaming lists the pids whose command line contains s. Zombies have
// an empty command line, so they are not counted: init reaps them.
func processesNaming(s string) []int {
	entries, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err == nil && bytes.Contains(cmdline, []byte(s)) {
			pids = append(pids, pid)
		}
	}
	return pids
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

func TestBrowser(t *testing.T) {
	bin := chromiumPath(t)
	srv := httptest.NewServer(Handler(fixtureSource)) // listens on 127.0.0.1
	defer srv.Close()
	dir := artifactDir(t)
	t.Logf("screenshots in %s", dir)

	t.Run("dom", func(t *testing.T) {
		dom := string(runChromium(t, bin, "--dump-dom", srv.URL))
		if err := os.WriteFile(filepath.Join(dir, "dom.html"), []byte(dom), 0o644); err != nil {
			t.Error(err)
		}
		for _, want := range []string{
			`<tr id="node-edi-1" class="st-live" data-state="live">`,
			`<span class="st st-live">live</span>`,
			`Scotland, Edinburgh`,
			`<tr id="node-bel-1" class="st-down" data-state="down">`,
			`<span class="st st-down">down</span>`,
			`Northern Ireland, Belfast`,
			`<tr id="node-bah-1" class="st-prog" data-state="in progress">`,
			`<span class="st st-prog">in progress</span>`,
			`Kingdom of Bahrain, Manama`,
			`<b>3</b> nodes`,
			`v0.9.3 rolled back: not ready within 300s`,
			`v0.9.2 committed`,
			`v0.9.3: halted by bah-1`,
		} {
			if !strings.Contains(dom, want) {
				t.Errorf("DOM lacks %q", want)
			}
		}
		if t.Failed() {
			t.Logf("DOM:\n%s", tail(dom, 4000))
		}
	})

	for _, sz := range []struct {
		name string
		w, h int
	}{
		{"phone", 390, 844},
		{"desktop", 1280, 800},
	} {
		t.Run(sz.name, func(t *testing.T) {
			file := filepath.Join(dir, fmt.Sprintf("noc-%s-%dx%d.png", sz.name, sz.w, sz.h))
			runChromium(t, bin, "--screenshot="+file, fmt.Sprintf("--window-size=%d,%d", sz.w, sz.h), srv.URL)
			f, err := os.Open(file)
			if err != nil {
				t.Fatalf("screenshot: %v", err)
			}
			defer f.Close()
			img, err := png.Decode(f)
			if err != nil {
				t.Fatalf("decode %s: %v", file, err)
			}
			if b := img.Bounds(); b.Dx() != sz.w || b.Dy() != sz.h {
				t.Errorf("%s is %dx%d, want %dx%d", file, b.Dx(), b.Dy(), sz.w, sz.h)
			}
			t.Logf("screenshot %s", file)
		})
	}
}
