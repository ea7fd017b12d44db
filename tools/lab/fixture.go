package lab

import (
	"embed"
	"fmt"
)

//go:embed testdata/zones/*.zone
var fixtureFS embed.FS

// Fixture is a set of zones one server serves together. The signed
// variants share their origin with the plain zone, so each set needs a
// server of its own.
type Fixture struct {
	Name  string // "plain", "nsec", "nsec3" or "nsec3-optout"
	Zones []Zone
}

// Fixture zone files: the plain zone, its signed variants, and a second
// zone served alongside each so CNAMEs and NS names can cross zones.
const (
	FixtureOrigin      = "example.test."
	FixtureOtherOrigin = "other.test."
)

// fixtureFiles maps each set to its example.test file; other.test.zone is
// served with every set.
var fixtureFiles = []struct{ name, file string }{
	{"plain", "example.test.zone"},
	{"nsec", "example.test.nsec.zone"},
	{"nsec3", "example.test.nsec3.zone"},
	{"nsec3-optout", "example.test.nsec3-optout.zone"},
}

// Fixtures returns the committed test zone sets, embedded in the package so
// tests anywhere in the module can serve them.
func Fixtures() []Fixture {
	other := mustFixture("other.test.zone")
	var sets []Fixture
	for _, f := range fixtureFiles {
		sets = append(sets, Fixture{Name: f.name, Zones: []Zone{
			{Name: FixtureOrigin, Text: mustFixture(f.file)},
			{Name: FixtureOtherOrigin, Text: other},
		}})
	}
	return sets
}

// FixtureByName returns the set called name ("plain", "nsec", ...).
func FixtureByName(name string) (Fixture, error) {
	for _, f := range Fixtures() {
		if f.Name == name {
			return f, nil
		}
	}
	return Fixture{}, fmt.Errorf("lab: no fixture set %q", name)
}

func mustFixture(file string) string {
	b, err := fixtureFS.ReadFile("testdata/zones/" + file)
	if err != nil {
		// The files are embedded at build time; a missing one is a bug in
		// this package, not a condition callers can handle.
		panic(fmt.Sprintf("lab: fixture %s: %v", file, err))
	}
	return string(b)
}
