package debs

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// The build fetches from whatever mirror the machine's apt already uses
// (a local proxy, a snapshot, a national mirror), so it works wherever apt
// works and no host name lives in this code. Sources reads the same files
// apt does, in both formats:
//
//	deb [arch=amd64 signed-by=/usr/share/keyrings/k.gpg] URI SUITE COMPONENT...   (sources.list, *.list)
//
//	Types: deb                                                                     (*.sources, deb822)
//	URIs: URI
//	Suites: bookworm bookworm-updates
//	Components: main non-free-firmware
//
// Only deb entries count (not deb-src), and stanzas with Enabled: no are
// left out. A mirror+file: URI is replaced by the URIs its list names.

// Mirror is one archive an apt source names.
type Mirror struct {
	URI           string   // base URI without a trailing slash
	Suites        []string // e.g. bookworm, bookworm-security; "./" for a flat repository
	Components    []string // e.g. main, non-free-firmware; none for a flat repository
	Architectures []string // from arch= or Architectures:; empty is apt's default
	From          string   // FILE:LINE that declared it
}

// Sources reads the apt sources under root ("/" for the running system):
// etc/apt/sources.list and etc/apt/sources.list.d/*.list and *.sources,
// in apt's order. Missing files are fine; a malformed entry is an error
// wrapping ErrSources and naming its file and line.
func Sources(root string) ([]Mirror, error) {
	etc := filepath.Join(root, "etc", "apt")
	var mirrors []Mirror
	ms, err := readSourcesFile(root, filepath.Join(etc, "sources.list"))
	if err != nil {
		return nil, err
	}
	mirrors = append(mirrors, ms...)
	entries, err := os.ReadDir(filepath.Join(etc, "sources.list.d"))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("debs: apt sources: %w", err)
	}
	for _, e := range entries { // ReadDir sorts by name, as apt does
		if e.IsDir() {
			continue
		}
		ms, err := readSourcesFile(root, filepath.Join(etc, "sources.list.d", e.Name()))
		if err != nil {
			return nil, err
		}
		mirrors = append(mirrors, ms...)
	}
	return mirrors, nil
}

// readSourcesFile reads one file by its extension; apt ignores files with
// any other (.save, .disabled, ...).
func readSourcesFile(root, path string) ([]Mirror, error) {
	var parse func(string, []byte) ([]Mirror, error)
	switch {
	case filepath.Base(path) == "sources.list", strings.HasSuffix(path, ".list"):
		parse = ParseSourcesList
	case strings.HasSuffix(path, ".sources"):
		parse = ParseDeb822Sources
	default:
		return nil, nil
	}
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("debs: apt sources: %w", err)
	}
	ms, err := parse(path, data)
	if err != nil {
		return nil, err
	}
	return expandMirrorLists(root, ms)
}

// ParseSourcesList parses the one-line format; file names the source in
// errors and in Mirror.From.
func ParseSourcesList(file string, data []byte) ([]Mirror, error) {
	var mirrors []Mirror
	for i, line := range strings.Split(string(data), "\n") {
		at := fmt.Sprintf("%s:%d", file, i+1)
		if c := strings.IndexByte(line, '#'); c >= 0 {
			line = line[:c]
		}
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		typ := strings.Fields(line)[0]
		rest := strings.TrimSpace(line[len(typ):])
		switch typ {
		case "deb", "deb-src":
		default:
			return nil, fmt.Errorf("debs: %s: %w: unknown type %q (want deb or deb-src)", at, ErrSources, typ)
		}
		m := Mirror{From: at}
		if strings.HasPrefix(rest, "[") {
			end := strings.IndexByte(rest, ']')
			if end < 0 {
				return nil, fmt.Errorf("debs: %s: %w: options not closed with ']'", at, ErrSources)
			}
			for _, opt := range strings.Fields(rest[1:end]) {
				key, val, ok := strings.Cut(opt, "=")
				if !ok || val == "" {
					return nil, fmt.Errorf("debs: %s: %w: option %q is not key=value", at, ErrSources, opt)
				}
				if key == "arch" {
					m.Architectures = strings.Split(val, ",")
				}
			}
			rest = rest[end+1:]
		}
		f := strings.Fields(rest)
		if len(f) < 2 {
			return nil, fmt.Errorf("debs: %s: %w: want URI and suite after %q", at, ErrSources, typ)
		}
		m.URI, m.Suites, m.Components = f[0], f[1:2], f[2:]
		if err := checkEntry(&m); err != nil {
			return nil, fmt.Errorf("debs: %s: %w: %v", at, ErrSources, err)
		}
		if typ == "deb" {
			mirrors = append(mirrors, m)
		}
	}
	return mirrors, nil
}

// ParseDeb822Sources parses the deb822 format (*.sources).
func ParseDeb822Sources(file string, data []byte) ([]Mirror, error) {
	stanzas, err := parseDeb822(file, data)
	if err != nil {
		return nil, err
	}
	var mirrors []Mirror
	for _, s := range stanzas {
		at := fmt.Sprintf("%s:%d", file, s.line)
		if strings.EqualFold(s.get("Enabled"), "no") {
			continue
		}
		types, uris, suites := strings.Fields(s.get("Types")), strings.Fields(s.get("URIs")), strings.Fields(s.get("Suites"))
		switch {
		case len(types) == 0:
			return nil, fmt.Errorf("debs: %s: %w: stanza has no Types", at, ErrSources)
		case len(uris) == 0:
			return nil, fmt.Errorf("debs: %s: %w: stanza has no URIs", at, ErrSources)
		case len(suites) == 0:
			return nil, fmt.Errorf("debs: %s: %w: stanza has no Suites", at, ErrSources)
		}
		for _, t := range types {
			if t != "deb" && t != "deb-src" {
				return nil, fmt.Errorf("debs: %s: %w: unknown type %q (want deb or deb-src)", at, ErrSources, t)
			}
		}
		for _, uri := range uris {
			m := Mirror{URI: uri, Suites: suites, Components: strings.Fields(s.get("Components")),
				Architectures: strings.Fields(s.get("Architectures")), From: at}
			if err := checkEntry(&m); err != nil {
				return nil, fmt.Errorf("debs: %s: %w: %v", at, ErrSources, err)
			}
			if slices.Contains(types, "deb") {
				mirrors = append(mirrors, m)
			}
		}
	}
	return mirrors, nil
}

// checkEntry applies apt's rules to one entry and trims the URI's
// trailing slash.
func checkEntry(m *Mirror) error {
	if !strings.Contains(m.URI, ":") {
		return fmt.Errorf("URI %q has no scheme", m.URI)
	}
	m.URI = strings.TrimRight(m.URI, "/")
	m.Components = nilIfEmpty(m.Components)
	m.Architectures = nilIfEmpty(m.Architectures)
	for _, s := range m.Suites {
		flat := strings.HasSuffix(s, "/")
		switch {
		case flat && len(m.Components) > 0:
			return fmt.Errorf("suite %q is a flat repository path, which takes no components", s)
		case !flat && len(m.Components) == 0:
			return fmt.Errorf("suite %q needs at least one component", s)
		}
	}
	return nil
}

// stanza is one deb822 paragraph: fields by lower-case name, and the line
// it started on.
type stanza struct {
	line   int
	fields map[string]string
}

func (s stanza) get(name string) string { return s.fields[strings.ToLower(name)] }

// parseDeb822 splits deb822 text into stanzas. Lines starting with '#'
// are comments; a line starting with a space or tab continues the field
// before it.
func parseDeb822(file string, data []byte) ([]stanza, error) {
	var (
		out  []stanza
		cur  *stanza
		last string
	)
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "#"):
			continue
		case strings.TrimSpace(line) == "":
			cur, last = nil, ""
			continue
		case line[0] == ' ' || line[0] == '\t':
			if cur == nil || last == "" {
				return nil, fmt.Errorf("debs: %s:%d: %w: continuation line outside a field", file, n, ErrSources)
			}
			cur.fields[last] += "\n" + strings.TrimSpace(line)
			continue
		}
		name, val, ok := strings.Cut(line, ":")
		name = strings.TrimSpace(name)
		if !ok || name == "" || strings.ContainsAny(name, " \t") {
			return nil, fmt.Errorf("debs: %s:%d: %w: %q is not a \"Field: value\" line", file, n, ErrSources, line)
		}
		if cur == nil {
			out = append(out, stanza{line: n, fields: map[string]string{}})
			cur = &out[len(out)-1]
		}
		last = strings.ToLower(name)
		if _, dup := cur.fields[last]; dup {
			return nil, fmt.Errorf("debs: %s:%d: %w: field %s given twice in one stanza", file, n, ErrSources, name)
		}
		cur.fields[last] = strings.TrimSpace(val)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("debs: %s: %w", file, err)
	}
	return out, nil
}

// expandMirrorLists replaces each mirror+file: URI with the URIs listed in
// that file (read under root), one per line, as apt's mirror method does.
func expandMirrorLists(root string, ms []Mirror) ([]Mirror, error) {
	var out []Mirror
	for _, m := range ms {
		list, ok := strings.CutPrefix(m.URI, "mirror+file:")
		if !ok {
			out = append(out, m)
			continue
		}
		list = "/" + strings.TrimLeft(list, "/")
		data, err := os.ReadFile(filepath.Join(root, list))
		if err != nil {
			return nil, fmt.Errorf("debs: %s: %w: mirror list: %v", m.From, ErrSources, err)
		}
		found := false
		for i, line := range strings.Split(string(data), "\n") {
			f := strings.Fields(line)
			if len(f) == 0 || strings.HasPrefix(f[0], "#") {
				continue
			}
			if !strings.Contains(f[0], "://") {
				return nil, fmt.Errorf("debs: %s:%d: %w: %q is not a URI", list, i+1, ErrSources, f[0])
			}
			mm := m
			mm.URI, mm.From, found = strings.TrimRight(f[0], "/"), fmt.Sprintf("%s:%d", list, i+1), true
			out = append(out, mm)
		}
		if !found {
			return nil, fmt.Errorf("debs: %s: %w: mirror list %s names no URI", m.From, ErrSources, list)
		}
	}
	return out, nil
}

// URIs lists the mirrors' base URIs, each once, in order, keeping those
// with a suite of the given release (bookworm, bookworm-updates,
// bookworm-security, bookworm/updates); release "" keeps all. Every
// Debian pool path is then tried against each in turn.
func URIs(ms []Mirror, release string) []string {
	var out []string
	for _, m := range ms {
		if release != "" && !slices.ContainsFunc(m.Suites, func(s string) bool {
			return s == release || strings.HasPrefix(s, release+"-") || strings.HasPrefix(s, release+"/")
		}) {
			continue
		}
		if !slices.Contains(out, m.URI) {
			out = append(out, m.URI)
		}
	}
	return out
}

func nilIfEmpty(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	return s
}
