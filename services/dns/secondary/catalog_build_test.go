package secondary

import (
	"errors"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/miekg/dns"
)

func mustBuildCatalog(tb testing.TB, origin string, serial uint32, members ...string) []dns.RR {
	tb.Helper()
	rrs, err := BuildCatalog(origin, serial, members)
	if err != nil {
		tb.Fatal(err)
	}
	return rrs
}

func rrStrings(rrs []dns.RR) []string {
	out := make([]string, len(rrs))
	for i, rr := range rrs {
		out[i] = rr.String()
	}
	return out
}

func TestBuildCatalogRoundTrip(t *testing.T) {
	rrs := mustBuildCatalog(t, "Catalog.Goleudy.Invalid", 7, "b.test.", "A.test", "a.test.", "c.test", "B.TEST.")
	want := []string{
		"catalog.goleudy.invalid.\t0\tIN\tSOA\tinvalid. invalid. 7 60 10 1209600 0",
		"catalog.goleudy.invalid.\t0\tIN\tNS\tinvalid.",
		"version.catalog.goleudy.invalid.\t0\tIN\tTXT\t\"2\"",
		"c72ad203680f7c04.zones.catalog.goleudy.invalid.\t0\tIN\tPTR\ta.test.",
		catalogID("b.test.") + ".zones.catalog.goleudy.invalid.\t0\tIN\tPTR\tb.test.",
		catalogID("c.test.") + ".zones.catalog.goleudy.invalid.\t0\tIN\tPTR\tc.test.",
	}
	if got := rrStrings(rrs); !slices.Equal(got, want) {
		t.Fatalf("catalog:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	z := mustZone(t, "catalog.goleudy.invalid.", rrs)
	members, err := parseCatalog(z, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	wantMembers := map[string]string{
		"a.test.": catalogID("a.test."), "b.test.": catalogID("b.test."), "c.test.": catalogID("c.test."),
	}
	if !maps.Equal(members, wantMembers) {
		t.Fatalf("parsed members %v, want %v", members, wantMembers)
	}
}

// TestBuildCatalogStableIDs pins the id scheme: a member whose id changes
// is reset on every node (RFC 9432 section 5.3), so the ids must not
// depend on the other members, the order, the case or the serial, and
// must not change between releases.
func TestBuildCatalogStableIDs(t *testing.T) {
	if id := catalogID("example.com."); id != "3ebef312509f797c" {
		t.Fatalf("id of example.com. is %s; changing the scheme resets every member on every node", id)
	}
	for _, name := range []string{"example.com", "EXAMPLE.com.", "Example.Com"} {
		if id := catalogID(name); id != "3ebef312509f797c" {
			t.Errorf("id of %q is %s, want that of example.com.", name, id)
		}
	}
	ptrOf := func(rrs []dns.RR, member string) string {
		for _, rr := range rrs {
			if p, ok := rr.(*dns.PTR); ok && p.Ptr == member {
				return p.Hdr.Name
			}
		}
		t.Fatalf("%s not in the catalog", member)
		return ""
	}
	a := mustBuildCatalog(t, "cat.test.", 1, "example.com.")
	b := mustBuildCatalog(t, "cat.test.", 99, "zzz.test.", "EXAMPLE.COM.", "aaa.test.")
	if ptrOf(a, "example.com.") != ptrOf(b, "example.com.") {
		t.Errorf("the id of example.com. moved: %s, then %s", ptrOf(a, "example.com."), ptrOf(b, "example.com."))
	}
}

func TestBuildCatalogEmpty(t *testing.T) {
	rrs := mustBuildCatalog(t, "cat.test.", 1)
	members, err := parseCatalog(mustZone(t, "cat.test.", rrs), slog.New(slog.DiscardHandler))
	if err != nil || len(members) != 0 {
		t.Fatalf("empty catalog: members %v, err %v", members, err)
	}
}

func TestBuildCatalogErrors(t *testing.T) {
	for _, tc := range []struct {
		name    string
		origin  string
		members []string
		naming  string // the error must name this
	}{
		{"empty member", "cat.test.", []string{"a.test.", ""}, `""`},
		{"empty label", "cat.test.", []string{"a.test.", "bad..test."}, "bad..test."},
		{"space", "cat.test.", []string{"a b.test."}, "a b.test."},
		{"control character", "cat.test.", []string{"a\nb.test."}, `"a\nb.test."`},
		{"too long", "cat.test.", []string{strings.Repeat("a", 64) + ".test."}, strings.Repeat("a", 64)},
		{"itself", "cat.test.", []string{"a.test.", "CAT.test"}, "cannot list itself"},
		{"bad origin", "cat..test.", []string{"a.test."}, "cat..test."},
		{"empty origin", "", nil, "origin"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rrs, err := BuildCatalog(tc.origin, 1, tc.members)
			if !errors.Is(err, ErrCatalog) {
				t.Fatalf("err = %v (%d records), want ErrCatalog", err, len(rrs))
			}
			if !strings.Contains(err.Error(), tc.naming) {
				t.Errorf("error %q does not name %s", err, tc.naming)
			}
		})
	}
}
