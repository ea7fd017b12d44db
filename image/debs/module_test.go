package debs

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/goleudy/goleudy/init/boot"
)

// A modules.dep shaped like depmod's: full transitive lists, dependents
// before what they need, '-' in some file names.
const fixtureDep = `kernel/drivers/net/ethernet/realtek/r8169.ko: kernel/drivers/net/phy/mdio_devres.ko kernel/drivers/net/phy/libphy.ko
kernel/drivers/net/phy/mdio_devres.ko: kernel/drivers/net/phy/libphy.ko
kernel/drivers/net/phy/libphy.ko:
kernel/fs/ext4/ext4.ko: kernel/lib/crc16.ko kernel/fs/mbcache.ko kernel/fs/jbd2/jbd2.ko
kernel/lib/crc16.ko:
kernel/fs/mbcache.ko:
kernel/fs/jbd2/jbd2.ko:

kernel/drivers/usb/storage/usb-storage.ko: kernel/drivers/usb/core/usbcore.ko kernel/drivers/usb/common/usb-common.ko
kernel/drivers/usb/core/usbcore.ko: kernel/drivers/usb/common/usb-common.ko
kernel/drivers/usb/common/usb-common.ko:
kernel/drivers/net/usb/r8152.ko.xz: kernel/drivers/net/usb/usbnet.ko.xz kernel/drivers/usb/core/usbcore.ko
kernel/drivers/net/usb/usbnet.ko.xz:
`

const fixtureBuiltin = "kernel/drivers/char/tpm/tpm_tis.ko\nkernel/fs/fat/vfat.ko\n"

func TestModuleClosure(t *testing.T) {
	cases := []struct {
		roots []string
		want  []string
	}{
		{[]string{"r8169"}, []string{"kernel/drivers/net/ethernet/realtek/r8169.ko", "kernel/drivers/net/phy/libphy.ko", "kernel/drivers/net/phy/mdio_devres.ko"}},
		{[]string{"ext4", "r8169", "ext4"}, []string{"kernel/drivers/net/ethernet/realtek/r8169.ko", "kernel/drivers/net/phy/libphy.ko",
			"kernel/drivers/net/phy/mdio_devres.ko", "kernel/fs/ext4/ext4.ko", "kernel/fs/jbd2/jbd2.ko", "kernel/fs/mbcache.ko", "kernel/lib/crc16.ko"}},
		// '-' and '_' are the same; compressed modules count.
		{[]string{"usb_storage", "usb-common"}, []string{"kernel/drivers/usb/common/usb-common.ko", "kernel/drivers/usb/core/usbcore.ko", "kernel/drivers/usb/storage/usb-storage.ko"}},
		{[]string{"r8152"}, []string{"kernel/drivers/net/usb/r8152.ko.xz", "kernel/drivers/net/usb/usbnet.ko.xz", "kernel/drivers/usb/common/usb-common.ko", "kernel/drivers/usb/core/usbcore.ko"}},
		// Built-in modules need no file.
		{[]string{"tpm_tis", "vfat"}, nil},
		{nil, nil},
	}
	for _, c := range cases {
		got, err := ModuleClosure(strings.NewReader(fixtureDep), strings.NewReader(fixtureBuiltin), c.roots)
		if err != nil {
			t.Errorf("%v: %v", c.roots, err)
			continue
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("%v:\n got %v\nwant %v", c.roots, got, c.want)
		}
	}
}

// depmod may list only direct dependencies (as a hand-written or older
// file does); the closure still follows them all the way.
func TestModuleClosureFollowsDirectLists(t *testing.T) {
	dep := "a.ko: b.ko\nb.ko: c.ko\nc.ko:\n"
	got, err := ModuleClosure(strings.NewReader(dep), nil, []string{"a"})
	if err != nil || !slices.Equal(got, []string{"a.ko", "b.ko", "c.ko"}) {
		t.Errorf("%v %v", got, err)
	}
}

func TestModuleClosureErrors(t *testing.T) {
	_, err := ModuleClosure(strings.NewReader(fixtureDep), strings.NewReader(fixtureBuiltin), []string{"r8169", "nosuch", "e1000e"})
	if !errors.Is(err, ErrUnknownModule) || !strings.Contains(err.Error(), "nosuch, e1000e") {
		t.Errorf("unknown roots: %v, want ErrUnknownModule naming both", err)
	}
	cases := map[string]string{
		"a.ko: b.ko\n":            "lists b as a dependency of a but has no line for it",
		"a.ko b.ko\n":             "modules.dep line 1: no ':'",
		"a.txt:\n":                `modules.dep line 1: "a.txt" is not a module file`,
		"a.ko: b.txt\n":           `dependency "b.txt" is not a module file`,
		"x/a.ko:\ny/a.ko:\n":      "module a listed twice",
		"a.ko:\n\n.ko: a.ko\n":    `line 3: ".ko" is not a module file`,
		"a-b.ko:\nz/a_b.ko:\n":    "module a_b listed twice",
		"kernel/a.ko.bz2: b.ko\n": "not a module file",
	}
	for dep, want := range cases {
		_, err := ModuleClosure(strings.NewReader(dep), nil, []string{"a"})
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want %q", dep, err, want)
		}
	}
	_, err = ModuleClosure(strings.NewReader("a.ko:\n"), strings.NewReader("not-a-path\n"), nil)
	if err == nil || !strings.Contains(err.Error(), "modules.builtin line 1") {
		t.Errorf("bad builtin: %v", err)
	}
}

// The node loads modules with init/boot from the modules.dep the image
// carries. Both must agree on what a root needs.
func TestClosureAgreesWithTheNodeLoader(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "lib/modules/6.1.0-test")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "modules.dep"), []byte(fixtureDep), 0o644)
	os.WriteFile(filepath.Join(dir, "modules.builtin"), []byte(fixtureBuiltin), 0o644)
	ix, err := boot.OpenModuleIndex(boot.ModuleOptions{Root: filepath.Dir(filepath.Dir(filepath.Dir(dir))),
		Release: "6.1.0-test", ProcModules: filepath.Join(t.TempDir(), "none")})
	if err != nil {
		t.Fatal(err)
	}
	for _, root := range []string{"r8169", "ext4", "usb_storage", "r8152", "tpm_tis"} {
		order, err := ix.Order(root)
		if err != nil {
			t.Fatalf("%s: %v", root, err)
		}
		var loaded []string
		for _, d := range order {
			loaded = append(loaded, d.Path)
		}
		slices.Sort(loaded)
		ours, err := ModuleClosure(strings.NewReader(fixtureDep), strings.NewReader(fixtureBuiltin), []string{root})
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(loaded, ours) {
			t.Errorf("%s: the node loads %v, the image carries %v", root, loaded, ours)
		}
	}
}

func TestModuleName(t *testing.T) {
	for in, want := range map[string]string{"kernel/a/usb-storage.ko": "usb_storage", "x.ko.xz": "x", "y-z.ko.zst": "y_z",
		"e1000e.ko.gz": "e1000e", "ext4": "ext4", "nls-cp437": "nls_cp437"} {
		if got := ModuleName(in); got != want {
			t.Errorf("ModuleName(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestParseModinfo(t *testing.T) {
	info := []byte("license=GPL\x00\x00\x00depends=mdio_devres,libphy,,\x00firmware=rtl_nic/rtl8168d-1.fw\x00" +
		"firmware=rtl_nic/rtl8168d-2.fw\x00name=r8169\x00vermagic=6.1.0 SMP\x00alias=pci:v000010ECd00008168sv*\x00")
	m, err := parseModinfo(info)
	if err != nil {
		t.Fatal(err)
	}
	if m.Name != "r8169" || !slices.Equal(m.Depends, []string{"libphy", "mdio_devres"}) ||
		!slices.Equal(m.Firmware, []string{"rtl_nic/rtl8168d-1.fw", "rtl_nic/rtl8168d-2.fw"}) {
		t.Errorf("%+v", m)
	}
	for _, bad := range []string{"noequals\x00", "=x\x00", "name=\x00", "name=a/b\x00", "firmware=/abs\x00", "firmware=../up\x00"} {
		if _, err := parseModinfo([]byte(bad)); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}

func TestReadModuleRefusesNonELF(t *testing.T) {
	for name, data := range map[string][]byte{"a.ko": []byte("not elf"), "a.ko.xz": []byte("not xz"), "a.txt": nil} {
		if _, err := ReadModule(name, data); err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestModulesDepOrder(t *testing.T) {
	k := &Kernel{Modules: map[string]Module{
		"a": {Name: "a", Path: "k/a.ko", Depends: []string{"b", "c"}},
		"b": {Name: "b", Path: "k/b.ko", Depends: []string{"c", "d"}},
		"c": {Name: "c", Path: "k/c.ko", Depends: []string{"d"}},
		"d": {Name: "d", Path: "k/d.ko"},
		"e": {Name: "e", Path: "j/e.ko", Depends: []string{"a"}},
	}}
	want := "j/e.ko: k/a.ko k/b.ko k/c.ko k/d.ko\nk/a.ko: k/b.ko k/c.ko k/d.ko\nk/b.ko: k/c.ko k/d.ko\nk/c.ko: k/d.ko\nk/d.ko:\n"
	if got := string(k.ModulesDep()); got != want {
		t.Errorf("modules.dep:\n%s\nwant\n%s", got, want)
	}
	checkDepOrder(t, k.ModulesDep())

	sub, err := k.Subset([]Module{k.Modules["c"], k.Modules["d"]})
	if err != nil || string(sub.ModulesDep()) != "k/c.ko: k/d.ko\nk/d.ko:\n" {
		t.Errorf("subset: %q %v", sub.ModulesDep(), err)
	}
	if _, err := k.Subset([]Module{k.Modules["b"]}); err == nil || !strings.Contains(err.Error(), "b needs c") {
		t.Errorf("open subset: %v", err)
	}
	if _, err := k.Subset([]Module{{Name: "zz"}}); err == nil {
		t.Error("subset with a stranger")
	}
}

// checkDepOrder checks that on every line of a modules.dep, no module is
// listed before a module it needs, so loading from the end works.
func checkDepOrder(t *testing.T, dep []byte) {
	t.Helper()
	entries, err := parseModulesDep(bytes.NewReader(dep))
	if err != nil {
		t.Fatal(err)
	}
	for name, e := range entries {
		pos := map[string]int{}
		for i, d := range e.deps {
			pos[ModuleName(d)] = i
		}
		for _, d := range e.deps {
			for _, dd := range entries[ModuleName(d)].deps {
				if pos[ModuleName(dd)] < pos[ModuleName(d)] {
					t.Errorf("%s: %s is listed before %s, which needs it", name, dd, d)
				}
			}
		}
	}
}

func FuzzModulesDep(f *testing.F) {
	f.Add([]byte(fixtureDep), []byte(fixtureBuiltin), "r8169,ext4")
	f.Add([]byte("a.ko: b.ko\nb.ko: a.ko\n"), []byte(""), "a")
	f.Fuzz(func(t *testing.T, dep, builtin []byte, roots string) {
		paths, err := ModuleClosure(bytes.NewReader(dep), bytes.NewReader(builtin), strings.Split(roots, ","))
		if err != nil {
			return
		}
		if !slices.IsSorted(paths) || len(slices.Compact(slices.Clone(paths))) != len(paths) {
			t.Fatalf("closure not sorted and unique: %v", paths)
		}
		for _, p := range paths {
			if !isModulePath(p) {
				t.Fatalf("closure holds %q", p)
			}
		}
	})
}

func FuzzParseModinfo(f *testing.F) {
	f.Add([]byte("name=r8169\x00depends=libphy\x00firmware=rtl_nic/x.fw\x00"))
	f.Add([]byte("\x00\x00="))
	f.Fuzz(func(t *testing.T, info []byte) {
		m, err := parseModinfo(info)
		if err != nil {
			return
		}
		for _, fw := range m.Firmware {
			if strings.HasPrefix(fw, "/") || slices.Contains(strings.Split(fw, "/"), "..") {
				t.Fatalf("firmware path %q escapes lib/firmware", fw)
			}
		}
		if strings.ContainsAny(m.Name, "/-") {
			t.Fatalf("name %q", m.Name)
		}
	})
}
