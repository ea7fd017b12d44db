package builder

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/goleudy/goleudy/boards"
	"github.com/goleudy/goleudy/image/debs"
	"github.com/goleudy/goleudy/image/disk"
	"github.com/goleudy/goleudy/image/fat"
	"github.com/goleudy/goleudy/image/grub"
	"github.com/goleudy/goleudy/provision/api"
	"github.com/goleudy/goleudy/tools/lab"
)

// The boot test: a real image for the BRIX, booted under QEMU with OVMF
// (software emulation), reaches the node's ready line. GRUB picks slot A,
// the kernel starts goleudy-node as /init, which mounts the boot partition,
// formats the data partition, takes a DHCP lease from QEMU's user network
// on its OOB port, enrolls with `goleudy serve` (reached at 10.0.2.2, the
// user network's host, which is the test's namespace), brings the tunnel up
// and pulls its config. The test runs in a namespace of its own so the
// server's tunnel and QEMU's user network share a private loopback.

const envBootBins = "GOLEUDY_BOOT_BINS"

func fetcher(t *testing.T) *debs.Fetcher {
	t.Helper()
	cache, err := debs.DefaultCache()
	if err != nil {
		t.Fatal(err)
	}
	f := &debs.Fetcher{Cache: cache}
	b, _ := boards.Lookup("brix")
	if missing := f.Missing(append(b.AllPackages(), boards.Tools...)); len(missing) > 0 {
		t.Fatalf("packages not in the cache %s: %v; run `go run ./tools/goleudy image fetch`", cache, missing)
	}
	return f
}

func TestBootBrixToReady(t *testing.T) {
	if _, ok := lab.InNetns(); ok && os.Getenv(envBootBins) != "" {
		bootChild(t)
		return
	}
	lab.Require(t, lab.Tool{Name: "qemu-system-x86_64", Package: "qemu-system-x86"})
	if _, err := os.Stat("/usr/share/OVMF/OVMF_CODE_4M.fd"); err != nil {
		t.Fatal("OVMF missing: apt-get install ovmf")
	}
	fetcher(t)
	serve := lab.Build(t, "./tools/goleudy", "goleudy")
	node := lab.Build(t, "./init", "goleudy-node")
	ns := lab.NewNetns(t)
	lab.ExecTest(t, ns, "^TestBootBrixToReady$", 6*time.Minute, envBootBins+"="+serve+","+node)
}

func bootChild(t *testing.T) {
	ctx := context.Background()
	bins := strings.Split(os.Getenv(envBootBins), ",")
	data, dir := t.TempDir(), t.TempDir()
	srv := lab.StartProc(t, "serve", exec.Command(bins[0], "serve", "--data", data,
		"--api-listen", "127.0.0.1:8000", "--enroll-listen", "127.0.0.1:8080",
		"--enroll-url", "http://10.0.2.2:8080/v1/enroll", "--tunnel-endpoint", "10.0.2.2:51820",
		"--tunnel-prefix", "10.53.0.0/24"))
	srv.WaitLog(t, `"msg":"server running"`, 20*time.Second)
	tok, _ := os.ReadFile(filepath.Join(data, "operator.token"))
	cl := &api.Client{Base: "http://127.0.0.1:8000", Token: strings.TrimSpace(string(tok)), Actor: "boot-test"}
	doc := `{"node": {"id": "brix1", "board": "brix", "location": {"display": "Wales, Cardiff", "city": "Cardiff", "countryiso": "gb"}},
	  "interfaces": {"ix": {"addresses": ["198.51.100.2/30"], "gateway4": "198.51.100.1"}},
	  "anycast": {"asn": 64512, "prefixes": ["192.0.2.0/24"], "addresses": ["192.0.2.53"]},
	  "dns": {"listen": ["192.0.2.53:53"]}, "info": {"listen": ["192.0.2.53:80"]}}`
	nn, err := cl.AddNode(ctx, api.NodeInfo{Config: json.RawMessage(doc)})
	if err != nil {
		t.Fatal(err)
	}
	seed, _ := json.Marshal(nn.Seed)

	b, _ := boards.Lookup("brix")
	img := filepath.Join(dir, "brix.img")
	r, err := Build(ctx, Options{Board: b, Seed: seed, Version: "test", Epoch: time.Unix(1763683200, 0), Out: img,
		Fetcher: fetcher(t), NodeBinary: bins[1], Emulated: true, WorkDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("image %d MiB, initramfs %d KiB, %d modules, built in %v", r.ImageSize>>20, r.InitramfsSize>>10, r.Modules, r.Took.Round(time.Millisecond))

	t.Run("ready", func(t *testing.T) { bootToReady(t, b, img, dir) })
	t.Run("fallback", func(t *testing.T) { bootFallback(t, b, img, dir) })
	srv.Stop(t)
}

// qemu boots img as the BRIX under OVMF; reboots are allowed unless
// noReboot.
func qemu(t *testing.T, b boards.Board, img, dir string, noReboot bool) *lab.Proc {
	t.Helper()
	vars := filepath.Join(dir, "vars.fd")
	if data, err := os.ReadFile("/usr/share/OVMF/OVMF_VARS_4M.fd"); err != nil {
		t.Fatal(err)
	} else if err := os.WriteFile(vars, data, 0o644); err != nil {
		t.Fatal(err)
	}
	args := []string{"-M", b.QEMU.Machine, "-m", fmt.Sprint(b.QEMU.MemoryMiB),
		"-display", "none", "-monitor", "none", "-serial", "file:/dev/stderr",
		"-drive", "if=pflash,format=raw,readonly=on,file=/usr/share/OVMF/OVMF_CODE_4M.fd",
		"-drive", "if=pflash,format=raw,file=" + vars,
		"-drive", "file=" + img + ",if=none,id=d0,format=raw", "-device", "ich9-ahci,id=ahci", "-device", "ide-hd,drive=d0,bus=ahci.0",
		"-netdev", "user,id=ix", "-device", b.QEMU.NIC + ",netdev=ix",
		"-netdev", "user,id=oob", "-device", b.QEMU.NIC + ",netdev=oob"}
	if noReboot {
		args = append(args, "-no-reboot")
	}
	return lab.StartProc(t, "qemu", exec.Command("qemu-system-x86_64", args...))
}

// bootToReady: the first boot of a fresh image reaches the ready line and
// commits slot A.
func bootToReady(t *testing.T, b boards.Board, img, dir string) {
	start := time.Now()
	vm := qemu(t, b, img, dir, true)
	vm.WaitLog(t, "goleudy-grub: booting slot A", 60*time.Second)
	grub := time.Since(start)
	vm.WaitLog(t, `"msg":"goleudy-node starting as init"`, 60*time.Second)
	initAt := time.Since(start)
	vm.WaitLog(t, `"msg":"node ready"`, 3*time.Minute)
	ready := time.Since(start)
	t.Logf("FIGURE brix under QEMU (OVMF, TCG): GRUB %v, /init %v, ready line %v after QEMU start",
		grub.Round(time.Millisecond), initAt.Round(time.Millisecond), ready.Round(time.Millisecond))
	vm.WaitLog(t, `"msg":"slot good"`, 30*time.Second)
	for _, want := range []string{`"msg":"first boot: formatting the data partition ext4"`, `"slot":"A"`, `"msg":"enrolled"`, `"msg":"tunnel up"`,
		`"msg":"slot committed"`} {
		if !strings.Contains(vm.Logs(), want) {
			t.Errorf("console lacks %s", want)
		}
	}
	vm.Kill()
}

// bootFallback: slot B is put on trial, but its initramfs is broken, so
// its kernel panics and never commits; the board reboots (panic=10) and
// GRUB, finding B still on trial, boots A by itself, whose node records
// the rollback.
func bootFallback(t *testing.T, b boards.Board, img, dir string) {
	f, err := os.OpenFile(img, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	vol := func(n int) *fat.Volume {
		off, size, err := disk.PartitionOffset(img, n)
		if err != nil {
			t.Fatal(err)
		}
		v, err := fat.Open(f, off, size)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	boot := vol(1)
	block, err := boot.ReadFile(strings.TrimPrefix(grub.EnvPath, "/"))
	if err != nil {
		t.Fatal(err)
	}
	st, err := grub.DecodeState(block)
	if err != nil {
		t.Fatal(err)
	}
	if st.OnTrial(grub.A) {
		t.Fatalf("slot A not committed by the first boot: %s", st)
	}
	st.Trial(grub.B)
	block, _ = st.Encode()
	if err := boot.Rewrite(strings.TrimPrefix(grub.EnvPath, "/"), block); err != nil {
		t.Fatal(err)
	}
	slotB := vol(3)
	initrd, err := slotB.ReadFile(Initrd)
	if err != nil {
		t.Fatal(err)
	}
	if err := slotB.Rewrite(Initrd, make([]byte, len(initrd))); err != nil {
		t.Fatal(err)
	}
	f.Sync()

	start := time.Now()
	vm := qemu(t, b, img, dir, false)
	vm.WaitLog(t, "goleudy-grub: booting slot B", 60*time.Second)
	vm.WaitLog(t, "Kernel panic", 90*time.Second)
	vm.WaitLog(t, "goleudy-grub: booting slot A", 90*time.Second)
	back := time.Since(start)
	vm.WaitLog(t, `"msg":"node ready"`, 3*time.Minute)
	vm.WaitLog(t, `"msg":"slot good"`, 30*time.Second)
	t.Logf("FIGURE brix fallback: QEMU start → slot A booting again after B's failed trial %v; ready %v",
		back.Round(time.Millisecond), time.Since(start).Round(time.Millisecond))
	if !strings.Contains(vm.Logs(), `"rolled_back":true`) {
		t.Errorf("the node on A did not record the rollback")
	}
	vm.Kill()
}
