package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

type result struct {
	code           int
	stdout, stderr string
}

func run(t *testing.T, dir string, args ...string) result {
	t.Helper()
	var out, errb bytes.Buffer
	for i, a := range args { // relative paths are inside the test's dir
		if strings.HasPrefix(a, "./") {
			args[i] = filepath.Join(dir, a)
		}
	}
	err := (&Context{Args: args, Stdout: &out, Stderr: &errb}).Execute(context.Background())
	if err != nil {
		errb.WriteString(err.Error())
	}
	return result{ExitCode(err), out.String(), errb.String()}
}

func TestSignVerifyRoundTrip(t *testing.T) {
	dir := t.TempDir()
	if r := run(t, dir, "keys", "new", "--out", "./keys/fleet"); r.code != 0 {
		t.Fatalf("keys new: %+v", r)
	}
	if r := run(t, dir, "keys", "new", "--out", "./keys/next"); r.code != 0 {
		t.Fatalf("keys new: %+v", r)
	}
	if r := run(t, dir, "keys", "new", "--out", "./keys/fleet"); r.code != ExitFailure || !strings.Contains(r.stderr, "refusing to overwrite") {
		t.Errorf("overwriting a key: %+v", r)
	}
	cfg := filepath.Join(dir, "node.json")
	copyFile(t, "../../provision/config/testdata/alban.json", cfg)

	r := run(t, dir, "sign", "--key", "./keys/fleet.key", "--key", "./keys/next.key", "--in", cfg, "--out", "./node.signed.json")
	if r.code != 0 {
		t.Fatalf("sign: %+v", r)
	}
	for _, pub := range []string{"./keys/fleet.pub", "./keys/next.pub"} {
		r = run(t, dir, "verify", "--pub", pub, "--in", "./node.signed.json")
		if r.code != 0 || !strings.Contains(r.stdout, "OK: config serial 7 for node alban") {
			t.Errorf("verify with %s: %+v", pub, r)
		}
	}

	// A stranger's key is refused with exit 1 and a reason.
	run(t, dir, "keys", "new", "--out", "./keys/stranger")
	r = run(t, dir, "verify", "--pub", "./keys/stranger.pub", "--in", "./node.signed.json")
	if r.code != ExitFailure || !strings.Contains(r.stderr, "untrusted key") {
		t.Errorf("verify with a stranger's key: %+v", r)
	}

	// Tampering is refused.
	signed, _ := os.ReadFile(filepath.Join(dir, "node.signed.json"))
	tampered := bytes.Replace(signed, []byte(`"payload": "ew`), []byte(`"payload": "eW`), 1)
	os.WriteFile(filepath.Join(dir, "tampered.json"), tampered, 0o644)
	r = run(t, dir, "verify", "--pub", "./keys/fleet.pub", "--in", "./tampered.json")
	if r.code != ExitFailure || !strings.Contains(r.stderr, "bad signature") {
		t.Errorf("verify tampered: %+v", r)
	}
}

func TestSignRefusesInvalidConfig(t *testing.T) {
	dir := t.TempDir()
	run(t, dir, "keys", "new", "--out", "./fleet")
	r := run(t, dir, "sign", "--key", "./fleet.key", "--in", "../../provision/config/testdata/five-mistakes.json", "--out", "./out.json")
	if r.code != ExitFailure || !strings.Contains(r.stderr, `node.state: "sleeping"`) {
		t.Errorf("sign invalid: %+v", r)
	}
	if _, err := os.Stat(filepath.Join(dir, "out.json")); err == nil {
		t.Error("an invalid config was signed")
	}
}

func TestConfigCheck(t *testing.T) {
	r := run(t, "", "config", "check", "../../provision/config/testdata/five-mistakes.json")
	if r.code != ExitFailure {
		t.Errorf("exit %d", r.code)
	}
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if len(lines) != 5 {
		t.Fatalf("want 5 problems, got:\n%s", r.stdout)
	}
	for i, path := range []string{"node.state", "anycast.addresses[0]", "bgp.peers[0].neighbor", "dns.listen[0]", "zones[0].name"} {
		if !strings.Contains(lines[i], "five-mistakes.json: "+path+": ") {
			t.Errorf("line %d = %q, want path %s", i, lines[i], path)
		}
	}
	r = run(t, "", "config", "check", "../../provision/config/testdata/alban.json")
	if r.code != 0 || !strings.Contains(r.stdout, "OK (node alban, serial 7") {
		t.Errorf("valid config: %+v", r)
	}
}

func TestUsage(t *testing.T) {
	for _, args := range [][]string{
		{},
		{"frobnicate"},
		{"sign"},
		{"sign", "--bogus"},
		{"verify", "--in", "x"},
		{"config", "check"},
		{"config", "check", "a", "b"},
		{"keys", "new"},
	} {
		if r := run(t, "", args...); r.code != ExitUsage {
			t.Errorf("goleudy %q: exit %d, want %d: %+v", args, r.code, ExitUsage, r)
		}
	}
	if r := run(t, "", "help"); r.code != 0 || !strings.Contains(r.stdout, "config check") {
		t.Errorf("help: %+v", r)
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	data, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestZoneServe(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "example.com.zone"), []byte("$TTL 300\n@ SOA ns1 host 1 3600 600 86400 300\n@ NS ns1\nns1 A 192.0.2.1\n"), 0o644)
	if r := run(t, dir, "zone", "serve", "--zones", dir); r.code != ExitUsage {
		t.Errorf("without --listen: %+v", r)
	}
	os.WriteFile(filepath.Join(dir, "bad.test.zone"), []byte("@ SOA ns1 host 1 3600 600 86400\nwww A 300.1.1.1\n"), 0o644)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var out, errb bytes.Buffer
	err := (&Context{Args: []string{"zone", "serve", "--listen", "127.0.0.1:0", "--zones", dir}, Stdout: &out, Stderr: &errb}).Execute(ctx)
	if err == nil || !strings.Contains(err.Error(), "bad.test.zone") {
		t.Errorf("a broken zone file: %v", err)
	}
}
