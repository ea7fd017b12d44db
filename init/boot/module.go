package boot

import (
	"bufio"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// Modules are loaded here rather than with u-root's pkg/kmodule: its gzip
// support imports github.com/klauspost/pgzip, which this module does not
// require, and its prober loads dependencies in parallel goroutines, which
// makes a failure harder to read on a console. The rules are the same as modprobe's: a module's
// dependencies from modules.dep load first, a module in modules.builtin
// needs nothing, and one listed in /proc/modules is left alone.

// ErrUnknownModule is a module name that is neither in modules.dep nor
// built into the kernel.
var ErrUnknownModule = errors.New("unknown module")

// ModuleOptions say where the modules tree is and how to load one module.
// The zero value is right for a node.
type ModuleOptions struct {
	Root        string                  // holds lib/modules/RELEASE; "" is "/"
	Release     string                  // kernel release; "" is uname -r
	ProcModules string                  // loaded modules; "" is /proc/modules
	Load        func(path string) error // nil is finit_module(2) on the file
}

// ModuleDep is one line of modules.dep: a module and, by path, every
// module it needs, in the order depmod wrote them.
type ModuleDep struct {
	Name string // normalized: e1000e, nf_tables
	Path string // as written, relative to the modules directory
	Deps []string
}

// ModuleName is the name the kernel knows a module file by: the base name
// without .ko and any compression suffix, with '-' as '_'.
func ModuleName(path string) string {
	n := filepath.Base(path)
	for _, ext := range []string{".gz", ".xz", ".zst"} {
		n = strings.TrimSuffix(n, ext)
	}
	n = strings.TrimSuffix(n, ".ko")
	return strings.ReplaceAll(n, "-", "_")
}

// ParseModulesDep parses modules.dep as depmod writes it:
// "kernel/a.ko: kernel/b.ko kernel/c.ko". Blank lines are skipped.
func ParseModulesDep(r io.Reader) ([]ModuleDep, error) {
	var deps []ModuleDep
	sc := bufio.NewScanner(r)
	sc.Buffer(nil, 1<<20)
	for line := 1; sc.Scan(); line++ {
		text := strings.TrimSpace(sc.Text())
		if text == "" {
			continue
		}
		path, rest, ok := strings.Cut(text, ":")
		path = strings.TrimSpace(path)
		if !ok {
			return nil, fmt.Errorf("modules.dep line %d: no ':' in %q", line, text)
		}
		if !strings.Contains(filepath.Base(path), ".ko") {
			return nil, fmt.Errorf("modules.dep line %d: %q is not a module file", line, path)
		}
		d := ModuleDep{Name: ModuleName(path), Path: path, Deps: strings.Fields(rest)}
		for _, p := range d.Deps {
			if !strings.Contains(filepath.Base(p), ".ko") {
				return nil, fmt.Errorf("modules.dep line %d: dependency %q is not a module file", line, p)
			}
		}
		deps = append(deps, d)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("modules.dep: %w", err)
	}
	return deps, nil
}

// ModuleIndex is what the kernel and depmod say about modules: where each
// is and what it needs, which are built in, and which are loaded.
type ModuleIndex struct {
	Dir     string // the modules directory, lib/modules/RELEASE
	deps    map[string]ModuleDep
	builtin map[string]bool
	loaded  map[string]bool
}

// OpenModuleIndex reads modules.dep, modules.builtin (if present) and the
// list of loaded modules (if present).
func OpenModuleIndex(opts ModuleOptions) (*ModuleIndex, error) {
	rel := opts.Release
	if rel == "" {
		var err error
		if rel, err = kernelRelease(); err != nil {
			return nil, fmt.Errorf("boot: modules: %w", err)
		}
	}
	root := opts.Root
	if root == "" {
		root = "/"
	}
	ix := &ModuleIndex{Dir: filepath.Join(root, "lib/modules", rel),
		deps: map[string]ModuleDep{}, builtin: map[string]bool{}, loaded: map[string]bool{}}
	f, err := os.Open(filepath.Join(ix.Dir, "modules.dep"))
	if err != nil {
		return nil, fmt.Errorf("boot: modules: %w", err)
	}
	defer f.Close()
	list, err := ParseModulesDep(f)
	if err != nil {
		return nil, fmt.Errorf("boot: modules: %s: %w", f.Name(), err)
	}
	for _, d := range list {
		ix.deps[d.Name] = d
	}
	if b, err := os.ReadFile(filepath.Join(ix.Dir, "modules.builtin")); err == nil {
		for _, p := range strings.Fields(string(b)) {
			ix.builtin[ModuleName(p)] = true
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("boot: modules: %w", err)
	}
	proc := opts.ProcModules
	if proc == "" {
		proc = "/proc/modules"
	}
	if b, err := os.ReadFile(proc); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if f := strings.Fields(line); len(f) > 0 {
				ix.loaded[ModuleName(f[0])] = true
			}
		}
	}
	return ix, nil
}

// Builtin reports whether the module is built into the kernel.
func (ix *ModuleIndex) Builtin(name string) bool { return ix.builtin[ModuleName(name)] }

// Known reports whether modules.dep lists the module.
func (ix *ModuleIndex) Known(name string) bool {
	_, ok := ix.deps[ModuleName(name)]
	return ok
}

// Loaded reports whether the module was loaded when the index was read,
// or has been loaded through it since.
func (ix *ModuleIndex) Loaded(name string) bool { return ix.loaded[ModuleName(name)] }

// Order returns the modules to load, dependencies first, for name to be
// usable. Modules already loaded or built in are left out.
func (ix *ModuleIndex) Order(name string) ([]ModuleDep, error) {
	name = ModuleName(name)
	if ix.builtin[name] || ix.loaded[name] {
		return nil, nil
	}
	if _, ok := ix.deps[name]; !ok {
		return nil, fmt.Errorf("%w %q", ErrUnknownModule, name)
	}
	var order []ModuleDep
	state := map[string]int{} // 1: visiting, 2: done
	var visit func(n string, chain []string) error
	visit = func(n string, chain []string) error {
		switch state[n] {
		case 1:
			return fmt.Errorf("module dependency cycle: %s", strings.Join(append(chain, n), " -> "))
		case 2:
			return nil
		}
		if ix.builtin[n] || ix.loaded[n] {
			state[n] = 2
			return nil
		}
		d, ok := ix.deps[n]
		if !ok {
			return fmt.Errorf("%w %q, needed by %s", ErrUnknownModule, n, chain[len(chain)-1])
		}
		state[n] = 1
		// modprobe loads the last-listed dependency first.
		for i := len(d.Deps) - 1; i >= 0; i-- {
			if err := visit(ModuleName(d.Deps[i]), append(chain, n)); err != nil {
				return err
			}
		}
		state[n] = 2
		order = append(order, d)
		return nil
	}
	if err := visit(name, nil); err != nil {
		return nil, err
	}
	return order, nil
}

// LoadModules loads each named module with its dependencies. Names the
// kernel has built in or already loaded are fine; an unknown name is
// logged and skipped, since a board's list may name a module that a newer
// kernel builds in. The returned error joins every module that failed to
// load; the caller decides whether the node can go on without it.
func LoadModules(log *slog.Logger, names []string, opts ModuleOptions) error {
	if len(names) == 0 {
		return nil
	}
	ix, err := OpenModuleIndex(opts)
	if err != nil {
		return err
	}
	load := opts.Load
	if load == nil {
		load = loadModuleFile
	}
	var errs []error
	for _, name := range names {
		switch {
		case ix.Builtin(name):
			log.Debug("module built in", "module", name)
			continue
		case ix.Loaded(name):
			log.Debug("module already loaded", "module", name)
			continue
		}
		if !ix.Known(name) {
			log.Warn("unknown module; skipped", "module", name, "dir", ix.Dir)
			continue
		}
		order, err := ix.Order(name)
		if err != nil {
			errs = append(errs, fmt.Errorf("boot: module %s: %w", name, err))
			log.Error("module not loaded", "module", name, "err", err)
			continue
		}
		for _, d := range order {
			path := filepath.Join(ix.Dir, d.Path)
			err := load(path)
			if errors.Is(err, syscall.EEXIST) {
				err = nil
			}
			if err != nil {
				errs = append(errs, fmt.Errorf("boot: load module %s (for %s): %w", path, name, err))
				log.Error("module not loaded", "module", d.Name, "for", name, "path", path, "err", err)
				break
			}
			ix.loaded[d.Name] = true
			log.Info("module loaded", "module", d.Name, "path", path)
		}
	}
	return errors.Join(errs...)
}

// loadModuleFile loads one module file into the running kernel.
func loadModuleFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	compressed := filepath.Ext(path) != ".ko"
	err = finitModule(f, compressed)
	switch {
	case errors.Is(err, syscall.ENOSYS) && !compressed:
		// No finit_module(2): hand the kernel the bytes instead.
		img, rerr := io.ReadAll(f)
		if rerr != nil {
			return rerr
		}
		err = initModule(img)
	case errors.Is(err, syscall.EINVAL) && filepath.Ext(path) == ".gz":
		// The kernel cannot decompress modules itself; gzip we can.
		if _, serr := f.Seek(0, io.SeekStart); serr != nil {
			return serr
		}
		zr, gerr := gzip.NewReader(f)
		if gerr != nil {
			return gerr
		}
		img, rerr := io.ReadAll(zr)
		if rerr != nil {
			return rerr
		}
		err = initModule(img)
	}
	if err != nil {
		return fmt.Errorf("finit_module: %w", err)
	}
	return nil
}
