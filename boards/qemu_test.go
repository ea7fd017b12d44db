package boards_test

import (
	"context"
	"os/exec"
	"regexp"
	"testing"
	"time"

	"github.com/goleudy/goleudy/boards"
	"github.com/goleudy/goleudy/tools/lab"
)

// qemuPackage is the Debian package of each QEMU program.
var qemuPackage = map[string]string{
	"qemu-system-x86_64":  "qemu-system-x86",
	"qemu-system-i386":    "qemu-system-x86",
	"qemu-system-aarch64": "qemu-system-arm",
	"qemu-system-arm":     "qemu-system-arm",
}

// The boot tests start QEMU with these hints, so a machine, CPU or device
// this QEMU does not have should fail here, by name, rather than there.
func TestQEMUHasTheHints(t *testing.T) {
	forEach(t, func(t *testing.T, b boards.Board) {
		q := b.QEMU
		tool := lab.Tool{Name: q.System, Package: qemuPackage[q.System]}
		lab.Require(t, tool)
		prog, _ := tool.Path()
		ask := func(args ...string) string {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			out, err := exec.CommandContext(ctx, prog, append(args, "-nodefaults", "-display", "none")...).CombinedOutput()
			if err != nil {
				t.Fatalf("%s %v: %v\n%s", prog, args, err, out)
			}
			return string(out)
		}
		has := func(list, item, what string) {
			if !regexp.MustCompile(`(?m)^\s*(x86\s+|name\s+")?` + regexp.QuoteMeta(item) + `[\s",]`).MatchString(list) {
				t.Errorf("%s has no %s %q", q.System, what, item)
			}
		}
		has(ask("-machine", "help"), q.Machine, "machine")
		if q.CPU != "" {
			has(ask("-cpu", "help"), q.CPU, "CPU")
		}
		devices := ask("-device", "help")
		for _, d := range []string{q.NIC, q.Watchdog} {
			if d != "" {
				has(devices, d, "device")
			}
		}
	})
}
