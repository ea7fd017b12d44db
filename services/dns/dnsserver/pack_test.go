package dnsserver

import (
	"fmt"
	"testing"

	"github.com/miekg/dns"
)

func rr(s string) dns.RR {
	r, err := dns.NewRR(s)
	if err != nil {
		panic(err)
	}
	return r
}

func txts(n int, name string) []dns.RR {
	var out []dns.RR
	for i := range n {
		out = append(out, rr(fmt.Sprintf(`%s 300 IN TXT "%080d"`, name, i)))
	}
	return out
}

func TestPackSheds(t *testing.T) {
	apexNS := []dns.RR{rr("example.com. 300 IN NS ns1.example.com."), rr("example.com. 300 IN NS ns2.example.com.")}
	glue := []dns.RR{rr("ns1.example.com. 300 IN A 192.0.2.1"), rr("ns2.example.com. 300 IN A 192.0.2.2")}
	soa := []dns.RR{rr("example.com. 300 IN SOA ns1 host 1 2 3 4 5")}
	tests := []struct {
		name                   string
		answer, ns, extra      []dns.RR
		limit                  int
		wantAn, wantNs, wantAr int
		wantTC                 bool
	}{
		{"fits", txts(2, "a.example.com."), apexNS, glue, 512, 2, 2, 2, false},
		{"apex NS kept, additional dropped", txts(5, "a.example.com."), apexNS, glue[:1], 540, 5, 2, 0, false},
		{"apex NS dropped without TC", txts(5, "a.example.com."), apexNS, glue, 520, 5, 0, 0, false},
		{"answer too big", txts(8, "a.example.com."), apexNS, glue, 512, 0, 0, 0, true},
		{"second answer RRset too big", append(txts(1, "a.example.com."), txts(6, "b.example.com.")...), nil, nil, 512, 1, 0, 0, true},
		{"referral glue does not fit: no TC", nil, apexNS, append(glue, txts(5, "ns2.example.com.")...), 512, 0, 2, 2, false},
		{"negative answer keeps the SOA", nil, soa, nil, 512, 0, 1, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := &dns.Msg{Answer: tt.answer, Ns: tt.ns, Extra: tt.extra}
			m.Response = true
			m.SetQuestion("a.example.com.", dns.TypeTXT)
			wire, err := pack(m, nil, tt.limit, nil)
			if err != nil {
				t.Fatal(err)
			}
			if len(wire) > tt.limit {
				t.Fatalf("%d bytes, limit %d", len(wire), tt.limit)
			}
			var r dns.Msg
			if err := r.Unpack(wire); err != nil {
				t.Fatal(err)
			}
			if len(r.Answer) != tt.wantAn || len(r.Ns) != tt.wantNs || len(r.Extra) != tt.wantAr || r.Truncated != tt.wantTC {
				t.Errorf("got %d/%d/%d TC=%v, want %d/%d/%d TC=%v", len(r.Answer), len(r.Ns), len(r.Extra), r.Truncated,
					tt.wantAn, tt.wantNs, tt.wantAr, tt.wantTC)
			}
			if len(m.Answer) != len(tt.answer) || len(m.Ns) != len(tt.ns) {
				t.Error("pack changed the message's sections")
			}
		})
	}
}
