package lab_test

import (
	"testing"

	"github.com/goleudy/goleudy/tools/lab"
)

// The differential test of a secondary: NSD serves the fixtures as the
// primary, the service under test transfers them, and the corpus goes to
// both. Deliberate differences go in the Comparer's Ignore set.
func ExampleDifferential() {
	var t testing.TB // the test's
	f, _ := lab.FixtureByName("nsec3")
	primary := lab.StartNSD(t, lab.Options{Zones: f.Zones, XFR: true, Notify: []string{"127.0.0.1:5300"}})
	serviceAddr := "127.0.0.1:5300" // the service, secondary for f.Zones from primary.Addr

	queries, err := lab.Corpus(f.Zones)
	if err != nil {
		t.Fatal(err)
	}
	c := lab.Comparer{Ignore: map[string]bool{lab.FieldCase: true}}
	for _, m := range lab.Differential(t.Context(), primary.Addr, serviceAddr, queries, c) {
		t.Errorf("%s: %v", m.Query, m.Diffs)
	}
}
