package debs

import (
	"bytes"
	"compress/gzip"
	"debug/elf"
	"fmt"
	"io"
	"path"
	"slices"
	"strings"

	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"
)

// Debian's kernel packages ship the modules, modules.builtin and
// modules.order but not modules.dep: their postinst runs depmod on the
// installed system. The image has no postinst, so the dependencies are read
// from each module's own .modinfo section, where modpost recorded them
// ("depends=") from the same symbol resolution depmod repeats.

// Module is what a module file says about itself.
type Module struct {
	Name     string   // as the kernel knows it: e1000e, nf_tables
	Path     string   // relative to lib/modules/RELEASE
	Depends  []string // names of the modules it needs directly
	Firmware []string // files it may request, relative to lib/firmware
}

// Kernel is the module tree of a kernel package.
type Kernel struct {
	Release string
	Modules map[string]Module // by name
	Builtin []byte            // modules.builtin as the package ships it
}

// ReadKernel reads every module of the release in an unpacked kernel
// package.
func ReadKernel(t *Tree, release string) (*Kernel, error) {
	dir := path.Join("lib/modules", release)
	files, err := t.Files(dir)
	if err != nil {
		return nil, fmt.Errorf("debs: kernel %s: %w", release, err)
	}
	k := &Kernel{Release: release, Modules: map[string]Module{}}
	if k.Builtin, err = t.ReadFile(dir + "/modules.builtin"); err != nil {
		return nil, fmt.Errorf("debs: kernel %s: %w", release, err)
	}
	for _, e := range files {
		if !isModulePath(e.Name) {
			continue
		}
		data, err := t.ReadFile(e.Name)
		if err != nil {
			return nil, fmt.Errorf("debs: kernel %s: %w", release, err)
		}
		rel := strings.TrimPrefix(e.Name, dir+"/")
		m, err := ReadModule(rel, data)
		if err != nil {
			return nil, fmt.Errorf("debs: kernel %s: %w", release, err)
		}
		if prev, dup := k.Modules[m.Name]; dup {
			return nil, fmt.Errorf("debs: kernel %s: module %s is both %s and %s", release, m.Name, prev.Path, m.Path)
		}
		k.Modules[m.Name] = m
	}
	for _, m := range k.Modules {
		for _, d := range m.Depends {
			if _, ok := k.Modules[d]; !ok {
				return nil, fmt.Errorf("debs: kernel %s: %s depends on %s, which the package does not hold", release, m.Name, d)
			}
		}
	}
	return k, nil
}

// ReadModule reads a module file's .modinfo section; rel is its path
// below lib/modules/RELEASE. Compressed modules (.ko.xz, .ko.zst, .ko.gz)
// are decompressed first.
func ReadModule(rel string, data []byte) (Module, error) {
	raw, err := decompressModule(rel, data)
	if err != nil {
		return Module{}, fmt.Errorf("module %s: %w", rel, err)
	}
	f, err := elf.NewFile(bytes.NewReader(raw))
	if err != nil {
		return Module{}, fmt.Errorf("module %s: %w", rel, err)
	}
	defer f.Close()
	sec := f.Section(".modinfo")
	if sec == nil {
		return Module{}, fmt.Errorf("module %s: no .modinfo section", rel)
	}
	info, err := sec.Data()
	if err != nil {
		return Module{}, fmt.Errorf("module %s: .modinfo: %w", rel, err)
	}
	m, err := parseModinfo(info)
	if err != nil {
		return Module{}, fmt.Errorf("module %s: %w", rel, err)
	}
	m.Path = rel
	if m.Name == "" {
		m.Name = ModuleName(rel)
	}
	return m, nil
}

// parseModinfo reads the NUL-separated key=value strings of a .modinfo
// section: name, depends (comma-separated) and firmware (one per key).
func parseModinfo(info []byte) (Module, error) {
	var m Module
	for _, field := range bytes.Split(info, []byte{0}) {
		if len(field) == 0 {
			continue // alignment padding between strings
		}
		key, val, ok := strings.Cut(string(field), "=")
		if !ok || key == "" {
			return Module{}, fmt.Errorf(".modinfo: %q is not key=value", field)
		}
		switch key {
		case "name":
			if val == "" || strings.ContainsAny(val, "/ ,") {
				return Module{}, fmt.Errorf(".modinfo: bad name %q", val)
			}
			m.Name = strings.ReplaceAll(val, "-", "_")
		case "depends":
			for _, d := range strings.Split(val, ",") {
				if d = strings.TrimSpace(d); d != "" {
					m.Depends = append(m.Depends, strings.ReplaceAll(d, "-", "_"))
				}
			}
		case "firmware":
			if val == "" || strings.HasPrefix(val, "/") || slices.Contains(strings.Split(val, "/"), "..") {
				return Module{}, fmt.Errorf(".modinfo: bad firmware path %q", val)
			}
			m.Firmware = append(m.Firmware, val)
		}
	}
	slices.Sort(m.Depends)
	m.Depends = slices.Compact(m.Depends)
	return m, nil
}

// maxModuleSize bounds a decompressed module.
const maxModuleSize = 256 << 20

// decompressModule undoes a module file's compression, if any.
func decompressModule(rel string, data []byte) ([]byte, error) {
	var (
		r   io.Reader
		err error
	)
	switch {
	case strings.HasSuffix(rel, ".ko"):
		return data, nil
	case strings.HasSuffix(rel, ".ko.gz"):
		r, err = gzip.NewReader(bytes.NewReader(data))
	case strings.HasSuffix(rel, ".ko.xz"):
		r, err = xz.NewReader(bytes.NewReader(data))
	case strings.HasSuffix(rel, ".ko.zst"):
		var z *zstd.Decoder
		if z, err = zstd.NewReader(nil, zstd.WithDecoderConcurrency(1)); err != nil {
			return nil, err
		}
		defer z.Close()
		return z.DecodeAll(data, nil)
	default:
		return nil, fmt.Errorf("not a module file name")
	}
	if err != nil {
		return nil, err
	}
	out, err := io.ReadAll(io.LimitReader(r, maxModuleSize+1))
	if err != nil {
		return nil, err
	}
	if len(out) > maxModuleSize {
		return nil, fmt.Errorf("larger than %d bytes decompressed", maxModuleSize)
	}
	return out, nil
}

// ModulesDep writes modules.dep as depmod does: one line per module, in
// path order, listing every module it needs directly or indirectly, each
// listed before the modules it needs itself, so a loader that loads from
// the end of the line loads dependencies first.
func (k *Kernel) ModulesDep() []byte {
	names := make([]string, 0, len(k.Modules))
	for n := range k.Modules {
		names = append(names, n)
	}
	slices.SortFunc(names, func(a, b string) int { return strings.Compare(k.Modules[a].Path, k.Modules[b].Path) })
	var buf bytes.Buffer
	for _, n := range names {
		buf.WriteString(k.Modules[n].Path)
		buf.WriteByte(':')
		for _, d := range k.dependencies(n) {
			buf.WriteByte(' ')
			buf.WriteString(k.Modules[d].Path)
		}
		buf.WriteByte('\n')
	}
	return buf.Bytes()
}

// dependencies returns everything name needs, dependents before their
// own dependencies: the reverse of a depth-first post-order, which a
// dependency cycle (the kernel refuses to build one) cannot break.
func (k *Kernel) dependencies(name string) []string {
	seen := map[string]bool{name: true}
	var post []string
	var visit func(string)
	visit = func(n string) {
		for _, d := range k.Modules[n].Depends {
			if !seen[d] {
				seen[d] = true
				visit(d)
				post = append(post, d)
			}
		}
	}
	visit(name)
	slices.Reverse(post)
	return post
}

// Closure returns the modules the roots need, as ModuleClosure does, but
// as Modules so their firmware can be checked.
func (k *Kernel) Closure(roots []string) ([]Module, error) {
	paths, err := ModuleClosure(bytes.NewReader(k.ModulesDep()), bytes.NewReader(k.Builtin), roots)
	if err != nil {
		return nil, err
	}
	byPath := make(map[string]Module, len(k.Modules))
	for _, m := range k.Modules {
		byPath[m.Path] = m
	}
	out := make([]Module, len(paths))
	for i, p := range paths {
		out[i] = byPath[p]
	}
	return out, nil
}

// Subset is the kernel with only the given modules, for an initramfs that
// carries a closure and whose modules.dep should list only what it holds.
// The set must be closed: a module whose dependency is left out is an
// error.
func (k *Kernel) Subset(mods []Module) (*Kernel, error) {
	sub := &Kernel{Release: k.Release, Builtin: k.Builtin, Modules: make(map[string]Module, len(mods))}
	for _, m := range mods {
		if _, ok := k.Modules[m.Name]; !ok {
			return nil, fmt.Errorf("debs: kernel %s has no module %s", k.Release, m.Name)
		}
		sub.Modules[m.Name] = k.Modules[m.Name]
	}
	for _, m := range sub.Modules {
		for _, d := range m.Depends {
			if _, ok := sub.Modules[d]; !ok {
				return nil, fmt.Errorf("debs: module subset is not closed: %s needs %s", m.Name, d)
			}
		}
	}
	return sub, nil
}
