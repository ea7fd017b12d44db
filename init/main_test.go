package main

import (
	"bufio"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestSIGTERM runs the real binary and checks that SIGTERM stops it cleanly
// with exit 0, and that every stderr line is a structured log record.
func TestSIGTERM(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "goleudy-node")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	cfg := filepath.Join(dir, "node.json")
	os.WriteFile(cfg, []byte(`{"schema":1,"serial":1,"node":{"id":"lab"}}`), 0o644)
	cmd := exec.Command(bin, "run", "--config", cfg, "--state", filepath.Join(dir, "state"), "--unsigned")
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill() })
	lines := make(chan string)
	go func() {
		defer close(lines)
		s := bufio.NewScanner(stderr)
		for s.Scan() {
			lines <- s.Text()
		}
	}()
	var got []string
	timeout := time.After(20 * time.Second)
	for running := false; !running; {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("exited before running:\n%s", strings.Join(got, "\n"))
			}
			got = append(got, l)
			running = strings.Contains(l, `"msg":"node running"`)
		case <-timeout:
			t.Fatalf("not running after 20s:\n%s", strings.Join(got, "\n"))
		}
	}
	cmd.Process.Signal(syscall.SIGTERM)
	for l := range lines {
		got = append(got, l)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("exit after SIGTERM: %v\n%s", err, strings.Join(got, "\n"))
	}
	for _, l := range got {
		var rec map[string]any
		if err := json.Unmarshal([]byte(l), &rec); err != nil || rec["msg"] == nil || rec["level"] == nil {
			t.Errorf("not a structured log line: %q", l)
		}
	}
	if last := got[len(got)-1]; !strings.Contains(last, "node stopped") {
		t.Errorf("last line = %q", last)
	}
}
