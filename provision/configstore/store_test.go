package configstore

import (
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/goleudy/goleudy/provision/config"
	"github.com/goleudy/goleudy/provision/envelope"
)

func doc(serial int) []byte {
	return fmt.Appendf(nil, `{"schema":1,"serial":%d,"node":{"id":"alban"},"zones":[{"name":"example.com.","primaries":["127.0.0.1:5300"]}]}`, serial)
}

type fleet struct {
	key, stranger ed25519.PrivateKey
	trust         *envelope.TrustSet
}

func newFleet(t *testing.T) fleet {
	dir := t.TempDir()
	var f fleet
	for _, name := range []string{"fleet", "stranger"} {
		if _, err := envelope.NewKeyPair(filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	f.key, _ = envelope.LoadPrivateKey(filepath.Join(dir, "fleet.key"))
	f.stranger, _ = envelope.LoadPrivateKey(filepath.Join(dir, "stranger.key"))
	var err error
	f.trust, err = envelope.LoadTrustSet(filepath.Join(dir, "fleet.pub"))
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func (f fleet) sign(t *testing.T, typ string, payload []byte, key ed25519.PrivateKey) []byte {
	out, err := envelope.Sign(typ, payload, key)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestRefusalsKeepTheAcceptedConfig is the acceptance case: each bad
// input is refused with its own error and serial 7 stays, in memory, on disk
// and after a restart.
func TestRefusalsKeepTheAcceptedConfig(t *testing.T) {
	f := newFleet(t)
	dir := t.TempDir()
	s, err := Open(dir, f.trust, nil)
	if err != nil {
		t.Fatal(err)
	}
	good := f.sign(t, config.PayloadType, doc(7), f.key)
	if _, isNew, err := s.Accept(good); err != nil || !isNew {
		t.Fatalf("Accept(serial 7) = %v, %v", isNew, err)
	}

	var tampered envelope.Envelope
	json.Unmarshal(f.sign(t, config.PayloadType, doc(8), f.key), &tampered)
	tampered.Payload = base64.StdEncoding.EncodeToString(doc(9))
	tamperedData, _ := json.Marshal(tampered)

	tests := []struct {
		name string
		data []byte
		want error
		msg  string
	}{
		{"tampered", tamperedData, envelope.ErrBadSignature, "altered"},
		{"wrong key", f.sign(t, config.PayloadType, doc(8), f.stranger), envelope.ErrUntrustedKey, "untrusted key"},
		{"lower serial", f.sign(t, config.PayloadType, doc(6), f.key), ErrStaleSerial, "serial 6, but serial 7 was already accepted"},
		{"equal serial, other content", f.sign(t, config.PayloadType, []byte(strings.Replace(string(doc(7)), "alban", "brynn", 1)), f.key), ErrStaleSerial, "serial 7, but serial 7"},
		{"payload type", f.sign(t, "application/vnd.goleudy.release+json", doc(8), f.key), envelope.ErrPayloadType, "payload type"},
		{"unsigned", doc(8), ErrUnsigned, "requires a signed envelope"},
		{"invalid", f.sign(t, config.PayloadType, []byte(`{"schema":1,"serial":8,"node":{"id":"Alban"}}`), f.key), config.ErrInvalid, `node.id: "Alban"`},
	}
	seen := map[string]string{}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := s.Accept(tt.data)
			if !errors.Is(err, tt.want) || !strings.Contains(err.Error(), tt.msg) {
				t.Fatalf("err = %v, want %v mentioning %q", err, tt.want, tt.msg)
			}
			if prev, dup := seen[err.Error()]; dup {
				t.Errorf("same message as %s: %v", prev, err)
			}
			seen[err.Error()] = tt.name
			if c := s.Current(); c == nil || c.Serial != 7 || c.Node.ID != "alban" {
				t.Errorf("current config changed: %+v", c)
			}
		})
	}
	onDisk, _ := os.ReadFile(filepath.Join(dir, ConfigFile))
	if string(onDisk) != string(good) {
		t.Error("the stored config changed")
	}
	s2, err := Open(dir, f.trust, nil)
	if err != nil || s2.Current() == nil || s2.Current().Serial != 7 || s2.Serial() != 7 {
		t.Fatalf("after restart: %v, %+v", err, s2)
	}
	// The same config again (a restart with the same file) is fine.
	if _, isNew, err := s2.Accept(good); err != nil || isNew {
		t.Errorf("re-accepting the current config: new=%v err=%v", isNew, err)
	}
	if _, isNew, err := s2.Accept(f.sign(t, config.PayloadType, doc(8), f.key)); err != nil || !isNew {
		t.Errorf("serial 8: new=%v err=%v", isNew, err)
	}
}

func TestFloorSurvivesLostConfig(t *testing.T) {
	dir := t.TempDir()
	s, _ := Open(dir, nil, nil)
	if _, _, err := s.Accept(doc(5)); err != nil {
		t.Fatal(err)
	}
	os.Remove(filepath.Join(dir, ConfigFile))
	s, _ = Open(dir, nil, nil)
	if s.Current() != nil {
		t.Fatal("config should be gone")
	}
	if _, _, err := s.Accept(doc(5)); !errors.Is(err, ErrStaleSerial) {
		t.Fatalf("replay after losing the config file: %v", err)
	}
}

// A power cut after the config was written but before the serial: the
// stored config's serial becomes the floor.
func TestConfigNewerThanSerialFile(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, SerialFile), []byte("3\n"), 0o600)
	os.WriteFile(filepath.Join(dir, ConfigFile), doc(4), 0o600)
	s, err := Open(dir, nil, nil)
	if err != nil || s.Serial() != 4 || s.Current().Serial != 4 {
		t.Fatalf("Open = %v, serial %d", err, s.Serial())
	}
	if _, isNew, err := s.Accept(doc(4)); err != nil || isNew {
		t.Errorf("the stored config must not count as a replay: %v", err)
	}
}

func TestCorruptState(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, SerialFile), []byte("seven"), 0o600)
	if _, err := Open(dir, nil, nil); err == nil || !strings.Contains(err.Error(), "replay floor") {
		t.Errorf("corrupt serial: %v", err)
	}
	dir = t.TempDir()
	os.WriteFile(filepath.Join(dir, ConfigFile), []byte("{garbage"), 0o600)
	s, err := Open(dir, nil, nil)
	if err != nil || s.Current() != nil {
		t.Fatalf("corrupt config must be ignored: %v", err)
	}
	if _, _, err := s.Accept(doc(1)); err != nil {
		t.Fatal(err)
	}
}

func TestUnsignedStoreRefusesEnvelope(t *testing.T) {
	f := newFleet(t)
	s, _ := Open(t.TempDir(), nil, nil)
	if _, _, err := s.Accept(f.sign(t, config.PayloadType, doc(1), f.key)); !errors.Is(err, ErrUnsigned) {
		t.Errorf("err = %v", err)
	}
}
