package health

import (
	"fmt"
	"testing"

	"github.com/goleudy/goleudy/provision/config"
)

func TestPlanFor(t *testing.T) {
	tests := []struct {
		name     string
		prefixes []string
		listen   []string
		anycast  []string
		want     string // prefix → targets, in config order
	}{
		{"listen inside prefix", []string{"192.0.2.0/24"}, []string{"192.0.2.53:53", "10.0.0.1:53"}, nil,
			"192.0.2.0/24 [192.0.2.53:53]"},
		{"two prefixes, v4 and v6", []string{"2001:db8::/48", "192.0.2.0/24"}, []string{"192.0.2.53:53", "[2001:db8::53]:5353"}, nil,
			"2001:db8::/48 [[2001:db8::53]:5353] 192.0.2.0/24 [192.0.2.53:53]"},
		{"several addresses in one prefix, sorted", []string{"192.0.2.0/24"}, []string{"192.0.2.54:53", "192.0.2.53:53"}, nil,
			"192.0.2.0/24 [192.0.2.53:53 192.0.2.54:53]"},
		{"nothing inside", []string{"192.0.2.0/24"}, []string{"127.0.0.1:53"}, nil,
			"192.0.2.0/24 []"},
		{"overlapping prefixes share a target", []string{"192.0.2.0/24", "192.0.2.0/25"}, []string{"192.0.2.53:53"}, nil,
			"192.0.2.0/24 [192.0.2.53:53] 192.0.2.0/25 [192.0.2.53:53]"},
		{"v4 wildcard stands for the v4 anycast addresses", []string{"192.0.2.0/24", "2001:db8::/48"}, []string{"0.0.0.0:53"}, []string{"192.0.2.53", "2001:db8::53"},
			"192.0.2.0/24 [192.0.2.53:53] 2001:db8::/48 []"},
		{"v6 wildcard is dual-stack", []string{"192.0.2.0/24", "2001:db8::/48"}, []string{"[::]:53"}, []string{"192.0.2.53", "2001:db8::53"},
			"192.0.2.0/24 [192.0.2.53:53] 2001:db8::/48 [[2001:db8::53]:53]"},
		{"wildcard and explicit dedupe", []string{"192.0.2.0/24"}, []string{"0.0.0.0:53", "192.0.2.53:53"}, []string{"192.0.2.53"},
			"192.0.2.0/24 [192.0.2.53:53]"},
		{"mapped listen address is IPv4", []string{"192.0.2.0/24"}, []string{"[::ffff:192.0.2.53]:53"}, nil,
			"192.0.2.0/24 [192.0.2.53:53]"},
		{"host bits and duplicates", []string{"192.0.2.1/24", "192.0.2.0/24"}, []string{"192.0.2.53:53"}, nil,
			"192.0.2.0/24 [192.0.2.53:53]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := cfgFor(tt.prefixes, tt.listen)
			cfg.Anycast.Addresses = tt.anycast
			p, err := planFor(cfg, "")
			if err != nil {
				t.Fatal(err)
			}
			got := ""
			for _, pfx := range p.prefixes {
				got += fmt.Sprintf(" %s %v", pfx, p.targets[pfx])
			}
			if got != " "+tt.want {
				t.Errorf("plan = %q, want %q", got[1:], tt.want)
			}
		})
	}
}

func TestPlanForErrors(t *testing.T) {
	for _, cfg := range []*config.Config{
		cfgFor([]string{"192.0.2.0"}, nil),
		cfgFor(nil, []string{"192.0.2.53"}),
		{Anycast: config.Anycast{Addresses: []string{"nope"}}},
	} {
		if _, err := planFor(cfg, ""); err == nil {
			t.Errorf("planFor(%+v) succeeded", cfg.Anycast)
		}
	}
}

func TestQueryFor(t *testing.T) {
	tests := []struct {
		name     string
		zones    []string
		identity string
		override string
		want     Query
	}{
		{"first zone", []string{"example.com", "example.org."}, "", "", Query{Zone: "example.com."}},
		{"configured zone", []string{"example.com", "example.org."}, "", "example.org", Query{Zone: "example.org."}},
		{"no zones: identity", nil, "ams1.ns", "", Query{Identity: "ams1.ns"}},
		{"no zones, no identity: node id", nil, "", "", Query{Identity: "node1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := cfgFor(nil, nil, tt.zones...)
			cfg.DNS.Identity = tt.identity
			if got := queryFor(cfg, tt.override); got != tt.want {
				t.Errorf("queryFor = %+v, want %+v", got, tt.want)
			}
		})
	}
}
