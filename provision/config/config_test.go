package config

import (
	"errors"
	"os"
	"strings"
	"testing"
)

func TestParseContractExample(t *testing.T) {
	c, err := Load("testdata/alban.json")
	if err != nil {
		t.Fatalf("the DESIGN.md example must be valid: %v", err)
	}
	if c.Node.ID != "alban" || c.Serial != 7 || c.BGP.Peers[0].HoldTime != 9 {
		t.Errorf("decoded %+v", c)
	}
	if got := c.Zones[0].Primaries[0]; got != "10.53.0.1:53" {
		t.Errorf("primary = %q", got)
	}
}

func TestParseLabConfig(t *testing.T) {
	c, err := Parse([]byte(`{"schema":1,"serial":1,"node":{"id":"lab"},
		"dns":{"listen":["127.0.0.1:5353"]},
		"zones":[{"name":"Example.COM.","primaries":["127.0.0.1","[::1]:5300"]}]}`))
	if err != nil {
		t.Fatal(err)
	}
	if c.Node.State != StateLive || c.DNS.Identity != "lab" || c.DNS.NSID != "lab" {
		t.Errorf("defaults not applied: %+v", c)
	}
	if got := c.Zones[0].Primaries; got[0] != "127.0.0.1:53" || got[1] != "[::1]:5300" {
		t.Errorf("primaries = %q", got)
	}
}

func TestDefaults(t *testing.T) {
	c, err := Parse([]byte(`{"schema":1,"serial":1,"node":{"id":"n1"},
		"interfaces":{"ix":{"match":"eth0","addresses":["2001:db8::2/64","198.51.100.2/30"]}},
		"anycast":{"asn":64512,"prefixes":["192.0.2.0/24","2001:db8:53::/48"],"addresses":["192.0.2.53","2001:db8:53::53"]},
		"bgp":{"peers":[{"name":"a","asn":64500,"neighbor":"198.51.100.1"}]},
		"tsig_keys":[{"name":"k","secret":"c2VjcmV0"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	if c.BGP.RouterID != "198.51.100.2" {
		t.Errorf("router_id = %q, want the first IPv4 IX address", c.BGP.RouterID)
	}
	if c.BGP.Peers[0].HoldTime != DefaultHoldTime {
		t.Errorf("hold_time = %d", c.BGP.Peers[0].HoldTime)
	}
	if strings.Join(c.DNS.Listen, " ") != "192.0.2.53:53 [2001:db8:53::53]:53" {
		t.Errorf("dns.listen = %q", c.DNS.Listen)
	}
	if c.TSIGKeys[0].Algorithm != DefaultTSIGAlgorithm {
		t.Errorf("algorithm = %q", c.TSIGKeys[0].Algorithm)
	}
}

func TestFiveMistakes(t *testing.T) {
	_, err := Load("testdata/five-mistakes.json")
	var es Errors
	if !errors.As(err, &es) || !errors.Is(err, ErrInvalid) {
		t.Fatalf("err = %v, want Errors", err)
	}
	want := []string{
		`node.state: "sleeping" is not a known state`,
		`anycast.addresses[0]: 203.0.113.53 is not inside any announced prefix`,
		`bgp.peers[0].neighbor: "198.51.100.300" is not an IP address`,
		`dns.listen[0]: "192.0.2.53" is not host:port`,
		`zones[0].name: "example.com" is not fully qualified`,
	}
	if len(es) != len(want) {
		t.Errorf("got %d problems, want %d:\n%v", len(es), len(want), err)
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("missing %q in:\n%v", w, err)
		}
	}
}

// base is a valid config that each case below breaks in one way.
const base = `{"schema":1,"serial":1,"node":{"id":"n1"},
	"anycast":{"asn":64512,"prefixes":["192.0.2.0/24"],"addresses":["192.0.2.53"]},
	"interfaces":{"ix":{"match":"eth0","addresses":["198.51.100.2/30"],"gateway4":"198.51.100.1"}},
	"bgp":{"peers":[{"name":"a","asn":64500,"neighbor":"198.51.100.1"}]},
	"tsig_keys":[{"name":"hub","secret":"c2VjcmV0"}],
	"zones":[{"name":"example.com.","primaries":["10.53.0.1"],"tsig":"hub"}]}`

func TestProblems(t *testing.T) {
	tests := []struct {
		name, old, new string
		want           []string
	}{
		{"unknown field", `"node":{"id":"n1"}`, `"node":{"id":"n1","sate":"live"}`, []string{`node.sate: unknown field (did you mean "state"?)`}},
		{"unknown top-level field", `"schema":1,`, `"schema":1,"zonez":[],`, []string{`zonez: unknown field (did you mean "zones"?)`}},
		{"case differs", `"schema":1,`, `"Schema":1,"schema":1,`, []string{`Schema: unknown field (did you mean "schema"?)`}},
		{"field twice", `"serial":1,`, `"serial":1,"serial":2,`, []string{"serial: given more than once"}},
		{"wrong type", `"asn":64500`, `"asn":"64500"`, []string{`bgp.peers[0].asn: must be a number, not the string "64500"`}},
		{"negative", `"asn":64500`, `"asn":-1`, []string{"bgp.peers[0].asn: -1 must not be negative"}},
		{"too big", `"asn":64500`, `"asn":4294967296`, []string{"bgp.peers[0].asn: 4294967296 is out of range"}},
		{"fraction", `"asn":64500`, `"asn":1.5`, []string{"bgp.peers[0].asn: 1.5 must be a whole number"}},
		{"zero asn", `"asn":64500`, `"asn":0`, []string{"bgp.peers[0].asn: must be 1..4294967295"}},
		{"as_trans", `"asn":64500`, `"asn":23456`, []string{"bgp.peers[0].asn: 23456 is AS_TRANS"}},
		{"schema", `"schema":1`, `"schema":2`, []string{"schema: 2 is not supported"}},
		{"no schema", `"schema":1,`, ``, []string{"schema: missing"}},
		{"no serial", `"serial":1,`, ``, []string{"serial: missing"}},
		{"node id", `"id":"n1"`, `"id":"N 1"`, []string{`node.id: "N 1" may only hold`}},
		{"no node id", `"id":"n1"`, `"fqdn":"n1.example."`, []string{"node.id: missing"}},
		{"bad prefix", `"prefixes":["192.0.2.0/24"]`, `"prefixes":["192.0.2.0/24","192.0.2.1/24"]`, []string{`anycast.prefixes[1]: "192.0.2.1/24" has host bits set; did you mean 192.0.2.0/24?`}},
		{"dup prefix", `"prefixes":["192.0.2.0/24"]`, `"prefixes":["192.0.2.0/24","192.0.2.0/24"]`, []string{"anycast.prefixes[1]: 192.0.2.0/24 is listed more than once"}},
		{"gateway outside", `"gateway4":"198.51.100.1"`, `"gateway4":"198.51.100.9"`, []string{"interfaces.ix.gateway4: 198.51.100.9 is not inside"}},
		{"gateway6 without v6", `"gateway4":"198.51.100.1"`, `"gateway6":"2001:db8::1"`, []string{"interfaces.ix.gateway6: set, but the interface has no IPv6 address"}},
		{"community", `"neighbor":"198.51.100.1"`, `"neighbor":"198.51.100.1","communities":["64500:70000","x"]`, []string{`bgp.peers[0].communities[0]: "64500:70000" has a part out of range`, `bgp.peers[0].communities[1]: "x" is not a community`}},
		{"large community", `"neighbor":"198.51.100.1"`, `"neighbor":"198.51.100.1","large_communities":["1:2"]`, []string{`bgp.peers[0].large_communities[0]: "1:2" is not a large community`}},
		{"prepend", `"neighbor":"198.51.100.1"`, `"neighbor":"198.51.100.1","prepend":11`, []string{"bgp.peers[0].prepend: 11 must be 0..10"}},
		{"multihop", `"neighbor":"198.51.100.1"`, `"neighbor":"198.51.100.1","multihop":1`, []string{"bgp.peers[0].multihop: 1 must be 2..255"}},
		{"hold time", `"neighbor":"198.51.100.1"`, `"neighbor":"198.51.100.1","hold_time":2`, []string{"bgp.peers[0].hold_time: 2 must be 3..65535"}},
		{"password", `"neighbor":"198.51.100.1"`, `"neighbor":"198.51.100.1","password":"` + strings.Repeat("x", 81) + `"`, []string{"bgp.peers[0].password: is 81 bytes"}},
		{"dup peer", `"neighbor":"198.51.100.1"}`, `"neighbor":"198.51.100.1"},{"name":"a","asn":1,"neighbor":"198.51.100.1"}`, []string{`bgp.peers[1].name: "a" is used by another peer`, "bgp.peers[1].neighbor: 198.51.100.1 is used by another peer"}},
		{"router id", `"bgp":{`, `"bgp":{"router_id":"2001:db8::1",`, []string{`bgp.router_id: "2001:db8::1" is not an IPv4 address`}},
		{"dup zone", `"tsig":"hub"}`, `"tsig":"hub"},{"name":"EXAMPLE.com.","primaries":["10.53.0.1"]}`, []string{`zones[1].name: "EXAMPLE.com." is already listed at zones[0]`}},
		{"missing key", `"tsig":"hub"`, `"tsig":"other"`, []string{`zones[0].tsig: key "other" is not defined in tsig_keys`}},
		{"no primaries", `"primaries":["10.53.0.1"]`, `"primaries":[]`, []string{"zones[0].primaries: missing"}},
		{"primary hostname", `"primaries":["10.53.0.1"]`, `"primaries":["ns1.example.net:53"]`, []string{`zones[0].primaries[0]: "ns1.example.net:53" must have an IP address as host`}},
		{"label too long", `"name":"example.com."`, `"name":"` + strings.Repeat("a", 64) + `.com."`, []string{"has a label longer than 63"}},
		{"tsig algorithm", `"secret":"c2VjcmV0"`, `"secret":"c2VjcmV0","algorithm":"hmac-md5"`, []string{`tsig_keys[0].algorithm: "hmac-md5" is not supported`}},
		{"tsig secret", `"secret":"c2VjcmV0"`, `"secret":"not base64!"`, []string{"tsig_keys[0].secret: is not valid base64"}},
		{"catalog clash", `"zones":`, `"catalogs":[{"name":"example.com.","primaries":["10.53.0.1"]}],"zones":`, []string{`catalogs[0].name: "example.com." is already listed at zones[0]`}},
		{"state", `"id":"n1"`, `"id":"n1","state":"off"`, []string{`node.state: "off" is not a known state`}},
		{"downstream", `"schema":1,`, `"schema":1,"dns":{"downstreams":[{"address":"10.0.0.1"},{"address":"10.0.0.1:5300","tsig":"nokey"},{"address":"host"}]},`, []string{`dns.downstreams[1].address: 10.0.0.1 is listed more than once`, `dns.downstreams[1].tsig: key "nokey" is not defined`, `dns.downstreams[2].address: "host" is not host:port`}},
		{"listen port", `"schema":1,`, `"schema":1,"dns":{"listen":["127.0.0.1:0"]},`, []string{`dns.listen[0]: "127.0.0.1:0" has port "0"; must be 1..65535`}},
		{"wireguard key", `"schema":1,`, `"schema":1,"management":{"wireguard":{"public_key":"abc"}},`, []string{"management.wireguard.public_key: is not a base64 WireGuard key"}},
		{"config url", `"schema":1,`, `"schema":1,"management":{"config_url":"ftp://x/"},`, []string{`management.config_url: "ftp://x/" is not an http or https URL`}},
		{"update", `"schema":1,`, `"schema":1,"update":{"version":"v 2","sha256":"AB","url":"10.53.0.1/b"},`, []string{`update.version: "v 2" is not a version`, "update.build: missing", `update.sha256: "AB" is not 64`, "update.size: missing", `update.url: "10.53.0.1/b" is not an http(s) URL`}},
		{"lat", `"id":"n1"`, `"id":"n1","location":{"lat":91,"countryiso":"GB"}`, []string{"node.location.lat: 91 must be -90..90", `node.location.countryiso: "GB" must be a two-letter`}},
		{"object expected", `"node":{"id":"n1"}`, `"node":"n1"`, []string{`node: must be an object, not the string "n1"`}},
		{"array expected", `"prefixes":["192.0.2.0/24"]`, `"prefixes":"192.0.2.0/24"`, []string{`anycast.prefixes: must be an array, not the string "192.0.2.0/24"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc := strings.Replace(base, tt.old, tt.new, 1)
			if doc == base {
				t.Fatalf("case does not change the document")
			}
			_, err := Parse([]byte(doc))
			if err == nil {
				t.Fatal("accepted")
			}
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("err %v does not wrap ErrInvalid", err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("missing %q in:\n%v", w, err)
				}
			}
		})
	}
	if _, err := Parse([]byte(base)); err != nil {
		t.Fatalf("base must be valid: %v", err)
	}
}

func TestSyntaxErrors(t *testing.T) {
	for _, doc := range []string{``, `{`, `{"schema":1,}`, "{\n\"schema\": 1\n\"serial\": 1}", `{"schema":1} {}`, `[]`, `null`} {
		_, err := Parse([]byte(doc))
		if err == nil || !errors.Is(err, ErrInvalid) {
			t.Errorf("Parse(%q) = %v", doc, err)
		}
	}
	_, err := Parse([]byte("{\n\"schema\": 1\n\"serial\": 1}"))
	if !strings.Contains(err.Error(), "line 3") {
		t.Errorf("syntax error does not name the line: %v", err)
	}
}

func TestEncodeRoundTrip(t *testing.T) {
	c, err := Load("testdata/alban.json")
	if err != nil {
		t.Fatal(err)
	}
	out, err := c.Encode()
	if err != nil {
		t.Fatal(err)
	}
	c2, err := Parse(out)
	if err != nil {
		t.Fatalf("re-parse of encoded config: %v\n%s", err, out)
	}
	out2, _ := c2.Encode()
	if string(out) != string(out2) {
		t.Errorf("encoding is not stable:\n%s\n%s", out, out2)
	}
}

func FuzzParse(f *testing.F) {
	for _, name := range []string{"testdata/alban.json", "testdata/five-mistakes.json"} {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte(base))
	f.Add([]byte(`{"schema":1,"serial":1,"node":{"id":"x"},"zones":[{"name":".","primaries":["::1"]}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse(data)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error does not wrap ErrInvalid: %v", err)
			}
			return
		}
		// What was accepted must encode and be accepted again unchanged.
		out, err := c.Encode()
		if err != nil {
			t.Fatal(err)
		}
		c2, err := Parse(out)
		if err != nil {
			t.Fatalf("accepted config does not round-trip: %v\n%s", err, out)
		}
		out2, _ := c2.Encode()
		if string(out) != string(out2) {
			t.Fatalf("round-trip changed the config:\n%s\n%s", out, out2)
		}
	})
}
