package boot

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
)

const testRelease = "6.1.0-test-amd64"

// modulesDep is a piece of a real Debian modules.dep, with a few lines
// added to make a cycle and a missing dependency.
const modulesDep = `kernel/drivers/net/ethernet/intel/e1000e/e1000e.ko: kernel/drivers/ptp/ptp.ko kernel/drivers/pps/pps_core.ko
kernel/drivers/ptp/ptp.ko: kernel/drivers/pps/pps_core.ko
kernel/drivers/pps/pps_core.ko:
kernel/net/netfilter/nf_tables.ko.xz: kernel/net/netfilter/nfnetlink.ko.xz kernel/lib/libcrc32c.ko.xz
kernel/net/netfilter/nfnetlink.ko.xz:
kernel/drivers/net/wireguard/wireguard.ko: kernel/net/ipv6/ip6_udp_tunnel.ko kernel/net/ipv4/udp_tunnel.ko kernel/lib/crypto/libcurve25519-generic.ko kernel/lib/crypto/libchacha20poly1305.ko
kernel/net/ipv6/ip6_udp_tunnel.ko:
kernel/net/ipv4/udp_tunnel.ko:
kernel/lib/crypto/libcurve25519-generic.ko:
kernel/lib/crypto/libchacha20poly1305.ko: kernel/lib/crypto/libchacha.ko
kernel/lib/crypto/libchacha.ko:

kernel/drivers/test/loop-a.ko: kernel/drivers/test/loop-b.ko
kernel/drivers/test/loop-b.ko: kernel/drivers/test/loop-a.ko
kernel/drivers/test/orphan.ko: kernel/drivers/test/gone.ko
`

const modulesBuiltin = `kernel/drivers/net/virtio_net.ko
kernel/lib/libcrc32c.ko
`

const procModules = `nfnetlink 20480 2 nf_tables, Live 0x0000000000000000
`

// moduleTree writes a fake /lib/modules tree and /proc/modules.
func moduleTree(t *testing.T) ModuleOptions {
	root := t.TempDir()
	dir := filepath.Join(root, "lib/modules", testRelease)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, text := range map[string]string{"modules.dep": modulesDep, "modules.builtin": modulesBuiltin} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	proc := filepath.Join(root, "proc-modules")
	if err := os.WriteFile(proc, []byte(procModules), 0o644); err != nil {
		t.Fatal(err)
	}
	return ModuleOptions{Root: root, Release: testRelease, ProcModules: proc}
}

func names(deps []ModuleDep) string {
	var n []string
	for _, d := range deps {
		n = append(n, d.Name)
	}
	return strings.Join(n, " ")
}

func TestModuleOrder(t *testing.T) {
	ix, err := OpenModuleIndex(moduleTree(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, want, err string
	}{
		{"e1000e", "pps_core ptp e1000e", ""},
		// nfnetlink is loaded and libcrc32c built in.
		{"nf_tables", "nf_tables", ""},
		{"nf-tables", "nf_tables", ""},
		// The last-listed dependency loads first, as modprobe does it.
		{"wireguard", "libchacha libchacha20poly1305 libcurve25519_generic udp_tunnel ip6_udp_tunnel wireguard", ""},
		{"virtio_net", "", ""},
		{"virtio-net", "", ""},
		{"nfnetlink", "", ""},
		{"loop_a", "", "module dependency cycle: loop_a -> loop_b -> loop_a"},
		{"orphan", "", `unknown module "gone", needed by orphan`},
		{"nosuch", "", `unknown module "nosuch"`},
	} {
		order, err := ix.Order(tc.name)
		if tc.err != "" {
			if err == nil || err.Error() != tc.err {
				t.Errorf("Order(%q) = %v, want error %q", tc.name, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("Order(%q): %v", tc.name, err)
			continue
		}
		if got := names(order); got != tc.want {
			t.Errorf("Order(%q) = %q, want %q", tc.name, got, tc.want)
		}
	}
	if !errors.Is(func() error { _, err := ix.Order("nosuch"); return err }(), ErrUnknownModule) {
		t.Error("unknown module is not ErrUnknownModule")
	}
	order, _ := ix.Order("nf_tables")
	if order[0].Path != "kernel/net/netfilter/nf_tables.ko.xz" {
		t.Errorf("path = %q", order[0].Path)
	}
}

func TestLoadModules(t *testing.T) {
	opts := moduleTree(t)
	var loaded []string
	opts.Load = func(path string) error {
		loaded = append(loaded, strings.TrimPrefix(path, filepath.Join(opts.Root, "lib/modules", testRelease)+"/"))
		return nil
	}
	log, lb := newLog(t)
	err := LoadModules(log, []string{"e1000e", "virtio-net", "nfnetlink", "doesnotexist", "ptp", "nf_tables"}, opts)
	if err != nil {
		t.Fatalf("LoadModules: %v", err)
	}
	want := []string{
		"kernel/drivers/pps/pps_core.ko", "kernel/drivers/ptp/ptp.ko",
		"kernel/drivers/net/ethernet/intel/e1000e/e1000e.ko", "kernel/net/netfilter/nf_tables.ko.xz",
	}
	if !slices.Equal(loaded, want) {
		t.Errorf("loaded %q, want %q", loaded, want)
	}
	for _, s := range []string{`"msg":"unknown module; skipped","module":"doesnotexist"`,
		`"msg":"module built in","module":"virtio-net"`, `"msg":"module already loaded","module":"nfnetlink"`,
		`"msg":"module loaded","module":"e1000e"`} {
		if !strings.Contains(lb.String(), s) {
			t.Errorf("log lacks %s", s)
		}
	}
	if err := LoadModules(log, nil, ModuleOptions{Root: "/nonexistent"}); err != nil {
		t.Errorf("no modules with no tree: %v", err)
	}
}

func TestLoadModulesFailures(t *testing.T) {
	opts := moduleTree(t)
	var loaded []string
	opts.Load = func(path string) error {
		loaded = append(loaded, ModuleName(path))
		switch ModuleName(path) {
		case "pps_core":
			return syscall.EEXIST // loaded since the index was read
		case "ptp":
			return syscall.ENOEXEC
		}
		return nil
	}
	log, _ := newLog(t)
	err := LoadModules(log, []string{"e1000e", "loop_a", "udp_tunnel"}, opts)
	if !errors.Is(err, syscall.ENOEXEC) {
		t.Fatalf("err = %v, want ENOEXEC", err)
	}
	for _, s := range []string{"load module " + filepath.Join(opts.Root, "lib/modules", testRelease, "kernel/drivers/ptp/ptp.ko") + " (for e1000e)",
		"module loop_a: module dependency cycle"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q lacks %q", err, s)
		}
	}
	// e1000e is not tried once ptp failed; udp_tunnel still loads.
	if want := []string{"pps_core", "ptp", "udp_tunnel"}; !slices.Equal(loaded, want) {
		t.Errorf("tried %q, want %q", loaded, want)
	}
	if _, err := OpenModuleIndex(ModuleOptions{Root: t.TempDir(), Release: testRelease}); err == nil ||
		!strings.Contains(err.Error(), "modules.dep") {
		t.Errorf("no modules.dep: %v", err)
	}
}

// TestLoadModuleFileReal hands the running kernel a module that is not
// one, through finit_module(2) (or init_module(2) on a kernel without
// it). The kernel must refuse it, and the error must name the file.
func TestLoadModuleFileReal(t *testing.T) {
	rel, err := kernelRelease()
	if err != nil {
		t.Fatal(err)
	}
	opts := ModuleOptions{Root: t.TempDir(), ProcModules: "/nonexistent"} // Release from uname
	dir := filepath.Join(opts.Root, "lib/modules", rel)
	if err := os.MkdirAll(filepath.Join(dir, "kernel"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "modules.dep"), []byte("kernel/notamodule.ko:\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "kernel/notamodule.ko"), []byte("not an ELF file"), 0o644); err != nil {
		t.Fatal(err)
	}
	log, _ := newLog(t)
	err = LoadModules(log, []string{"notamodule"}, opts)
	if err == nil {
		t.Fatal("the kernel loaded a module that is not one")
	}
	if !strings.Contains(err.Error(), filepath.Join(dir, "kernel/notamodule.ko")) {
		t.Errorf("error does not name the file: %v", err)
	}
	t.Logf("kernel said: %v", err)
}

func TestParseModulesDepErrors(t *testing.T) {
	for in, want := range map[string]string{
		"kernel/a.ko kernel/b.ko\n":   `modules.dep line 1: no ':' in "kernel/a.ko kernel/b.ko"`,
		"\n\nkernel/a.txt:\n":         `modules.dep line 3: "kernel/a.txt" is not a module file`,
		"kernel/a.ko: kernel/b.txt\n": `modules.dep line 1: dependency "kernel/b.txt" is not a module file`,
	} {
		_, err := ParseModulesDep(strings.NewReader(in))
		if err == nil || err.Error() != want {
			t.Errorf("ParseModulesDep(%q) = %v, want %q", in, err, want)
		}
	}
}

func TestModuleName(t *testing.T) {
	for in, want := range map[string]string{
		"kernel/drivers/net/wireguard/wireguard.ko": "wireguard",
		"libcurve25519-generic.ko.xz":               "libcurve25519_generic",
		"a-b.ko.zst":                                "a_b",
		"x.ko.gz":                                   "x",
		"nf-tables":                                 "nf_tables",
	} {
		if got := ModuleName(in); got != want {
			t.Errorf("ModuleName(%q) = %q, want %q", in, got, want)
		}
	}
}

func FuzzParseModulesDep(f *testing.F) {
	f.Add(modulesDep)
	f.Add("a.ko:\n")
	f.Add(":")
	f.Fuzz(func(t *testing.T, text string) {
		deps, err := ParseModulesDep(strings.NewReader(text))
		if err != nil {
			if !strings.HasPrefix(err.Error(), "modules.dep") {
				t.Errorf("error %q does not say it is about modules.dep", err)
			}
			return
		}
		for _, d := range deps {
			if d.Name == "" && ModuleName(d.Path) != "" || strings.ContainsAny(d.Path, "\n") {
				t.Errorf("bad entry %+v", d)
			}
		}
		// Whatever parses can be ordered without panicking.
		ix := &ModuleIndex{deps: map[string]ModuleDep{}, builtin: map[string]bool{}, loaded: map[string]bool{}}
		for _, d := range deps {
			ix.deps[d.Name] = d
		}
		for _, d := range deps {
			ix.Order(d.Name)
		}
	})
}
