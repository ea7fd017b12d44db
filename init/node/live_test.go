package node

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/goleudy/goleudy/provision/config"
	"github.com/goleudy/goleudy/provision/configstore"
	"github.com/goleudy/goleudy/services/supervisor"
)

// recorder is a service that keeps what it was given.
type recorder struct{ got []*config.Config }

func (r *recorder) Name() string                  { return "recorder" }
func (r *recorder) Run(ctx context.Context) error { <-ctx.Done(); return nil }
func (r *recorder) Apply(c *config.Config) error  { r.got = append(r.got, c); return nil }

func TestDrainIsKeptAndApplied(t *testing.T) {
	dir := t.TempDir()
	store, err := configstore.Open(dir, nil, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	cfg, _, err := store.Accept(labConfig(4, "alban"))
	if err != nil {
		t.Fatal(err)
	}
	l := newLive(store, dir, "test", slog.New(slog.DiscardHandler))
	rec := &recorder{}
	l.cfg, l.base = cfg, []supervisor.Service{rec}
	if err := l.setDrain(true); err != nil {
		t.Fatal(err)
	}
	if len(rec.got) != 1 || rec.got[0].Node.State != config.StateDrained {
		t.Fatalf("drain applied %+v", rec.got)
	}
	if cfg.Node.State != config.StateLive {
		t.Fatalf("drain changed the accepted config itself: %s", cfg.Node.State)
	}
	if _, err := os.Stat(filepath.Join(dir, DrainFile)); err != nil {
		t.Fatalf("drain not kept: %v", err)
	}
	// A restarted node is still drained, and says so in its heartbeat.
	l2 := newLive(store, dir, "test", slog.New(slog.DiscardHandler))
	l2.cfg = cfg
	if hb := l2.heartbeat(); hb.State != config.StateDrained {
		t.Fatalf("restarted node's state %q, want drained", hb.State)
	}
	if err := l2.setDrain(false); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, DrainFile)); !os.IsNotExist(err) {
		t.Fatalf("undrain left the file: %v", err)
	}
	if err := l2.setDrain(false); err != nil {
		t.Fatalf("undrain twice: %v", err)
	}
}

func TestReadBoard(t *testing.T) {
	dir := t.TempDir()
	if b, err := readBoard(filepath.Join(dir, "missing.json")); err != nil || b.Name != "" {
		t.Fatalf("missing board file: %+v %v", b, err)
	}
	f := filepath.Join(dir, "board.json")
	os.WriteFile(f, []byte(`{"name":"fitpc2i","modules":["r8169"],"oob":"driver:r8169","ix":"pci-0000:02:00.0"}`), 0o644)
	b, err := readBoard(f)
	if err != nil || b.Name != "fitpc2i" || b.Modules[0] != "r8169" || b.OOB != "driver:r8169" {
		t.Fatalf("%+v %v", b, err)
	}
	os.WriteFile(f, []byte(`{"name":"brix","modles":[]}`), 0o644)
	if _, err := readBoard(f); err == nil || !strings.Contains(err.Error(), "modles") || !strings.Contains(err.Error(), f) {
		t.Fatalf("unknown field: %v", err)
	}
}

func TestSlotFromCmdline(t *testing.T) {
	for cmdline, want := range map[string]string{
		"console=ttyS0,115200 goleudy.slot=B quiet\n": "B",
		"goleudy.slot=A":               "A",
		"console=tty1 goleudy.slotx=B": "",
		"":                             "",
	} {
		if got := slotFrom(cmdline); got != want {
			t.Errorf("%q: %q, want %q", cmdline, got, want)
		}
	}
}
