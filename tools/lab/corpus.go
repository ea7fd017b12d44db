package lab

import (
	"fmt"
	"slices"
	"strings"

	"github.com/miekg/dns"
)

// Query is one query of a corpus: a question and how it is sent.
type Query struct {
	Name string
	Type uint16
	Net  string // "udp" or "tcp"
	EDNS bool   // send an OPT record (payload size 1232)
	DO   bool   // set the DNSSEC OK bit (implies EDNS)
	Kind string // which probe made it: "owner", "wildcard", "below-cut", ...
}

// Msg builds the query message, with RD clear as a resolver sends it to
// an authoritative server.
func (q Query) Msg() *dns.Msg {
	m := &dns.Msg{Question: []dns.Question{{Name: q.Name, Qtype: q.Type, Qclass: dns.ClassINET}}}
	m.Id = dns.Id()
	if q.EDNS || q.DO {
		m.SetEdns0(1232, q.DO)
	}
	return m
}

func (q Query) String() string {
	s := q.Net
	if q.EDNS || q.DO {
		s += " +edns"
	}
	if q.DO {
		s += " +do"
	}
	return fmt.Sprintf("%s %s %s [%s]", s, q.Name, dns.Type(q.Type), q.Kind)
}

// Query types. allTypes is asked of every name that exists; the others
// are trimmed to what tells the probe's cases apart, which keeps a whole
// corpus run to seconds.
var (
	allTypes = []uint16{
		dns.TypeA, dns.TypeAAAA, dns.TypeNS, dns.TypeSOA, dns.TypeMX, dns.TypeTXT,
		dns.TypeCNAME, dns.TypeDNAME, dns.TypeDS, dns.TypeDNSKEY, dns.TypeNSEC,
		dns.TypeNSEC3, dns.TypeNSEC3PARAM, dns.TypeRRSIG, dns.TypeSRV, dns.TypePTR,
		dns.TypeCAA, dns.TypeHINFO, dns.TypeANY, 65534,
	}
	negativeTypes = []uint16{dns.TypeA, dns.TypeAAAA, dns.TypeMX, dns.TypeTXT, dns.TypeDS, dns.TypeANY}
	hashTypes     = []uint16{dns.TypeNSEC3, dns.TypeRRSIG, dns.TypeA, dns.TypeANY}
	cutTypes      = []uint16{dns.TypeA, dns.TypeAAAA, dns.TypeNS, dns.TypeDS, dns.TypeSOA, dns.TypeTXT, dns.TypeANY}
	caseTypes     = []uint16{dns.TypeA, dns.TypeMX, dns.TypeNS, dns.TypeCNAME, dns.TypeDS, dns.TypeTXT}
	outsideTypes  = []uint16{dns.TypeA, dns.TypeSOA, dns.TypeNS, dns.TypeANY}
)

// probes are the kinds of names the corpus asks about, in corpus order.
var probes = []struct {
	kind  string
	names func(ix *zoneIndex) []string
	types []uint16
}{
	{"owner", (*zoneIndex).owners, allTypes},
	{"nsec3-owner", (*zoneIndex).hashedOwners, hashTypes},
	{"empty-non-terminal", (*zoneIndex).emptyNonTerminals, allTypes},
	{"nonexistent", (*zoneIndex).nonexistent, negativeTypes},
	{"wildcard", (*zoneIndex).wildcardMatches, allTypes},
	{"below-cut", (*zoneIndex).belowCuts, cutTypes},
	{"mixed-case", (*zoneIndex).mixedCase, caseTypes},
	{"out-of-zone", (*zoneIndex).outOfZone, outsideTypes},
}

// variants are the ways each question is sent: with no EDNS, EDNS with
// DO=0 and with DO=1, over UDP and over TCP.
var variants = []struct {
	net          string
	edns, dnssec bool
}{
	{"udp", false, false}, {"udp", true, false}, {"udp", true, true},
	{"tcp", false, false}, {"tcp", true, false}, {"tcp", true, true},
}

// Corpus generates queries from the zones' contents: every owner name
// with every type of interest, empty non-terminals, names that do not
// exist under each name, names wildcards match, names below zone cuts
// (referrals) and below the child's child, mixed-case spellings, and names
// outside every zone (REFUSED). Each question is sent in every variant.
// The result depends only on the zones, so runs can be compared.
func Corpus(zones []Zone) ([]Query, error) {
	served := map[string]bool{}
	for _, z := range zones {
		served[canonical(z.Name)] = true
	}
	var qs []Query
	seen := map[string]bool{}
	for _, z := range zones {
		rrs, err := z.RRs()
		if err != nil {
			return nil, err
		}
		ix := newZoneIndex(canonical(z.Name), rrs, served)
		for _, p := range probes {
			for _, name := range p.names(ix) {
				for _, t := range p.types {
					for _, v := range variants {
						q := Query{Name: name, Type: t, Net: v.net, EDNS: v.edns, DO: v.dnssec, Kind: p.kind}
						key := fmt.Sprint(q.Net, q.EDNS, q.DO, q.Type, q.Name)
						if !seen[key] {
							seen[key] = true
							qs = append(qs, q)
						}
					}
				}
			}
		}
	}
	return qs, nil
}

// zoneIndex is what the probes need to know about one zone.
type zoneIndex struct {
	origin string          // canonical
	served map[string]bool // every origin the server serves
	names  []string        // owner names as spelled in the zone, sorted
	types  map[string]map[uint16]bool
	cuts   []string // delegation points, canonical
}

func newZoneIndex(origin string, rrs []dns.RR, served map[string]bool) *zoneIndex {
	ix := &zoneIndex{origin: origin, served: served, types: map[string]map[uint16]bool{}}
	for _, rr := range rrs {
		h := rr.Header()
		c := canonical(h.Name)
		if ix.types[c] == nil {
			ix.types[c] = map[uint16]bool{}
			ix.names = append(ix.names, h.Name)
		}
		ix.types[c][h.Rrtype] = true
		if h.Rrtype == dns.TypeNS && c != origin && !slices.Contains(ix.cuts, c) {
			ix.cuts = append(ix.cuts, c)
		}
	}
	sortNames(ix.names)
	slices.Sort(ix.cuts)
	return ix
}

func sortNames(names []string) {
	slices.SortFunc(names, func(a, b string) int {
		if c := strings.Compare(canonical(a), canonical(b)); c != 0 {
			return c
		}
		return strings.Compare(a, b)
	})
}

// hashed says whether name holds only NSEC3 records: an NSEC3 owner, which
// is worth fewer query types than a real name.
func (ix *zoneIndex) hashed(name string) bool {
	t := ix.types[canonical(name)]
	return t[dns.TypeNSEC3] && len(t) <= 2 && (len(t) == 1 || t[dns.TypeRRSIG])
}

func (ix *zoneIndex) owners() []string {
	var out []string
	for _, n := range ix.names {
		if !ix.hashed(n) {
			out = append(out, n)
		}
	}
	return out
}

func (ix *zoneIndex) hashedOwners() []string {
	var out []string
	for _, n := range ix.names {
		if ix.hashed(n) {
			out = append(out, n)
		}
	}
	return out
}

// emptyNonTerminals are the names between an owner and the apex that own
// no records themselves.
func (ix *zoneIndex) emptyNonTerminals() []string {
	set := map[string]bool{}
	for _, n := range ix.owners() {
		for _, a := range ancestors(n, ix.origin) {
			if ix.types[canonical(a)] == nil {
				set[a] = true
			}
		}
	}
	return sortedKeys(set)
}

// nonexistent are names one label below every name that exists. Some land
// under a wildcard or below a cut: the answer then is the wildcard's or a
// referral, which is worth asking too.
func (ix *zoneIndex) nonexistent() []string {
	var out []string
	for _, n := range append(ix.owners(), ix.emptyNonTerminals()...) {
		out = append(out, "nx-lab."+n)
	}
	sortNames(out)
	return out
}

// wildcardMatches are names that each wildcard (owner or, with a child,
// empty non-terminal) synthesizes: one and two labels below it.
func (ix *zoneIndex) wildcardMatches() []string {
	var out []string
	for _, n := range append(ix.owners(), ix.emptyNonTerminals()...) {
		if parent, ok := strings.CutPrefix(n, "*."); ok {
			out = append(out, "wild-lab."+parent, "a.wild-lab."+parent)
		}
	}
	sortNames(out)
	return out
}

// belowCuts are names under each delegation, one level down and in the
// child's own child.
func (ix *zoneIndex) belowCuts() []string {
	var out []string
	for _, c := range ix.cuts {
		out = append(out, "www."+c, "a.b."+c)
	}
	sortNames(out)
	return out
}

// mixedCase respells names of every kind in alternating case; answers
// must keep the question's spelling.
func (ix *zoneIndex) mixedCase() []string {
	names := ix.owners()
	names = append(names, "nx-lab."+ix.origin)
	for _, w := range ix.wildcardMatches() {
		if !strings.HasPrefix(w, "a.") {
			names = append(names, w)
		}
	}
	for _, c := range ix.cuts {
		names = append(names, "www."+c)
	}
	var out []string
	for _, n := range names {
		out = append(out, alternateCase(n))
	}
	sortNames(out)
	return out
}

// outOfZone are names no served zone holds: the apex's parent, a sibling,
// a name sharing the apex's last characters but not its labels, the root
// and a reserved TLD.
func (ix *zoneIndex) outOfZone() []string {
	parent := "."
	if labels := dns.Split(ix.origin); len(labels) > 1 {
		parent = ix.origin[labels[1]:]
	}
	var out []string
	for _, n := range []string{parent, "outside-lab." + parent, "x" + ix.origin, ".", "example.invalid."} {
		if !ix.served[canonical(n)] && !ix.underServed(n) {
			out = append(out, n)
		}
	}
	sortNames(out)
	return slices.Compact(out)
}

func (ix *zoneIndex) underServed(name string) bool {
	for z := range ix.served {
		if dns.IsSubDomain(z, canonical(name)) {
			return true
		}
	}
	return false
}

// ancestors lists the names strictly between name and origin.
func ancestors(name, origin string) []string {
	var out []string
	offs := dns.Split(name)
	for _, off := range offs[1:] {
		a := name[off:]
		if len(a) <= len(origin) {
			break
		}
		out = append(out, a)
	}
	return out
}

// alternateCase spells the letters of each label alternately upper and
// lower case, starting upper: "www.example.test." becomes
// "WwW.ExAmPlE.TeSt.".
func alternateCase(name string) string {
	b := []byte(name)
	upper := true
	for i, c := range b {
		switch {
		case c == '.':
			upper = true
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z':
			if upper {
				b[i] = c &^ 0x20
			} else {
				b[i] = c | 0x20
			}
			upper = !upper
		}
	}
	return string(b)
}

func sortedKeys(set map[string]bool) []string {
	out := make([]string, 0, len(set))
	for k := range set {
		out = append(out, k)
	}
	sortNames(out)
	return out
}
