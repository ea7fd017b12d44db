package mgmt

import (
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/goleudy/goleudy/provision/api"
	"github.com/goleudy/goleudy/provision/envelope"
)

func writeSeed(t *testing.T, text string) string {
	t.Helper()
	f := filepath.Join(t.TempDir(), "seed.json")
	if err := os.WriteFile(f, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return f
}

func TestLoadSeedNamesEveryProblem(t *testing.T) {
	cases := []struct {
		name, text string
		want       []string
	}{
		{"empty object", `{}`, []string{"node_id: missing", "token: missing", "enroll_url", "server_key", "trust: no config keys"}},
		{"bad keys", `{"node_id":"a","token":"t","enroll_url":"http://192.0.2.1:8080/v1/enroll","server_key":"xx","trust":["yy"]}`,
			[]string{"server_key", "trust[0]"}},
		{"unknown field", `{"node_id":"a","tokne":"t"}`, []string{"tokne"}},
		{"not JSON", `node_id=a`, []string{"JSON syntax"}},
		{"trailing data", `{} {}`, []string{"trailing"}},
	}
	for _, c := range cases {
		_, err := LoadSeed(writeSeed(t, c.text))
		if err == nil {
			t.Fatalf("%s: accepted", c.name)
		}
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: %q does not mention %q", c.name, err, w)
			}
		}
	}
	if _, err := LoadSeed(filepath.Join(t.TempDir(), "missing.json")); err == nil {
		t.Fatal("a missing seed file was accepted")
	}
}

func TestEnrollmentAnswerIsPinned(t *testing.T) {
	pub, priv, _ := ed25519.GenerateKey(nil)
	_, other, _ := ed25519.GenerateKey(nil)
	seed := api.Seed{NodeID: "alban", Token: "t", EnrollURL: "http://192.0.2.1:8080/v1/enroll",
		ServerKey: base64.StdEncoding.EncodeToString(pub), Trust: []string{base64.StdEncoding.EncodeToString(pub)}}
	a, err := New(Options{StateDir: t.TempDir(), Seed: seed, OnConfig: func([]byte) error { return nil }, Heartbeat: func() api.Heartbeat { return api.Heartbeat{} }})
	if err != nil {
		t.Fatal(err)
	}
	answer := func(key ed25519.PrivateKey, node string) []byte {
		e := api.Enrollment{NodeID: node,
			IdentityKey: base64.StdEncoding.EncodeToString(a.identity.Public().(ed25519.PublicKey)),
			WireGuard:   a.wg.Public().String()}
		b, _ := json.Marshal(e)
		env, err := envelope.Sign(api.PayloadEnrollment, b, key)
		if err != nil {
			t.Fatal(err)
		}
		return env
	}
	if _, err := a.verifyEnrollment(answer(priv, "alban")); err != nil {
		t.Fatalf("a good answer: %v", err)
	}
	if _, err := a.verifyEnrollment(answer(other, "alban")); err == nil {
		t.Fatal("an answer signed by another key was accepted")
	}
	if _, err := a.verifyEnrollment(answer(priv, "bede")); err == nil || !strings.Contains(err.Error(), "bede") {
		t.Fatalf("an answer for another node: %v", err)
	}
	// The keys survive a restart.
	b, err := New(Options{StateDir: a.o.StateDir, Seed: seed, OnConfig: a.o.OnConfig, Heartbeat: a.o.Heartbeat})
	if err != nil {
		t.Fatal(err)
	}
	if !b.identity.Equal(a.identity) || b.wg != a.wg {
		t.Fatal("keys changed across a restart")
	}
}
