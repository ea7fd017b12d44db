package lab

import (
	"slices"
	"testing"

	"github.com/miekg/dns"
)

func TestCorpusDeterministic(t *testing.T) {
	f, _ := FixtureByName("nsec3")
	a, err := Corpus(f.Zones)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := Corpus(f.Zones)
	if !slices.Equal(a, b) {
		t.Error("two corpora of the same zones differ")
	}
}

// TestCorpusCovers checks each probe contributes the names it is for, in
// every variant, with every type of interest asked somewhere.
func TestCorpusCovers(t *testing.T) {
	f, _ := FixtureByName("nsec3")
	qs, err := Corpus(f.Zones)
	if err != nil {
		t.Fatal(err)
	}
	type key struct {
		name, kind string
	}
	have := map[key]int{}
	types := map[uint16]bool{}
	variants := map[string]bool{}
	for _, q := range qs {
		have[key{q.Name, q.Kind}]++
		types[q.Type] = true
		variants[Query{Net: q.Net, EDNS: q.EDNS, DO: q.DO}.String()] = true
		if q.DO && !q.EDNS {
			t.Errorf("%s: DO without EDNS", q)
		}
	}
	for _, want := range []key{
		{"example.test.", "owner"},
		{"other.test.", "owner"},
		{"big.example.test.", "owner"},
		{"ent.example.test.", "empty-non-terminal"},
		{"c.deep-ent.example.test.", "empty-non-terminal"},
		{"*.wc.example.test.", "owner"},
		{"sub.example.test.", "empty-non-terminal"},
		{"nx-lab.example.test.", "nonexistent"},
		{"nx-lab.www.example.test.", "nonexistent"},
		{"wild-lab.wild.example.test.", "wildcard"},
		{"a.wild-lab.wild.example.test.", "wildcard"},
		{"wild-lab.example.test.", "wildcard"},
		{"www.child.example.test.", "below-cut"},
		{"a.b.child.example.test.", "below-cut"},
		{"a.b.deleg.sub.example.test.", "below-cut"},
		{"WwW.ExAmPlE.TeSt.", "mixed-case"},
		{"test.", "out-of-zone"},
		{"xexample.test.", "out-of-zone"},
		{".", "out-of-zone"},
		{"example.invalid.", "out-of-zone"},
	} {
		if have[want] == 0 {
			t.Errorf("no %s query for %s", want.kind, want.name)
		}
	}
	hashed := 0
	for k := range have {
		if k.kind == "nsec3-owner" {
			hashed++
		}
	}
	if hashed == 0 {
		t.Error("no queries for NSEC3 owner names")
	}
	for _, tt := range allTypes {
		if !types[tt] {
			t.Errorf("type %s never asked", dns.Type(tt))
		}
	}
	if len(variants) != 6 {
		t.Errorf("variants %v, want UDP and TCP each without EDNS, with DO=0 and with DO=1", variants)
	}
}

func TestAlternateCase(t *testing.T) {
	for in, want := range map[string]string{
		"www.example.test.":  "WwW.ExAmPlE.TeSt.",
		"*.wc.example.test.": "*.Wc.ExAmPlE.TeSt.",
		"_sip._udp.a1.":      "_SiP._UdP.A1.",
		".":                  ".",
	} {
		if got := alternateCase(in); got != want {
			t.Errorf("alternateCase(%q) = %q, want %q", in, got, want)
		}
	}
}
