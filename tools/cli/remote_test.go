package cli

import (
	"encoding/json"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/goleudy/goleudy/provision/api"
	"github.com/goleudy/goleudy/provision/server"
)

// startServer runs a server with its data in dir/data, trusting the
// release keys given, and points the commands at it. remote runs a
// command in dir against it.
func startServer(t *testing.T, dir string, releaseTrust ...string) (remote func(args ...string) result) {
	t.Helper()
	data := filepath.Join(dir, "data")
	s, err := server.New(server.Options{DataDir: data, NoTunnel: true,
		EnrollURL: "http://192.0.2.1:8080/v1/enroll", TunnelPrefix: netip.MustParsePrefix("10.53.0.0/24"),
		ReleaseTrust: releaseTrust})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(s.OperatorHandler())
	t.Cleanup(func() { hs.Close(); s.Close() })
	t.Setenv(EnvServer, hs.URL)
	t.Setenv("USER", "ops-test")
	return func(args ...string) result {
		t.Helper()
		return run(t, dir, append(args, "--data", data)...)
	}
}

// TestFleetCommandsThroughServer drives the fleet commands against a
// running server's API, as an operator does while `goleudy serve` holds
// the store.
func TestFleetCommandsThroughServer(t *testing.T) {
	dir := t.TempDir()
	remote := startServer(t, dir)

	seed := filepath.Join(dir, "alban.seed")
	r := remote("node", "add", "alban", "--board", "rpi", "--location-display", "Edinburgh", "--seed-out", seed)
	if r.code != 0 || !strings.Contains(r.stdout, "added node alban") {
		t.Fatalf("node add: %+v", r)
	}
	var sd api.Seed
	b, err := os.ReadFile(seed)
	if err != nil || json.Unmarshal(b, &sd) != nil || sd.NodeID != "alban" || sd.Token == "" || len(sd.Trust) != 1 {
		t.Fatalf("seed %s: %v", b, err)
	}
	if m := mode(t, seed); m != 0o600 {
		t.Fatalf("seed mode %o", m)
	}
	if r := remote("node", "add", "alban"); r.code != ExitFailure || !strings.Contains(r.stderr, "exists") {
		t.Fatalf("duplicate node: %+v", r)
	}
	if r := remote("node", "edit", "alban", "--state", "sleeping"); r.code != ExitFailure || !strings.Contains(r.stderr, "node.state") {
		t.Fatalf("bad edit: %+v", r)
	}
	if r := remote("node", "edit", "alban", "--state", "maintenance"); r.code != 0 {
		t.Fatalf("edit: %+v", r)
	}
	if r := remote("node", "list"); r.code != 0 || !strings.Contains(r.stdout, "maintenance") {
		t.Fatalf("node list: %+v", r)
	}
	if r := remote("zone", "add", "example.com.", "--primary", "192.0.2.10"); r.code != 0 {
		t.Fatalf("zone add: %+v", r)
	}
	if r := remote("zone", "add", "example.com.", "--primary", "192.0.2.10"); r.code != ExitFailure || !strings.Contains(r.stderr, "exists") {
		t.Fatalf("duplicate zone: %+v", r)
	}
	if r := remote("zone", "list"); r.code != 0 || !strings.Contains(r.stdout, "192.0.2.10:53") {
		t.Fatalf("zone list: %+v", r)
	}
	if r := remote("node", "show", "alban"); r.code != 0 || !strings.Contains(r.stdout, "catalog.goleudy.invalid.") {
		t.Fatalf("node show: %+v", r)
	}
	if r := remote("fleet", "keys"); r.code != 0 || !strings.Contains(r.stdout, sd.ServerKey) {
		t.Fatalf("fleet keys: %+v", r)
	}
	if r := remote("fleet", "status"); r.code != 0 || !strings.Contains(r.stdout, "alban") {
		t.Fatalf("fleet status: %+v", r)
	}
	if r := remote("zone", "remove", "example.com."); r.code != 0 {
		t.Fatalf("zone remove: %+v", r)
	}
	if r := remote("node", "remove", "alban"); r.code != 0 {
		t.Fatalf("node remove: %+v", r)
	}
	// A wrong token is refused, and says so.
	bad := filepath.Join(dir, "bad.token")
	os.WriteFile(bad, []byte("not-the-token-at-all"), 0o600)
	if r := remote("node", "list", "--token-file", bad); r.code != ExitFailure || !strings.Contains(r.stderr, "operator token") {
		t.Fatalf("wrong token: %+v", r)
	}
}
