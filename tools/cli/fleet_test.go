package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fleetRun runs a fleet command against the store in dir/data.
func fleetRun(t *testing.T, dir string, args ...string) result {
	t.Helper()
	return run(t, dir, append(args, "--data", filepath.Join(dir, "data"))...)
}

func mode(t *testing.T, name string) os.FileMode {
	t.Helper()
	fi, err := os.Stat(name)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Mode().Perm()
}

func TestNodeCommands(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("USER", "ops-test")
	r := fleetRun(t, dir, "node", "add", "alban", "--board", "rpi", "--fqdn", "alban.nodes.example.net", "--location-display", "Edinburgh", "--in-service", "2026-03-01")
	if r.code != 0 || !strings.Contains(r.stdout, "added node alban") || !strings.Contains(r.stdout, "single use") {
		t.Fatalf("node add: %+v", r)
	}
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if token := lines[len(lines)-1]; len(token) < 20 || strings.Contains(token, " ") {
		t.Errorf("token line = %q", token)
	}
	if m := mode(t, filepath.Join(dir, "data")); m != 0o700 {
		t.Errorf("data dir mode %o", m)
	}
	if m := mode(t, filepath.Join(dir, "data", "fleet.db")); m != 0o600 {
		t.Errorf("store mode %o", m)
	}

	// Refusals: a duplicate, and an invalid document with every problem.
	r = fleetRun(t, dir, "node", "add", "alban")
	if r.code != ExitFailure || !strings.Contains(r.stderr, "already exists") {
		t.Errorf("duplicate node: %+v", r)
	}
	r = fleetRun(t, dir, "node", "add", "Bad Name", "--fqdn", "not a name")
	if r.code != ExitFailure || !strings.Contains(r.stderr, "node.id: ") || !strings.Contains(r.stderr, "node.fqdn: ") {
		t.Errorf("invalid node: %+v", r)
	}

	r = fleetRun(t, dir, "node", "list")
	if r.code != 0 || !strings.Contains(r.stdout, "alban  rpi    live   2026-03-01") || strings.Contains(r.stdout, "Bad") {
		t.Errorf("node list: %+v", r)
	}

	r = fleetRun(t, dir, "node", "show", "alban")
	var cfg struct {
		Node struct{ ID, FQDN, Board string } `json:"node"`
	}
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &cfg) != nil || cfg.Node.FQDN != "alban.nodes.example.net" {
		t.Errorf("node show: %+v", r)
	}
	if r = fleetRun(t, dir, "node", "show", "bob"); r.code != ExitFailure || !strings.Contains(r.stderr, "not found") {
		t.Errorf("show unknown node: %+v", r)
	}

	if r = fleetRun(t, dir, "node", "remove", "alban"); r.code != 0 {
		t.Errorf("node remove: %+v", r)
	}
	if r = fleetRun(t, dir, "node", "remove", "alban"); r.code != ExitFailure || !strings.Contains(r.stderr, "not found") {
		t.Errorf("remove twice: %+v", r)
	}
	if r = fleetRun(t, dir, "node", "list"); r.code != 0 || strings.Contains(r.stdout, "alban") {
		t.Errorf("list after remove: %+v", r)
	}

	// Audit lines carry the operator.
	r = fleetRun(t, dir, "fleet", "export")
	if r.code != 0 || !strings.Contains(r.stdout, `"actor": "ops-test"`) {
		t.Errorf("audit actor: %+v", r)
	}
}

func TestZoneCommands(t *testing.T) {
	dir := t.TempDir()
	r := fleetRun(t, dir, "zone", "add", "example.com.", "--primary", "192.0.2.1", "--primary", "[2001:db8::1]:5353")
	if r.code != 0 {
		t.Fatalf("zone add: %+v", r)
	}
	r = fleetRun(t, dir, "zone", "add", "Example.COM.", "--primary", "192.0.2.1")
	if r.code != ExitFailure || !strings.Contains(r.stderr, "already exists") {
		t.Errorf("duplicate zone: %+v", r)
	}
	// Every problem, each with its path.
	r = fleetRun(t, dir, "zone", "add", "example.org", "--primary", "300.1.1.1", "--tsig", "nope")
	if r.code != ExitFailure {
		t.Errorf("bad zone: %+v", r)
	}
	for _, want := range []string{"3 problem(s)", "\n  name: ", "\n  primaries[0]: ", "\n  tsig: "} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("bad zone: stderr lacks %q:\n%s", want, r.stderr)
		}
	}
	r = fleetRun(t, dir, "zone", "list")
	if r.code != 0 || !strings.Contains(r.stdout, "example.com.  192.0.2.1:53,[2001:db8::1]:5353  -") || strings.Contains(r.stdout, "example.org") {
		t.Errorf("zone list: %+v", r)
	}
	if r = fleetRun(t, dir, "zone", "remove", "example.com."); r.code != 0 {
		t.Errorf("zone remove: %+v", r)
	}
	if r = fleetRun(t, dir, "zone", "remove", "example.com."); r.code != ExitFailure || !strings.Contains(r.stderr, "not found") {
		t.Errorf("zone remove twice: %+v", r)
	}
}

func TestConfigRenderSigned(t *testing.T) {
	dir := t.TempDir()
	run(t, dir, "keys", "new", "--out", "./keys/fleet")
	run(t, dir, "keys", "new", "--out", "./keys/stranger")
	fleetRun(t, dir, "node", "add", "alban", "--board", "rpi")
	fleetRun(t, dir, "zone", "add", "example.com.", "--primary", "192.0.2.1") // serials: node 1, token 2, zone 3

	r := fleetRun(t, dir, "config", "render", "alban", "--sign", "./keys/fleet.key", "--out", "./alban.signed.json")
	if r.code != 0 {
		t.Fatalf("config render: %+v", r)
	}
	if m := mode(t, filepath.Join(dir, "alban.signed.json")); m != 0o644 {
		t.Errorf("mode %o", m)
	}
	r = run(t, dir, "verify", "--pub", "./keys/fleet.pub", "--in", "./alban.signed.json")
	if r.code != 0 || !strings.Contains(r.stdout, "OK: config serial 3 for node alban") {
		t.Errorf("verify: %+v", r)
	}
	if r = run(t, dir, "verify", "--pub", "./keys/stranger.pub", "--in", "./alban.signed.json"); r.code != ExitFailure {
		t.Errorf("verify with a stranger's key: %+v", r)
	}

	// Unsigned to stdout is what node show prints.
	r = fleetRun(t, dir, "config", "render", "alban")
	if show := fleetRun(t, dir, "node", "show", "alban"); r.code != 0 || r.stdout != show.stdout {
		t.Errorf("render %+v\nshow %+v", r, show)
	}
	r = fleetRun(t, dir, "config", "render", "bob", "--sign", "./keys/fleet.key", "--out", "./bob.json")
	if r.code != ExitFailure || !strings.Contains(r.stderr, `node "bob": not found`) {
		t.Errorf("render unknown node: %+v", r)
	}
	if _, err := os.Stat(filepath.Join(dir, "bob.json")); err == nil {
		t.Error("wrote a config for an unknown node")
	}
}

func TestFleetExportImportBackup(t *testing.T) {
	dir := t.TempDir()
	fleetRun(t, dir, "node", "add", "alban", "--board", "rpi")
	fleetRun(t, dir, "zone", "add", "example.com.", "--primary", "192.0.2.1") // serials: node 1, token 2, zone 3

	if r := fleetRun(t, dir, "fleet", "export", "--out", "./export.json"); r.code != 0 {
		t.Fatalf("export: %+v", r)
	}
	if m := mode(t, filepath.Join(dir, "export.json")); m != 0o600 {
		t.Errorf("export mode %o", m)
	}
	if r := fleetRun(t, dir, "fleet", "backup", "--out", "./backup.db"); r.code != 0 {
		t.Fatalf("backup: %+v", r)
	}
	if m := mode(t, filepath.Join(dir, "backup.db")); m != 0o600 {
		t.Errorf("backup mode %o", m)
	}

	// Importing into the store it came from is refused.
	r := fleetRun(t, dir, "fleet", "import", "./export.json")
	if r.code != ExitFailure || !strings.Contains(r.stderr, "not empty") {
		t.Errorf("import into non-empty store: %+v", r)
	}

	// A standby imports it and exports the same bytes.
	standby := filepath.Join(dir, "standby")
	r = run(t, dir, "fleet", "import", "./export.json", "--data", standby)
	if r.code != 0 || !strings.Contains(r.stdout, "serial 3") {
		t.Fatalf("import: %+v", r)
	}
	want, _ := os.ReadFile(filepath.Join(dir, "export.json"))
	if r = run(t, dir, "fleet", "export", "--data", standby); r.code != 0 || r.stdout != string(want) {
		t.Errorf("standby export differs: %+v", r)
	}

	// A restored backup is a store.
	restored := filepath.Join(dir, "restored")
	os.MkdirAll(restored, 0o700)
	copyFile(t, filepath.Join(dir, "backup.db"), filepath.Join(restored, "fleet.db"))
	if r = run(t, dir, "node", "list", "--data", restored); r.code != 0 || !strings.Contains(r.stdout, "alban") {
		t.Errorf("list from restored backup: %+v", r)
	}
}

func TestFleetUsage(t *testing.T) {
	dir := t.TempDir()
	for _, args := range [][]string{
		{"node", "add"},
		{"node", "add", "a", "b"},
		{"node", "add", "a", "--in-service", "March"},
		{"node", "show"},
		{"node", "remove"},
		{"node", "list", "x"},
		{"zone", "add", "example.com."},
		{"zone", "add", "--primary", "192.0.2.1"},
		{"zone", "remove"},
		{"config", "render"},
		{"fleet", "import"},
		{"fleet", "backup"},
		{"fleet", "export", "--bogus"},
	} {
		if r := fleetRun(t, dir, args...); r.code != ExitUsage {
			t.Errorf("goleudy %q: exit %d, want %d: %+v", args, r.code, ExitUsage, r)
		}
	}
	// Reading commands do not make a store where there was none.
	if r := fleetRun(t, dir, "node", "list"); r.code != ExitFailure || !strings.Contains(r.stderr, "no fleet store") {
		t.Errorf("list without a store: %+v", r)
	}
	if _, err := os.Stat(filepath.Join(dir, "data")); err == nil {
		t.Error("a reading command created the data dir")
	}
}
