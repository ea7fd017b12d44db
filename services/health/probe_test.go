package health

import (
	"errors"
	"testing"

	"github.com/miekg/dns"
)

// TestCheck runs answers through Query.check: DNS cases as data.
func TestCheck(t *testing.T) {
	soa := func(name string) dns.RR {
		rr, err := dns.NewRR(name + " 300 IN SOA ns1.example.com. hostmaster.example.com. 1 3600 600 86400 300")
		if err != nil {
			t.Fatal(err)
		}
		return rr
	}
	txt := func(class uint16, parts ...string) dns.RR {
		return &dns.TXT{Hdr: dns.RR_Header{Name: "id.server.", Rrtype: dns.TypeTXT, Class: class}, Txt: parts}
	}
	zone := Query{Zone: "example.com."}
	chaos := Query{Identity: "ams1"}
	tests := []struct {
		name   string
		q      Query
		rcode  int
		aa     bool
		answer []dns.RR
		want   error // nil, or the sentinel the error must match
	}{
		{"SOA", zone, dns.RcodeSuccess, true, []dns.RR{soa("example.com.")}, nil},
		{"SOA, owner case differs", zone, dns.RcodeSuccess, true, []dns.RR{soa("EXAMPLE.com.")}, nil},
		{"SOA not authoritative", zone, dns.RcodeSuccess, false, []dns.RR{soa("example.com.")}, ErrWrongAnswer},
		{"SOA of another zone", zone, dns.RcodeSuccess, true, []dns.RR{soa("example.org.")}, ErrWrongAnswer},
		{"empty answer", zone, dns.RcodeSuccess, true, nil, ErrWrongAnswer},
		{"SERVFAIL", zone, dns.RcodeServerFailure, false, nil, ErrRcode},
		{"REFUSED", zone, dns.RcodeRefused, false, nil, ErrRcode},
		{"NXDOMAIN", zone, dns.RcodeNameError, true, nil, ErrRcode},
		{"identity", chaos, dns.RcodeSuccess, true, []dns.RR{txt(dns.ClassCHAOS, "ams1")}, nil},
		{"identity split over strings", chaos, dns.RcodeSuccess, true, []dns.RR{txt(dns.ClassCHAOS, "am", "s1")}, nil},
		{"another node's identity", chaos, dns.RcodeSuccess, true, []dns.RR{txt(dns.ClassCHAOS, "fra1")}, ErrWrongAnswer},
		{"identity in class IN", chaos, dns.RcodeSuccess, true, []dns.RR{txt(dns.ClassINET, "ams1")}, ErrWrongAnswer},
		{"identity refused", chaos, dns.RcodeRefused, false, nil, ErrRcode},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := &dns.Msg{MsgHdr: dns.MsgHdr{Response: true, Rcode: tt.rcode, Authoritative: tt.aa}, Answer: tt.answer}
			err := tt.q.check(resp)
			if tt.want == nil && err != nil || tt.want != nil && !errors.Is(err, tt.want) {
				t.Errorf("check = %v, want %v", err, tt.want)
			}
		})
	}
}
