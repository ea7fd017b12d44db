package secondary

import (
	"errors"
	"log/slog"
	"maps"
	"os"
	"testing"

	"github.com/miekg/dns"

	"github.com/goleudy/goleudy/provision/config"
)

func catalogZone(tb testing.TB, serial string, body string) []dns.RR {
	return parseRRs(tb, "cat.test.", "@ IN SOA invalid. invalid. "+serial+" 3600 600 86400 0\n@ IN NS invalid.\n"+body)
}

func TestParseCatalog(t *testing.T) {
	for _, tc := range []struct {
		name    string
		body    string
		want    map[string]string
		wantErr error
	}{
		{"members and properties", `
version IN TXT "2"
m1.zones IN PTR example.com.
m2.zones IN PTR Example.NET.
group.m2.zones IN TXT "blue"
coo.m1.zones IN PTR other.cat.
ext.zones IN TXT "unknown property, ignored"
`, map[string]string{"example.com.": "m1", "example.net.": "m2"}, nil},
		{"empty catalog", `version IN TXT "2"`, map[string]string{}, nil},
		{"no version", `m1.zones IN PTR example.com.`, nil, ErrCatalog},
		{"version 1", "version IN TXT \"1\"\nm1.zones IN PTR example.com.", nil, ErrCatalog},
		{"two versions", "version IN TXT \"2\"\nversion IN TXT \"3\"", nil, ErrCatalog},
		{"member with two PTRs ignored", `
version IN TXT "2"
m1.zones IN PTR a.test.
m1.zones IN PTR b.test.
m2.zones IN PTR c.test.
`, map[string]string{"c.test.": "m2"}, nil},
		{"duplicate member: first id wins", `
version IN TXT "2"
zz.zones IN PTR a.test.
aa.zones IN PTR a.test.
`, map[string]string{"a.test.": "aa"}, nil},
		{"catalog listing itself ignored", "version IN TXT \"2\"\nm.zones IN PTR cat.test.", map[string]string{}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			z := mustZone(t, "cat.test.", catalogZone(t, "1", tc.body))
			got, err := parseCatalog(z, slog.New(slog.DiscardHandler))
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("err = %v, want %v", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !maps.Equal(got, tc.want) {
				t.Fatalf("members %v, want %v", got, tc.want)
			}
		})
	}
}

func TestManagerCatalog(t *testing.T) {
	p := startFakePrimary(t)
	p.set("cat.test.", catalogZone(t, "1", `
version IN TXT "2"
m1.zones IN PTR a.test.
m2.zones IN PTR b.test.
m3.zones IN PTR explicit.test.
`))
	for _, o := range []string{"a.test.", "b.test.", "c.test.", "explicit.test."} {
		p.set(o, soaZone(o, 1, 3600, 600, 86400))
	}
	p2 := startFakePrimary(t)
	p2.set("explicit.test.", soaZone("explicit.test.", 9, 3600, 600, 86400))
	f := newFixture(t)
	cat := zoneCfg("cat.test.", p.Addr)
	f.m.Configure([]config.Zone{zoneCfg("explicit.test.", p2.Addr)}, []config.Zone{cat}, nil)
	runManager(t, f.m)
	f.waitSerial("a.test.", 1)
	f.waitSerial("b.test.", 1)
	f.waitSerial("explicit.test.", 9) // the explicit entry wins
	if _, ok := f.store.serial("cat.test."); ok {
		t.Error("the catalog itself is served")
	}
	if st := f.status("a.test."); st.Source != "cat.test." {
		t.Errorf("a.test. source %q, want the catalog", st.Source)
	}
	if st := f.status("cat.test."); !st.Catalog || !st.Loaded {
		t.Errorf("catalog status %+v", st)
	}

	// b leaves the catalog, c joins: live.
	f.waitIdle("b.test.")
	p.set("cat.test.", catalogZone(t, "2", `
version IN TXT "2"
m1.zones IN PTR a.test.
m4.zones IN PTR c.test.
`))
	f.m.trigger("cat.test.")
	f.waitSerial("c.test.", 1)
	waitFor(t, "b.test. removal", func() bool { _, ok := f.store.serial("b.test."); return !ok })
	if _, err := os.Stat(fileName(f.dir, "b.test.")); !os.IsNotExist(err) {
		t.Errorf("b.test. file kept: %v", err)
	}
	if _, ok := f.store.serial("a.test."); !ok {
		t.Error("a.test. dropped")
	}

	// A broken catalog leaves the members as they were.
	p.set("cat.test.", catalogZone(t, "3", `
version IN TXT "1"
m1.zones IN PTR a.test.
`))
	f.m.trigger("cat.test.")
	waitFor(t, "the refused catalog", func() bool { return f.status("cat.test.").Failures == 1 })
	if st := f.status("cat.test."); st.Serial != 2 {
		t.Errorf("catalog serial %d after a refused version, want 2", st.Serial)
	}
	if _, ok := f.store.serial("c.test."); !ok {
		t.Error("c.test. dropped by a catalog we refused")
	}
	if f.log.count("only version 2 is supported") == 0 {
		t.Error("the version error is not logged")
	}

	// Restart: the catalog and its members come from the state dir.
	for _, o := range []string{"cat.test.", "a.test.", "c.test."} {
		waitFor(t, o+" file", func() bool { _, err := os.Stat(fileName(f.dir, o)); return err == nil })
	}
	f2 := newFixture(t, func(o *Options) { o.StateDir = f.dir })
	dead := zoneCfg("cat.test.", deadAddr(t))
	f2.m.Configure(nil, []config.Zone{dead}, nil)
	runManager(t, f2.m)
	f2.waitSerial("a.test.", 1)
	f2.waitSerial("c.test.", 1)
}
