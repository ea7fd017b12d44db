package lab

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"github.com/miekg/dns"
)

// Mismatch is a corpus query that two servers answered differently.
type Mismatch struct {
	Query Query
	Diffs []Difference
	A, B  *dns.Msg // the replies; nil when a server did not answer
}

// Signature says how the answers differ without naming names, so that one
// behaviour seen at many names is one line: each differing field with the
// two values, or for a section the record types only each side has, as in
// "authority(NS>-) additional(addr>-)". RRSIGs are left out where they
// only follow their RRsets, and addresses in the additional section are
// "addr".
func (m Mismatch) Signature() string {
	var parts []string
	for _, d := range m.Diffs {
		var a, b []dns.RR
		switch d.Field {
		case FieldAnswer:
			a, b = sectionOf(m.A, 0), sectionOf(m.B, 0)
		case FieldAuthority:
			a, b = sectionOf(m.A, 1), sectionOf(m.B, 1)
		case FieldAdditional:
			a, b = sectionOf(m.A, 2), sectionOf(m.B, 2)
		default:
			parts = append(parts, fmt.Sprintf("%s(%s>%s)", d.Field, d.A, d.B))
			continue
		}
		onlyA, onlyB := typesOnly(a, b, d.Field == FieldAdditional)
		parts = append(parts, fmt.Sprintf("%s(%s>%s)", d.Field, onlyA, onlyB))
	}
	return strings.Join(parts, " ")
}

func sectionOf(m *dns.Msg, i int) []dns.RR {
	if m == nil {
		return nil
	}
	return [][]dns.RR{m.Answer, m.Ns, m.Extra}[i]
}

// typesOnly lists the types of the records only a has and only b has.
func typesOnly(a, b []dns.RR, additional bool) (string, string) {
	count := map[string]int{}
	for _, rr := range a {
		count[rr.String()]++
	}
	for _, rr := range b {
		count[rr.String()]--
	}
	collect := func(rrs []dns.RR, sign int) string {
		set := map[string]bool{}
		for _, rr := range rrs {
			t := rr.Header().Rrtype
			if t == dns.TypeOPT || t == dns.TypeTSIG || count[rr.String()]*sign <= 0 {
				continue
			}
			name := dns.Type(t).String()
			if additional && (t == dns.TypeA || t == dns.TypeAAAA) {
				name = "addr"
			}
			set[name] = true
		}
		if len(set) > 1 {
			delete(set, "RRSIG")
		}
		if len(set) == 0 {
			return "-"
		}
		return strings.Join(sortedKeys(set), ",")
	}
	return collect(a, 1), collect(b, -1)
}

// MismatchGroup is the mismatches sharing one Signature.
type MismatchGroup struct {
	Signature  string
	Mismatches []Mismatch
}

// Group groups mismatches by Signature, largest group first.
func Group(ms []Mismatch) []MismatchGroup {
	by := map[string][]Mismatch{}
	for _, m := range ms {
		s := m.Signature()
		by[s] = append(by[s], m)
	}
	var gs []MismatchGroup
	for s, list := range by {
		gs = append(gs, MismatchGroup{s, list})
	}
	slices.SortFunc(gs, func(x, y MismatchGroup) int {
		if c := cmp.Compare(len(y.Mismatches), len(x.Mismatches)); c != 0 {
			return c
		}
		return strings.Compare(x.Signature, y.Signature)
	})
	return gs
}
