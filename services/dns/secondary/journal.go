package secondary

import "github.com/miekg/dns"

// journal keeps the most recent IXFR diffs a zone received, so that
// downstreams asking for IXFR get just the change (RFC 1995) instead of
// the whole zone. It is in memory only and bounded: a restart, an AXFR or
// a gap empties it, and clients then get the full zone in AXFR form,
// which RFC 1995 allows as an answer to IXFR.
type journal struct {
	diffs   []diff
	records int
}

// Journal bounds per zone.
const (
	journalMaxDiffs   = 64
	journalMaxRecords = 20_000
)

// add appends diffs, which must follow on from the journal's last one,
// and drops the oldest beyond the bounds. The diffs' records must not be
// shared with anything that changes them.
func (j *journal) add(ds []diff) {
	for _, d := range ds {
		if n := len(j.diffs); n > 0 && j.diffs[n-1].to.Serial != d.from.Serial {
			j.reset()
		}
		j.diffs = append(j.diffs, d)
		j.records += len(d.del) + len(d.add)
	}
	for len(j.diffs) > 0 && (len(j.diffs) > journalMaxDiffs || j.records > journalMaxRecords) {
		j.records -= len(j.diffs[0].del) + len(j.diffs[0].add)
		j.diffs = j.diffs[1:]
	}
}

func (j *journal) reset() { j.diffs, j.records = nil, 0 }

// since returns the diffs leading from serial to the newest version, or
// false when the journal does not reach back that far.
func (j *journal) since(serial uint32) ([]diff, bool) {
	for i, d := range j.diffs {
		if d.from.Serial == serial {
			return j.diffs[i:], true
		}
	}
	return nil, false
}

// copyDiffs deep-copies diffs, which then share nothing with a zone.
func copyDiffs(ds []diff) []diff {
	out := make([]diff, len(ds))
	for i, d := range ds {
		out[i] = diff{from: dns.Copy(d.from).(*dns.SOA), to: dns.Copy(d.to).(*dns.SOA),
			del: copyRRs(d.del), add: copyRRs(d.add)}
	}
	return out
}

func copyRRs(rrs []dns.RR) []dns.RR {
	out := make([]dns.RR, len(rrs))
	for i, rr := range rrs {
		out[i] = dns.Copy(rr)
	}
	return out
}
