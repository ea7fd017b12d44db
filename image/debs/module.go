package debs

import (
	"bufio"
	"fmt"
	"io"
	"path"
	"slices"
	"strings"
)

// The node loads its board's modules with init/boot, which reads
// modules.dep and modules.builtin from the initramfs exactly as modprobe
// would. The image must therefore carry every module a root module needs,
// and nothing tells it which those are but modules.dep. The names follow
// the kernel's rule, in which '-' and '_' are the same.

// ModuleName is the name the kernel knows a module file by: the base
// name without .ko and any compression suffix, with '-' as '_'.
func ModuleName(p string) string {
	n := path.Base(p)
	for _, ext := range []string{".gz", ".xz", ".zst"} {
		n = strings.TrimSuffix(n, ext)
	}
	n = strings.TrimSuffix(n, ".ko")
	return strings.ReplaceAll(n, "-", "_")
}

// isModulePath reports whether p names a module file.
func isModulePath(p string) bool {
	b := path.Base(p)
	for _, ext := range []string{"", ".gz", ".xz", ".zst"} {
		if strings.HasSuffix(b, ".ko"+ext) && len(b) > len(".ko"+ext) {
			return true
		}
	}
	return false
}

// depEntry is one line of modules.dep.
type depEntry struct {
	path string
	deps []string // paths
}

// parseModulesDep reads modules.dep ("kernel/a.ko: kernel/b.ko ...") into
// entries by module name. Blank lines are skipped; anything else that is
// not a module line is an error naming its line.
func parseModulesDep(r io.Reader) (map[string]depEntry, error) {
	out := map[string]depEntry{}
	sc := bufio.NewScanner(r)
	sc.Buffer(nil, 1<<20)
	for n := 1; sc.Scan(); n++ {
		text := strings.TrimSpace(sc.Text())
		if text == "" {
			continue
		}
		p, rest, ok := strings.Cut(text, ":")
		p = strings.TrimSpace(p)
		if !ok {
			return nil, fmt.Errorf("modules.dep line %d: no ':' in %q", n, text)
		}
		if !isModulePath(p) {
			return nil, fmt.Errorf("modules.dep line %d: %q is not a module file", n, p)
		}
		e := depEntry{path: p, deps: strings.Fields(rest)}
		for _, d := range e.deps {
			if !isModulePath(d) {
				return nil, fmt.Errorf("modules.dep line %d: dependency %q is not a module file", n, d)
			}
		}
		name := ModuleName(p)
		if prev, dup := out[name]; dup {
			return nil, fmt.Errorf("modules.dep line %d: module %s listed twice (%s and %s)", n, name, prev.path, p)
		}
		out[name] = e
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("modules.dep: %w", err)
	}
	return out, nil
}

// parseModulesBuiltin reads modules.builtin, one module path a line, into
// a set of names.
func parseModulesBuiltin(r io.Reader) (map[string]bool, error) {
	out := map[string]bool{}
	if r == nil {
		return out, nil
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(nil, 1<<20)
	for n := 1; sc.Scan(); n++ {
		p := strings.TrimSpace(sc.Text())
		if p == "" {
			continue
		}
		if !isModulePath(p) {
			return nil, fmt.Errorf("modules.builtin line %d: %q is not a module path", n, p)
		}
		out[ModuleName(p)] = true
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("modules.builtin: %w", err)
	}
	return out, nil
}

// ModuleClosure returns the module files (paths as modules.dep gives
// them, relative to lib/modules/RELEASE) that the root modules need: each
// root and, recursively, everything modules.dep says it depends on,
// sorted and each once. A root the kernel builds in (modules.builtin; the
// reader may be nil) needs no file. Roots that are neither are an error
// wrapping ErrUnknownModule that names them all.
func ModuleClosure(modulesDep, modulesBuiltin io.Reader, roots []string) ([]string, error) {
	deps, err := parseModulesDep(modulesDep)
	if err != nil {
		return nil, fmt.Errorf("debs: module closure: %w", err)
	}
	builtin, err := parseModulesBuiltin(modulesBuiltin)
	if err != nil {
		return nil, fmt.Errorf("debs: module closure: %w", err)
	}
	seen := map[string]bool{}
	var (
		paths   []string
		unknown []string
	)
	var visit func(name, from string) error
	visit = func(name, from string) error {
		if seen[name] {
			return nil
		}
		seen[name] = true
		e, ok := deps[name]
		if !ok {
			return fmt.Errorf("debs: module closure: modules.dep lists %s as a dependency of %s but has no line for it", name, from)
		}
		paths = append(paths, e.path)
		for _, d := range e.deps {
			if err := visit(ModuleName(d), name); err != nil {
				return err
			}
		}
		return nil
	}
	for _, r := range roots {
		name := ModuleName(r)
		switch _, known := deps[name]; {
		case known:
			if err := visit(name, ""); err != nil {
				return nil, err
			}
		case builtin[name]:
		default:
			unknown = append(unknown, r)
		}
	}
	if len(unknown) > 0 {
		return nil, fmt.Errorf("debs: module closure: %w: %s (neither in modules.dep nor built in)", ErrUnknownModule, strings.Join(unknown, ", "))
	}
	slices.Sort(paths)
	return paths, nil
}
