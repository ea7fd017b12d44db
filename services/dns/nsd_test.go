// The differential test runs every table case against a real NSD 4.6
// (Debian package nsd) on loopback and compares full responses. It is part
// of `make test`; without nsd installed it fails, naming the package.
package authdns

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

func startNSD(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("nsd")
	if err != nil {
		t.Fatalf("nsd not installed (apt-get install nsd): %v", err)
	}
	dir := t.TempDir()
	// NSD reads the zones as the tests load them: the testdata files plus
	// their extras (helpers_test.go).
	td := filepath.Join(dir, "zones")
	if err := os.Mkdir(td, 0o755); err != nil {
		t.Fatal(err)
	}
	for origin, file := range testZones {
		if err := os.WriteFile(filepath.Join(td, file), testZoneText(t, origin), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	l, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.LocalAddr().(*net.UDPAddr).Port
	l.Close()
	var b strings.Builder
	fmt.Fprintf(&b, "server:\n  ip-address: 127.0.0.1@%d\n  port: %d\n  zonesdir: %q\n  pidfile: %q\n  database: \"\"\n  xfrdfile: %q\n  zonelistfile: %q\n  username: \"\"\n  chroot: \"\"\n  logfile: %q\n  server-count: 1\n  tcp-count: 32\nremote-control:\n  control-enable: no\n",
		port, port, td, filepath.Join(dir, "nsd.pid"), filepath.Join(dir, "xfrd.state"), filepath.Join(dir, "zone.list"), filepath.Join(dir, "nsd.log"))
	for origin, file := range testZones {
		fmt.Fprintf(&b, "zone:\n  name: %q\n  zonefile: %q\n", origin, file)
	}
	conf := filepath.Join(dir, "nsd.conf")
	if err := os.WriteFile(conf, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin, "-d", "-c", conf)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); cmd.Wait() })
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	c := &dns.Client{Net: "tcp", Timeout: time.Second}
	m := new(dns.Msg)
	m.SetQuestion("example.com.", dns.TypeSOA)
	for i := 0; ; i++ {
		if r, _, err := c.Exchange(m, addr); err == nil && r.Rcode == dns.RcodeSuccess {
			return addr
		}
		if i > 50 {
			log, _ := os.ReadFile(filepath.Join(dir, "nsd.log"))
			t.Fatalf("nsd did not come up: %s", log)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func full(rrs []dns.RR) []string {
	out := []string{}
	for _, rr := range rrs {
		if rr.Header().Rrtype == dns.TypeOPT {
			continue
		}
		out = append(out, strings.Join(strings.Fields(rr.String()), " "))
	}
	return out
}

func TestAgainstNSD(t *testing.T) {
	addr := startNSD(t)
	zs := loadTestZones(t)
	c := &dns.Client{Net: "tcp", Timeout: 2 * time.Second}
	for _, tc := range slices.Concat(plainCases, dnssecCases) {
		name := tc.qname + "/" + dns.TypeToString[tc.qtype]
		if tc.do {
			name += "/DO"
		}
		if tc.qclass != 0 {
			name += "/" + dns.ClassToString[tc.qclass]
		}
		t.Run(name, func(t *testing.T) {
			req := tc.request()
			theirs, _, err := c.Exchange(req, addr)
			if err != nil {
				t.Fatal(err)
			}
			ours := zs.Answer(req, false)
			// Compare what goes on the wire, not how it was spelled in
			// the zone file (NSEC3 hashes, say, print in either case).
			wire, err := ours.Pack()
			if err != nil {
				t.Fatal(err)
			}
			ours = new(dns.Msg)
			if err := ours.Unpack(wire); err != nil {
				t.Fatal(err)
			}
			if theirs.Rcode != ours.Rcode || theirs.Authoritative != ours.Authoritative {
				t.Errorf("nsd rcode %s aa %v; ours %s aa %v", dns.RcodeToString[theirs.Rcode], theirs.Authoritative, dns.RcodeToString[ours.Rcode], ours.Authoritative)
			}
			for _, s := range []struct {
				name         string
				theirs, ours []dns.RR
			}{{"answer", theirs.Answer, ours.Answer}, {"authority", theirs.Ns, ours.Ns}, {"additional", theirs.Extra, ours.Extra}} {
				if g, w := full(s.ours), full(s.theirs); !slices.Equal(g, w) {
					t.Errorf("%s:\n nsd: %s\nours: %s", s.name, strings.Join(w, "\n      "), strings.Join(g, "\n      "))
				}
			}
			if os.Getenv("NSD_DUMP") != "" {
				t.Logf("answer=%q\nns=%q\nextra=%q", summaries(theirs.Answer), summaries(theirs.Ns), summaries(theirs.Extra))
			}
		})
	}
}
