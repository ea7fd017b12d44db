package lab

import (
	"slices"
	"strings"
	"testing"

	"github.com/miekg/dns"
)

func baseReply() *dns.Msg {
	q := Query{Name: "www.example.test.", Type: dns.TypeA, DO: true}
	m := new(dns.Msg).SetReply(q.Msg())
	m.Authoritative = true
	for _, s := range []string{
		"www.example.test. 3600 IN A 192.0.2.80",
		"www.example.test. 3600 IN A 192.0.2.81",
	} {
		m.Answer = append(m.Answer, mustRR(s))
	}
	m.Ns = append(m.Ns, mustRR("example.test. 3600 IN NS ns1.example.test."))
	m.Extra = append(m.Extra, mustRR("ns1.example.test. 3600 IN A 192.0.2.53"))
	m.SetEdns0(1232, true)
	return m
}

func mustRR(s string) dns.RR {
	rr, err := dns.NewRR(s)
	if err != nil {
		panic(err)
	}
	return rr
}

// TestCompare injects one difference at a time into a reply and checks
// Compare reports exactly that field, and nothing for reorderings.
func TestCompare(t *testing.T) {
	nsid := &dns.EDNS0_NSID{Code: dns.EDNS0NSID, Nsid: "6c6162"}
	tests := []struct {
		name   string
		change func(m *dns.Msg)
		ignore []string
		want   []string
	}{
		{"identical", func(m *dns.Msg) {}, nil, nil},
		{"id is not compared", func(m *dns.Msg) { m.Id++ }, nil, nil},
		{"answer order", func(m *dns.Msg) { slices.Reverse(m.Answer) }, nil, nil},
		{"additional order with OPT", func(m *dns.Msg) { slices.Reverse(m.Extra) }, nil, nil},
		{"rcode", func(m *dns.Msg) { m.Rcode = dns.RcodeNameError }, nil, []string{FieldRcode}},
		{"extended rcode", func(m *dns.Msg) { m.Rcode = dns.RcodeBadVers }, nil, []string{FieldRcode}},
		{"opcode", func(m *dns.Msg) { m.Opcode = dns.OpcodeNotify }, nil, []string{FieldOpcode}},
		{"aa", func(m *dns.Msg) { m.Authoritative = false }, nil, []string{FieldAA}},
		{"tc", func(m *dns.Msg) { m.Truncated = true }, nil, []string{FieldTC}},
		{"rd", func(m *dns.Msg) { m.RecursionDesired = true }, nil, []string{FieldRD}},
		{"ra", func(m *dns.Msg) { m.RecursionAvailable = true }, nil, []string{FieldRA}},
		{"ra ignored", func(m *dns.Msg) { m.RecursionAvailable = true }, []string{FieldRA}, nil},
		{"ad", func(m *dns.Msg) { m.AuthenticatedData = true }, nil, []string{FieldAD}},
		{"cd", func(m *dns.Msg) { m.CheckingDisabled = true }, nil, []string{FieldCD}},
		{"question case", func(m *dns.Msg) { m.Question[0].Name = "WWW.example.test." }, nil, []string{FieldQuestion}},
		{"question type", func(m *dns.Msg) { m.Question[0].Qtype = dns.TypeAAAA }, nil, []string{FieldQuestion}},
		{"answer missing", func(m *dns.Msg) { m.Answer = m.Answer[:1] }, nil, []string{FieldAnswer}},
		{"answer duplicated", func(m *dns.Msg) { m.Answer = append(m.Answer, dns.Copy(m.Answer[0])) }, nil, []string{FieldAnswer}},
		{"answer ttl", func(m *dns.Msg) { m.Answer[0].Header().Ttl = 60 }, nil, []string{FieldAnswer}},
		{"answer ttl ignored", func(m *dns.Msg) { m.Answer[0].Header().Ttl = 60 }, []string{FieldTTL}, nil},
		{"owner case", func(m *dns.Msg) { m.Answer[0].Header().Name = "WwW.example.test." }, nil, []string{FieldAnswer}},
		{"owner case ignored", func(m *dns.Msg) { m.Answer[0].Header().Name = "WwW.example.test." }, []string{FieldCase}, nil},
		{"rdata name case ignored", func(m *dns.Msg) { m.Ns[0].(*dns.NS).Ns = "NS1.example.test." }, []string{FieldCase}, nil},
		{"authority", func(m *dns.Msg) { m.Ns = nil }, nil, []string{FieldAuthority}},
		{"additional", func(m *dns.Msg) { m.Extra = m.Extra[1:] }, nil, []string{FieldAdditional}},
		{"no OPT", func(m *dns.Msg) { m.Extra = m.Extra[:1] }, nil, []string{FieldOPT}},
		{"OPT DO", func(m *dns.Msg) { m.IsEdns0().SetDo(false) }, nil, []string{FieldOPTDO}},
		{"OPT size", func(m *dns.Msg) { m.IsEdns0().SetUDPSize(4096) }, nil, []string{FieldOPTUDPSize}},
		{"OPT size ignored", func(m *dns.Msg) { m.IsEdns0().SetUDPSize(4096) }, []string{FieldOPTUDPSize}, nil},
		{"OPT version", func(m *dns.Msg) { m.IsEdns0().SetVersion(1) }, nil, []string{FieldOPTVersion}},
		{"OPT option", func(m *dns.Msg) { o := m.IsEdns0(); o.Option = append(o.Option, nsid) }, nil, []string{OptionField(dns.EDNS0NSID)}},
		{"OPT option ignored by code", func(m *dns.Msg) { o := m.IsEdns0(); o.Option = append(o.Option, nsid) }, []string{OptionField(dns.EDNS0NSID)}, nil},
		{"OPT options ignored", func(m *dns.Msg) { o := m.IsEdns0(); o.Option = append(o.Option, nsid) }, []string{FieldOPTOptions}, nil},
		{"TSIG", func(m *dns.Msg) { m.SetTsig("hub.", dns.HmacSHA256, 300, 0) }, nil, []string{FieldTSIG}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, b := baseReply(), baseReply()
			b.Id = a.Id
			tt.change(b)
			c := Comparer{Ignore: map[string]bool{}}
			for _, f := range tt.ignore {
				c.Ignore[f] = true
			}
			var got []string
			for _, d := range c.Compare(a, b) {
				got = append(got, d.Field)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("fields %v, want %v (%v)", got, tt.want, c.Compare(a, b))
			}
		})
	}
}

func TestCompareNoReply(t *testing.T) {
	if d := Compare(nil, nil); d != nil {
		t.Errorf("two missing replies differ: %v", d)
	}
	d := Compare(baseReply(), nil)
	if len(d) != 1 || d[0].Field != FieldResponse {
		t.Errorf("a missing reply: %v", d)
	}
}

// TestCompareDetectsInjectedDifference serves the plain fixture from one
// NSD and the same with one address changed from another: the corpus must
// find the change, at the names that lead to it and nowhere else.
func TestCompareDetectsInjectedDifference(t *testing.T) {
	f, err := FixtureByName("plain")
	if err != nil {
		t.Fatal(err)
	}
	changed := slices.Clone(f.Zones)
	changed[0].Text = strings.Replace(changed[0].Text, "www\tA\t192.0.2.80", "www\tA\t192.0.2.99", 1)
	if changed[0].Text == f.Zones[0].Text {
		t.Fatal("fixture no longer has the record this test changes")
	}
	a := StartNSD(t, Options{Zones: f.Zones})
	b := StartNSD(t, Options{Zones: changed})
	qs, err := Corpus(f.Zones)
	if err != nil {
		t.Fatal(err)
	}
	ms := Differential(t.Context(), a.Addr, b.Addr, qs, Comparer{})
	found := false
	for _, m := range ms {
		if m.Query.Name == "www.example.test." && m.Query.Type == dns.TypeA {
			found = true
		}
		for _, d := range m.Diffs {
			if d.Field != FieldAnswer || !strings.Contains(d.A, "192.0.2.80") || !strings.Contains(d.B, "192.0.2.99") {
				t.Errorf("%s: unexpected difference %s", m.Query, d)
			}
		}
	}
	if !found {
		t.Errorf("www.example.test. A not among the %d mismatches", len(ms))
	}
}
