package secondary

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/miekg/dns"
)

const ixfrBase = `
@    3600 IN SOA ns1 hostmaster 1 7200 900 1209600 300
@    3600 IN NS ns1
ns1  3600 IN A 192.0.2.53
www  3600 IN A 192.0.2.1
www  3600 IN A 192.0.2.2
mail 3600 IN MX 10 mx
mx   3600 IN A 192.0.2.25
`

func soaRR(tb testing.TB, serial string) *dns.SOA {
	return parseRRs(tb, "example.com.", "@ 3600 IN SOA ns1 hostmaster "+serial+" 7200 900 1209600 300")[0].(*dns.SOA)
}

// seq parses a "from:to del|add" diff description.
func seq(tb testing.TB, from, to string, del, add string) diff {
	return diff{from: soaRR(tb, from), to: soaRR(tb, to),
		del: parseRRs(tb, "example.com.", del), add: parseRRs(tb, "example.com.", add)}
}

func TestApplyDiffs(t *testing.T) {
	for _, tc := range []struct {
		name    string
		diffs   []diff
		want    []string // records added to / removed from the base, "+" or "-"
		wantErr error
	}{
		{
			name:  "one sequence",
			diffs: []diff{seq(t, "1", "2", "www A 192.0.2.1", "www A 192.0.2.3\nnew TXT hello")},
			want:  []string{"-www A 192.0.2.1", "+www A 192.0.2.3", "+new TXT hello"},
		},
		{
			name: "two sequences, add then delete",
			diffs: []diff{
				seq(t, "1", "2", "", "tmp A 192.0.2.9"),
				seq(t, "2", "3", "tmp A 192.0.2.9\nmx A 192.0.2.25", "mx A 192.0.2.26"),
			},
			want: []string{"-mx A 192.0.2.25", "+mx A 192.0.2.26"},
		},
		{
			name:  "TTL change is delete and add of the same record",
			diffs: []diff{seq(t, "1", "2", "www 3600 A 192.0.2.1", "www 60 A 192.0.2.1")},
			want:  []string{"-www 3600 A 192.0.2.1", "+www 60 A 192.0.2.1"},
		},
		{
			name:  "owner name case does not matter",
			diffs: []diff{seq(t, "1", "2", "WWW A 192.0.2.2", "")},
			want:  []string{"-www A 192.0.2.2"},
		},
		{
			name:    "chain does not start at our serial",
			diffs:   []diff{seq(t, "5", "6", "", "x A 192.0.2.9")},
			wantErr: ErrBrokenChain,
		},
		{
			name:    "gap between sequences",
			diffs:   []diff{seq(t, "1", "2", "", "x A 192.0.2.9"), seq(t, "3", "4", "", "y A 192.0.2.9")},
			wantErr: ErrBrokenChain,
		},
		{
			name:    "deletes a record we do not have",
			diffs:   []diff{seq(t, "1", "2", "nothere A 192.0.2.1", "")},
			wantErr: ErrBrokenChain,
		},
		{
			name:    "deletes the same record twice",
			diffs:   []diff{seq(t, "1", "2", "www A 192.0.2.1", ""), seq(t, "2", "3", "www A 192.0.2.1", "")},
			wantErr: ErrBrokenChain,
		},
		{name: "no sequences", wantErr: ErrBrokenChain},
	} {
		t.Run(tc.name, func(t *testing.T) {
			base := mustZone(t, "example.com.", parseRRs(t, "example.com.", ixfrBase))
			got, err := applyDiffs(base, tc.diffs)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("err = %v, want %v", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			want := map[string]bool{}
			for _, rr := range parseRRs(t, "example.com.", ixfrBase) {
				want[rr.String()] = true
			}
			delete(want, soaRR(t, "1").String())
			want[tc.diffs[len(tc.diffs)-1].to.String()] = true
			for _, c := range tc.want {
				rr := parseRRs(t, "example.com.", c[1:])[0]
				want[rr.String()] = c[0] == '+'
			}
			var wantList, gotList []string
			for s, ok := range want {
				if ok {
					wantList = append(wantList, s)
				}
			}
			for _, rr := range got {
				gotList = append(gotList, rr.String())
			}
			slices.Sort(wantList)
			slices.Sort(gotList)
			if !slices.Equal(gotList, wantList) {
				t.Errorf("got\n%s\nwant\n%s", strings.Join(gotList, "\n"), strings.Join(wantList, "\n"))
			}
			if _, ok := got[0].(*dns.SOA); !ok {
				t.Errorf("first record %s, want the SOA", got[0])
			}
			// The base zone is untouched and still serves.
			if base.Serial() != 1 || base.Len() != 7 {
				t.Errorf("base changed: serial %d len %d", base.Serial(), base.Len())
			}
		})
	}
}

// msgs wraps records into response messages, n records each.
func msgs(rrs []dns.RR, n int) []*dns.Msg {
	var out []*dns.Msg
	for len(rrs) > 0 {
		k := min(n, len(rrs))
		m := new(dns.Msg)
		m.Response = true
		m.Answer = rrs[:k]
		rrs = rrs[k:]
		out = append(out, m)
	}
	return out
}

func TestXFRParser(t *testing.T) {
	p := func(s string) []dns.RR { return parseRRs(t, "example.com.", s) }
	soa := func(serial string) string {
		return "@ 3600 IN SOA ns1 hostmaster " + serial + " 7200 900 1209600 300\n"
	}
	big := Limits{MaxRecords: 100, MaxBytes: 1 << 20}
	for _, tc := range []struct {
		name     string
		ixfr     bool
		have     uint32
		stream   string
		per      int // records per message
		limits   Limits
		wantErr  error
		wantAXFR int // records, SOA included once
		wantSeqs int
		upToDate bool
	}{
		{name: "axfr", stream: soa("2") + "www A 192.0.2.1\nwww A 192.0.2.2\n" + soa("2"), per: 1, wantAXFR: 3},
		{name: "axfr one message", stream: soa("2") + "www A 192.0.2.1\n" + soa("2"), per: 10, wantAXFR: 2},
		{name: "axfr soa only", stream: soa("2") + soa("2"), per: 10, wantAXFR: 1},
		{name: "axfr different last soa", stream: soa("2") + "www A 192.0.2.1\n" + soa("3"), per: 10, wantErr: ErrMalformed},
		{name: "axfr trailing records", stream: soa("2") + "www A 192.0.2.1\n" + soa("2") + "x A 192.0.2.1\n", per: 10, wantErr: ErrMalformed},
		{name: "axfr no soa first", stream: "www A 192.0.2.1\n" + soa("2"), per: 10, wantErr: ErrMalformed},
		{name: "axfr out of zone", stream: soa("2") + "www.example.net. A 192.0.2.1\n" + soa("2"), per: 10, wantErr: ErrMalformed},
		{name: "axfr soa not at apex", stream: soa("2") + "sub 3600 IN SOA ns1 hm 1 1 1 1 1\n" + soa("2"), per: 10, wantErr: ErrMalformed},
		{name: "axfr class CH", stream: soa("2") + "www CH A 192.0.2.1\n" + soa("2"), per: 10, wantErr: ErrMalformed},
		{name: "axfr truncated", stream: soa("2") + "www A 192.0.2.1\n", per: 10, wantErr: ErrMalformed},
		{name: "axfr too many records", stream: soa("2") + strings.Repeat("www TXT x\n", 200) + soa("2"), per: 50, wantErr: ErrTooLarge},
		{name: "axfr too many bytes", stream: soa("2") + strings.Repeat("www TXT x\n", 50) + soa("2"), per: 5,
			limits: Limits{MaxRecords: 1000, MaxBytes: 300}, wantErr: ErrTooLarge},
		{name: "ixfr", ixfr: true, have: 1, per: 2,
			stream:   soa("3") + soa("1") + "www A 192.0.2.1\n" + soa("2") + "www A 192.0.2.3\n" + soa("2") + soa("3") + "x A 192.0.2.4\n" + soa("3"),
			wantSeqs: 2},
		{name: "ixfr empty sequence", ixfr: true, have: 1, per: 10, stream: soa("2") + soa("1") + soa("2") + soa("2"), wantSeqs: 1},
		{name: "ixfr up to date", ixfr: true, have: 5, per: 10, stream: soa("5"), upToDate: true},
		{name: "ixfr lone newer soa", ixfr: true, have: 1, per: 10, stream: soa("5"), wantErr: ErrBrokenChain},
		{name: "ixfr answered by axfr", ixfr: true, have: 1, per: 10, stream: soa("5") + "www A 192.0.2.1\n" + soa("5"), wantAXFR: 2},
		{name: "ixfr from other serial", ixfr: true, have: 1, per: 10, stream: soa("3") + soa("2") + soa("3") + soa("3"), wantErr: ErrBrokenChain},
		{name: "ixfr gap", ixfr: true, have: 1, per: 10,
			stream: soa("4") + soa("1") + soa("2") + soa("3") + soa("4") + soa("4"), wantErr: ErrBrokenChain},
		{name: "ixfr truncated", ixfr: true, have: 1, per: 10, stream: soa("3") + soa("1") + "www A 192.0.2.1\n", wantErr: ErrMalformed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := tc.limits
			if l == (Limits{}) {
				l = big
			}
			x := newXFRParser("example.com.", tc.ixfr, tc.have, l)
			var err error
			for _, m := range msgs(p(tc.stream), tc.per) {
				if err = x.feed(m, m.Len()); err != nil {
					break
				}
			}
			var res *xfrResult
			if err == nil {
				res, err = x.result()
			}
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("err = %v, want %v", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(res.axfr) != tc.wantAXFR || len(res.diffs) != tc.wantSeqs || res.upToDate != tc.upToDate {
				t.Errorf("got axfr %d seqs %d upToDate %v, want %d %d %v",
					len(res.axfr), len(res.diffs), res.upToDate, tc.wantAXFR, tc.wantSeqs, tc.upToDate)
			}
		})
	}
}

func TestXFRParserRcode(t *testing.T) {
	x := newXFRParser("example.com.", true, 1, Limits{MaxRecords: 10, MaxBytes: 1000})
	m := new(dns.Msg)
	m.Response = true
	m.Rcode = dns.RcodeRefused
	if err := x.feed(m, 12); !errors.Is(err, ErrRefused) {
		t.Fatalf("err = %v, want ErrRefused", err)
	}
}
