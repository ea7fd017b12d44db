package main

import (
	"net/netip"
	"strings"
	"testing"
)

func TestParseCmdline(t *testing.T) {
	for _, tc := range []struct {
		line     string
		addrs    []string
		disks    int
		poweroff bool
		err      string
	}{
		{line: "console=ttyS0 quiet"},
		{line: "console=ttyS0 initfixture.addr=10.99.0.2/24 initfixture.poweroff=1\n",
			addrs: []string{"10.99.0.2/24"}, poweroff: true},
		{line: "initfixture.addr=10.99.0.2/24,2001:db8::2/64", addrs: []string{"10.99.0.2/24", "2001:db8::2/64"}},
		{line: "initfixture.poweroff", poweroff: true},
		{line: "initfixture.disks=2 root=/dev/sda", disks: 2},
		{line: "initfixture.disks=-1", err: `initfixture.disks: "-1"`},
		{line: "initfixture.disks=65", err: `initfixture.disks: "65"`},
		{line: "initfixture.disks=two", err: `initfixture.disks: "two"`},
		{line: "initfixture.poweroff=0"},
		{line: "initfixture.addr=", err: "initfixture.addr: empty"},
		{line: "initfixture.addr=10.99.0.2", err: `initfixture.addr: "10.99.0.2"`},
		{line: "initfixture.addr=10.99.0.2/24,,", err: `initfixture.addr: ""`},
		{line: "initfixture.poweroff=yes", err: `initfixture.poweroff: "yes"`},
	} {
		c, err := parseCmdline(tc.line)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%q: error %v, want one containing %q", tc.line, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", tc.line, err)
			continue
		}
		var got []string
		if c.disks < 0 || c.disks > maxDisks {
			t.Fatalf("disks %d out of range", c.disks)
		}
		for _, a := range c.addrs {
			got = append(got, a.String())
		}
		if strings.Join(got, " ") != strings.Join(tc.addrs, " ") || c.disks != tc.disks || c.poweroff != tc.poweroff {
			t.Errorf("%q: got addrs %v disks %d poweroff %v, want %v %d %v",
				tc.line, got, c.disks, c.poweroff, tc.addrs, tc.disks, tc.poweroff)
		}
	}
}

func FuzzParseCmdline(f *testing.F) {
	f.Add("console=ttyS0 initfixture.addr=10.99.0.2/24,10.98.0.2/24 initfixture.poweroff=1")
	f.Add("initfixture.addr=::1/128 initfixture.poweroff=0 initfixture.disks=1")
	f.Fuzz(func(t *testing.T, line string) {
		c, err := parseCmdline(line)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "initfixture.") {
				t.Fatalf("error %q does not name the key", err)
			}
			return
		}
		if c.disks < 0 || c.disks > maxDisks {
			t.Fatalf("disks %d out of range", c.disks)
		}
		for _, a := range c.addrs {
			if _, err := netip.ParsePrefix(a.String()); err != nil {
				t.Fatalf("parsed %v does not round-trip: %v", a, err)
			}
		}
	})
}
