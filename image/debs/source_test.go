package debs

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

func TestParseSourcesList(t *testing.T) {
	cases := []struct {
		name, text string
		want       []Mirror
	}{
		{"plain", "deb http://mirror.example/debian bookworm main non-free-firmware\n",
			[]Mirror{{URI: "http://mirror.example/debian", Suites: []string{"bookworm"}, Components: []string{"main", "non-free-firmware"}, From: "s.list:1"}}},
		{"options and comments", "# the mirror\n\n  deb [arch=amd64,i386 signed-by=/usr/share/keyrings/k.gpg] https://m.example/debian/ bookworm-updates main # trailing\n",
			[]Mirror{{URI: "https://m.example/debian", Suites: []string{"bookworm-updates"}, Components: []string{"main"}, Architectures: []string{"amd64", "i386"}, From: "s.list:3"}}},
		{"deb-src left out", "deb-src http://m.example/debian bookworm main\ndeb\thttp://m.example/debian\tbookworm\tmain\n",
			[]Mirror{{URI: "http://m.example/debian", Suites: []string{"bookworm"}, Components: []string{"main"}, From: "s.list:2"}}},
		{"flat repository", "deb [trusted=yes] file:/srv/repo ./\n",
			[]Mirror{{URI: "file:/srv/repo", Suites: []string{"./"}, From: "s.list:1"}}},
		{"empty", "# nothing\n", nil},
	}
	for _, c := range cases {
		got, err := ParseSourcesList("s.list", []byte(c.text))
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s:\n got %+v\nwant %+v", c.name, got, c.want)
		}
	}
}

func TestParseSourcesListErrors(t *testing.T) {
	cases := map[string]string{
		"rpm http://m.example/x bookworm main":                      `s.list:2: bad apt sources: unknown type "rpm"`,
		"deb http://m.example/debian":                               "s.list:2: bad apt sources: want URI and suite",
		"deb [arch=amd64 http://m.example/debian bookworm main":     "s.list:2: bad apt sources: options not closed",
		"deb [arch] http://m.example/debian bookworm main":          `s.list:2: bad apt sources: option "arch" is not key=value`,
		"deb http://m.example/debian bookworm":                      `s.list:2: bad apt sources: suite "bookworm" needs at least one component`,
		"deb http://m.example/debian ./ main":                       `s.list:2: bad apt sources: suite "./" is a flat repository path`,
		"deb m.example/debian bookworm main":                        `s.list:2: bad apt sources: URI "m.example/debian" has no scheme`,
		"deb [ arch=amd64 ] http://m.example/debian bookworm main ": "",
	}
	for line, want := range cases {
		_, err := ParseSourcesList("s.list", []byte("# first line\n"+line+"\n"))
		switch {
		case want == "" && err != nil:
			t.Errorf("%q: %v", line, err)
		case want != "" && (err == nil || !strings.Contains(err.Error(), want) || !errors.Is(err, ErrSources)):
			t.Errorf("%q: %v, want %q", line, err, want)
		}
	}
}

const deb822 = `# Debian's own, as the installer writes it
Types: deb deb-src
URIs: http://mirror.example/debian http://backup.example/debian/
Suites: bookworm bookworm-updates
Components: main non-free-firmware
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://mirror.example/debian-security
Suites: bookworm-security
components: main
Architectures: amd64
 arm64
Signed-By:
 -----BEGIN PGP PUBLIC KEY BLOCK-----
 .
 mDMEZbase64==
 -----END PGP PUBLIC KEY BLOCK-----

Enabled: no
Types: deb
URIs: http://off.example/debian
Suites: bookworm
Components: main

Types: deb-src
URIs: http://src.example/debian
Suites: bookworm
Components: main
`

func TestParseDeb822Sources(t *testing.T) {
	got, err := ParseDeb822Sources("d.sources", []byte(deb822))
	if err != nil {
		t.Fatal(err)
	}
	main := []string{"main", "non-free-firmware"}
	want := []Mirror{
		{URI: "http://mirror.example/debian", Suites: []string{"bookworm", "bookworm-updates"}, Components: main, From: "d.sources:2"},
		{URI: "http://backup.example/debian", Suites: []string{"bookworm", "bookworm-updates"}, Components: main, From: "d.sources:2"},
		{URI: "http://mirror.example/debian-security", Suites: []string{"bookworm-security"}, Components: []string{"main"},
			Architectures: []string{"amd64", "arm64"}, From: "d.sources:8"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("\n got %+v\nwant %+v", got, want)
	}
}

func TestParseDeb822SourcesErrors(t *testing.T) {
	cases := map[string]string{
		"URIs: http://m.example/debian\nSuites: bookworm\nComponents: main\n":                "x.sources:1: bad apt sources: stanza has no Types",
		"Types: deb\nSuites: bookworm\nComponents: main\n":                                   "x.sources:1: bad apt sources: stanza has no URIs",
		"Types: deb\nURIs: http://m.example/debian\nComponents: main\n":                      "x.sources:1: bad apt sources: stanza has no Suites",
		"Types: rpm\nURIs: http://m.example/debian\nSuites: bookworm\nComponents: main\n":    `x.sources:1: bad apt sources: unknown type "rpm"`,
		"Types: deb\nURIs: http://m.example/debian\nSuites: bookworm\n":                      `x.sources:1: bad apt sources: suite "bookworm" needs at least one component`,
		" continued\nTypes: deb\n":                                                           "x.sources:1: bad apt sources: continuation line outside a field",
		"Types: deb\nthis is not a field\n":                                                  `x.sources:2: bad apt sources: "this is not a field" is not a "Field: value" line`,
		"Types: deb\nTypes: deb\n":                                                           "x.sources:2: bad apt sources: field Types given twice",
		"\n\nTypes: deb\nURIs: nohost\nSuites: bookworm\nComponents: main\n":                 `x.sources:3: bad apt sources: URI "nohost" has no scheme`,
		"Types: deb\nURIs: http://m.example/debian\nSuites: stable/\nComponents: main\n\n\n": `x.sources:1: bad apt sources: suite "stable/" is a flat repository path`,
	}
	for text, want := range cases {
		_, err := ParseDeb822Sources("x.sources", []byte(text))
		if err == nil || !strings.Contains(err.Error(), want) || !errors.Is(err, ErrSources) {
			t.Errorf("%q: %v, want %q", text, err, want)
		}
	}
}

// writeTree writes files (path → content) under a new root.
func writeTree(t *testing.T, files map[string]string) string {
	t.Helper()
	root := t.TempDir()
	for p, body := range files {
		full := filepath.Join(root, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func TestSourcesReadsTheSystemLikeApt(t *testing.T) {
	root := writeTree(t, map[string]string{
		"etc/apt/sources.list":                       "deb http://one.example/debian bookworm main\n",
		"etc/apt/sources.list.d/b.sources":           deb822,
		"etc/apt/sources.list.d/a.list":              "deb http://two.example/debian bookworm-backports main\n",
		"etc/apt/sources.list.d/c.list.save":         "garbage that apt ignores\n",
		"etc/apt/sources.list.d/d.sources.disabled":  "garbage that apt ignores\n",
		"etc/apt/sources.list.d/nodejs.list":         "deb https://third.example/node nodistro main\n",
		"etc/apt/sources.list.d/gce.sources":         "Types: deb\nURIs: mirror+file:/etc/apt/mirrors/debian.list\nSuites: bookworm\nComponents: main\n",
		"etc/apt/mirrors/debian.list":                "# cloud mirrors\nhttp://cloud.example/debian\tpriority:1\nhttps://cloud2.example/debian/\n",
		"etc/apt/sources.list.d/subdir/ignored.list": "garbage\n",
	})
	ms, err := Sources(root)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, m := range ms {
		got = append(got, m.URI)
	}
	want := []string{"http://one.example/debian", "http://two.example/debian", "http://mirror.example/debian",
		"http://backup.example/debian", "http://mirror.example/debian-security",
		"http://cloud.example/debian", "https://cloud2.example/debian", "https://third.example/node"}
	if !slices.Equal(got, want) {
		t.Errorf("mirrors in order:\n got %v\nwant %v", got, want)
	}
	if ms[5].From != "/etc/apt/mirrors/debian.list:2" {
		t.Errorf("mirror list entry comes from %q", ms[5].From)
	}
	bookworm := URIs(ms, "bookworm")
	if slices.Contains(bookworm, "https://third.example/node") || !slices.Contains(bookworm, "http://mirror.example/debian-security") ||
		!slices.Contains(bookworm, "http://two.example/debian") {
		t.Errorf("bookworm URIs %v", bookworm)
	}
	if all := URIs(ms, ""); len(all) != len(want) {
		t.Errorf("all URIs %v", all)
	}
}

func TestSourcesErrorsNameTheFile(t *testing.T) {
	root := writeTree(t, map[string]string{"etc/apt/sources.list.d/x.list": "\n\ndeb http://m.example/debian\n"})
	_, err := Sources(root)
	if err == nil || !strings.Contains(err.Error(), filepath.Join(root, "etc/apt/sources.list.d/x.list")+":3") {
		t.Errorf("error %v does not name x.list:3", err)
	}
	root = writeTree(t, map[string]string{"etc/apt/sources.list.d/m.sources": "Types: deb\nURIs: mirror+file:/etc/apt/none.list\nSuites: bookworm\nComponents: main\n"})
	if _, err := Sources(root); err == nil || !strings.Contains(err.Error(), "mirror list") {
		t.Errorf("missing mirror list: %v", err)
	}
	if ms, err := Sources(t.TempDir()); err != nil || len(ms) != 0 {
		t.Errorf("no apt at all: %v %v", ms, err)
	}
}

// The machine this runs on has apt; its sources must parse, whatever
// they hold.
func TestSourcesOfThisMachine(t *testing.T) {
	if _, err := os.Stat("/etc/apt"); err != nil {
		t.Fatal("no /etc/apt: this is built on Debian (apt-get install apt)")
	}
	ms, err := Sources("/")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d mirrors, %d for bookworm", len(ms), len(URIs(ms, "bookworm")))
}

func FuzzParseSourcesList(f *testing.F) {
	f.Add([]byte("deb [arch=amd64] http://m.example/debian bookworm main\n# c\ndeb-src http://x/ ./\n"))
	f.Add([]byte("deb [ ] x:y z/\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		ms, err := ParseSourcesList("f", data)
		if err != nil && !errors.Is(err, ErrSources) {
			t.Fatalf("error not wrapping ErrSources: %v", err)
		}
		for _, m := range ms {
			if m.URI == "" || len(m.Suites) == 0 || strings.HasSuffix(m.URI, "/") {
				t.Fatalf("bad mirror %+v", m)
			}
		}
	})
}

func FuzzParseDeb822Sources(f *testing.F) {
	f.Add([]byte(deb822))
	f.Add([]byte("Types: deb\nURIs: a:b\nSuites: ./\n\n#x\n y\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		ms, err := ParseDeb822Sources("f", data)
		if err != nil && !errors.Is(err, ErrSources) {
			t.Fatalf("error not wrapping ErrSources: %v", err)
		}
		for _, m := range ms {
			if m.URI == "" || len(m.Suites) == 0 {
				t.Fatalf("bad mirror %+v", m)
			}
		}
	})
}
