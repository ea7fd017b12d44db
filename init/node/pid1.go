package node

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/goleudy/goleudy/init/boot"
	"github.com/goleudy/goleudy/services/update"
)

// BoardFile is where the image builder leaves the board's facts in the
// initramfs: its name, the kernel modules to load and its port roles.
const BoardFile = "/etc/goleudy/board.json"

// Board is the content of BoardFile.
type Board struct {
	Name    string   `json:"name"`
	Modules []string `json:"modules,omitempty"`
	OOB     string   `json:"oob,omitempty"` // port match for the OOB role
	IX      string   `json:"ix,omitempty"`  // port match for the IX role
	// Version and Build are the release this initramfs belongs to.
	Version string `json:"version,omitempty"`
	Build   uint64 `json:"build,omitempty"`
}

// FatalDelay is how long a node that cannot go on waits before it
// reboots, so its console can be read and a restart loop stays slow.
const FatalDelay = 30 * time.Second

// pid1 is what boot left for a node that is the machine's init.
type pid1 struct {
	sys     *boot.System
	board   string
	release update.Release // from board.json
	slot    string         // A or B: goleudy.slot= on the kernel command line
}

// SlotParam is the kernel command-line parameter the bootloader sets to
// the slot it booted.
const SlotParam = "goleudy.slot"

// slotFrom finds SlotParam in a kernel command line.
func slotFrom(cmdline string) string {
	for _, f := range strings.Fields(cmdline) {
		if v, ok := strings.CutPrefix(f, SlotParam+"="); ok {
			return v
		}
	}
	return ""
}

// readBoard reads BoardFile; a missing file is an empty board.
func readBoard(file string) (Board, error) {
	var b Board
	data, err := os.ReadFile(file)
	if errors.Is(err, os.ErrNotExist) {
		return b, nil
	}
	if err != nil {
		return b, err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&b); err != nil {
		return b, fmt.Errorf("%s: %w", file, err)
	}
	return b, nil
}

// runPID1 is goleudy-node as /init. It never returns: boot failures and a
// node that stops reboot the machine after FatalDelay, so the
// bootloader's fallback can act.
func runPID1(ctx context.Context, version string, stderr io.Writer) error {
	o := Options{Network: "manage", LogFormat: "json", LogLevel: slog.LevelInfo, DHCPTimeout: 15 * time.Second, NTP: DefaultNTP}
	n := &node{o: o, version: version, started: time.Now()}
	n.ring = newRing(o, stderr)
	n.log = slog.New(n.ring.Handler())
	log := n.log
	log.Info("goleudy-node starting as init", "version", version)
	board, err := readBoard(BoardFile)
	if err != nil {
		boot.Fatal(log, err, FatalDelay)
	}
	sys, err := boot.Run(ctx, boot.Options{Hostname: "goleudy", Modules: board.Modules, Log: log.With("part", "boot")})
	if err != nil {
		boot.Fatal(log, err, FatalDelay)
	}
	// Only a debug image has the shell; it lives as long as PID 1 does.
	go boot.RunShell(ctx, boot.ShellOptions{Reaper: sys.Reaper, Log: log.With("part", "shell")})
	cmdline, _ := os.ReadFile("/proc/cmdline")
	n.pid1 = &pid1{sys: sys, board: board.Name, slot: slotFrom(string(cmdline)),
		release: update.Release{Version: board.Version, Build: board.Build}}
	log.Info("booted", "board", board.Name, "slot", n.pid1.slot, "data", sys.DataDir(), "seed", sys.Seed())
	n.o.State, n.o.Seed, n.o.OOB, n.o.IX = sys.DataDir(), sys.Seed(), board.OOB, board.IX
	if n.o.Seed == "" {
		sys.Power.Fatal(errors.New("no seed file on the boot partition: this image was not built for a node"), FatalDelay)
	}
	ctx, n.stop = context.WithCancel(ctx)
	err = n.run(ctx)
	if err == nil {
		err = errors.New("the node stopped")
	}
	sys.Power.Fatal(err, FatalDelay)
	return err
}
