package secondary

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/miekg/dns"

	authdns "github.com/goleudy/goleudy/services/dns"
)

// applyDiffs returns the records of base with an IXFR's diffs applied in
// order, deletions before additions in each sequence (RFC 1995 section 4).
// The serials must chain from base's to the last diff's; a deletion of a
// record that is not there breaks the chain too. Both are ErrBrokenChain,
// on which the caller falls back to AXFR.
//
// Only owner names the diffs touch are indexed, so a small change to a
// large zone costs one walk over it. Records are copied, because
// authdns.NewZone takes ownership of what it is given while base keeps
// serving.
func applyDiffs(base *authdns.Zone, diffs []diff) ([]dns.RR, error) {
	if len(diffs) == 0 {
		return nil, fmt.Errorf("%w: no sequences", ErrBrokenChain)
	}
	serial := base.Serial()
	touched := map[string]bool{}
	for i, d := range diffs {
		if d.from == nil || d.to == nil || d.from.Serial != serial {
			return nil, fmt.Errorf("%w: sequence %d starts at serial %d, want %d", ErrBrokenChain, i, fromSerial(d), serial)
		}
		serial = d.to.Serial
		for _, rr := range d.del {
			touched[strings.ToLower(rr.Header().Name)] = true
		}
		for _, rr := range d.add {
			touched[strings.ToLower(rr.Header().Name)] = true
		}
	}

	var st diffState
	st.index = map[string]int{}
	out := make([]dns.RR, 1, base.Len()+8)
	for rr := range base.All() {
		if rr.Header().Rrtype == dns.TypeSOA {
			continue // replaced by the last sequence's SOA
		}
		rr = dns.Copy(rr)
		if touched[lowerName(rr.Header().Name)] {
			st.put(rrKey(rr), rr)
			continue
		}
		out = append(out, rr)
	}
	for i, d := range diffs {
		for _, rr := range d.del {
			if rr.Header().Rrtype == dns.TypeSOA {
				continue
			}
			if !st.remove(rrKey(rr)) {
				return nil, fmt.Errorf("%w: sequence %d (serial %d to %d) deletes %s, which is not in the zone",
					ErrBrokenChain, i, d.from.Serial, d.to.Serial, rr)
			}
		}
		for _, rr := range d.add {
			if rr.Header().Rrtype == dns.TypeSOA {
				return nil, fmt.Errorf("%w: SOA among the additions of sequence %d", ErrMalformed, i)
			}
			st.put(rrKey(rr), dns.Copy(rr))
		}
	}
	out[0] = dns.Copy(diffs[len(diffs)-1].to)
	for _, e := range st.entries {
		if e.rr != nil {
			out = append(out, e.rr)
		}
	}
	return out, nil
}

func fromSerial(d diff) int64 {
	if d.from == nil {
		return -1
	}
	return int64(d.from.Serial)
}

// diffState is the touched part of the zone while diffs apply, in first
// seen order so RRsets keep their order.
type diffState struct {
	index   map[string]int
	entries []struct {
		key string
		rr  dns.RR // nil once deleted
	}
}

func (s *diffState) put(key string, rr dns.RR) {
	if i, ok := s.index[key]; ok {
		s.entries[i].rr = rr // re-added, maybe with a new TTL
		return
	}
	s.index[key] = len(s.entries)
	s.entries = append(s.entries, struct {
		key string
		rr  dns.RR
	}{key, rr})
}

func (s *diffState) remove(key string) bool {
	i, ok := s.index[key]
	if !ok || s.entries[i].rr == nil {
		return false
	}
	s.entries[i].rr = nil
	return true
}

// rrKey identifies a record for IXFR: owner (case-insensitive), type and
// rdata, but not the TTL (RFC 2181 section 5.2: TTLs are not part of a
// record's identity).
func rrKey(rr dns.RR) string {
	h := rr.Header()
	s := rr.String()
	// The presentation form is "name\tttl\tclass\ttype\trdata"; names
	// escape tabs, so the rdata starts after the fourth tab.
	rdata := s
	for range 4 {
		_, after, ok := strings.Cut(rdata, "\t")
		if !ok {
			break
		}
		rdata = after
	}
	return lowerName(h.Name) + " " + strconv.Itoa(int(h.Rrtype)) + " " + rdata
}

// lowerName lowercases a name, without allocating when it already is.
func lowerName(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 'A' && c <= 'Z' {
			return strings.ToLower(s)
		}
	}
	return s
}
