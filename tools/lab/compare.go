package lab

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/miekg/dns"
)

// Fields Compare checks. A Comparer's Ignore set takes these names.
const (
	FieldResponse   = "response" // one side has no reply (timeout, error)
	FieldRcode      = "rcode"    // including the extended bits from OPT
	FieldOpcode     = "opcode"
	FieldAA         = "flag.aa"
	FieldTC         = "flag.tc"
	FieldRD         = "flag.rd"
	FieldRA         = "flag.ra"
	FieldAD         = "flag.ad"
	FieldCD         = "flag.cd"
	FieldZ          = "flag.z"
	FieldQuestion   = "question" // names compared case-sensitively
	FieldAnswer     = "answer"
	FieldAuthority  = "authority"
	FieldAdditional = "additional" // without OPT and TSIG
	FieldTTL        = "ttl"        // ignore to compare sections without TTLs
	FieldCase       = "case"       // ignore to compare names in sections case-insensitively
	FieldOPT        = "opt"        // OPT present on one side only
	FieldOPTVersion = "opt.version"
	FieldOPTDO      = "opt.do"
	FieldOPTUDPSize = "opt.udpsize"
	FieldOPTOptions = "opt.options" // ignore to skip every EDNS option
	FieldTSIG       = "tsig"        // TSIG present on one side only
)

// OptionField names one EDNS option code for a Comparer's Ignore set,
// e.g. OptionField(dns.EDNS0NSID) is "opt.option.3".
func OptionField(code uint16) string { return "opt.option." + strconv.Itoa(int(code)) }

// Difference is one way two responses differ.
type Difference struct {
	Field string // one of the Field constants
	A, B  string // each side's value; for sections, the records only it has
}

func (d Difference) String() string { return fmt.Sprintf("%s: %s | %s", d.Field, d.A, d.B) }

// Comparer compares responses field by field, skipping the fields in
// Ignore: the documented, deliberate differences of a server under test.
type Comparer struct {
	Ignore map[string]bool
}

// Compare compares two responses with nothing ignored.
func Compare(a, b *dns.Msg) []Difference { return Comparer{}.Compare(a, b) }

// Compare returns every difference between a and b: header fields,
// the question, each section as a multiset of records (order does not
// matter, duplicates do), and the OPT record by its parts. The message
// ID is not compared.
func (c Comparer) Compare(a, b *dns.Msg) []Difference {
	var d diffs
	d.ignore = c.Ignore
	if a == nil || b == nil {
		if a != b {
			d.add(FieldResponse, present(a != nil), present(b != nil))
		}
		return d.list
	}
	d.add(FieldRcode, dns.RcodeToString[a.Rcode], dns.RcodeToString[b.Rcode])
	d.add(FieldOpcode, dns.OpcodeToString[a.Opcode], dns.OpcodeToString[b.Opcode])
	d.add(FieldAA, a.Authoritative, b.Authoritative)
	d.add(FieldTC, a.Truncated, b.Truncated)
	d.add(FieldRD, a.RecursionDesired, b.RecursionDesired)
	d.add(FieldRA, a.RecursionAvailable, b.RecursionAvailable)
	d.add(FieldAD, a.AuthenticatedData, b.AuthenticatedData)
	d.add(FieldCD, a.CheckingDisabled, b.CheckingDisabled)
	d.add(FieldZ, a.Zero, b.Zero)
	d.add(FieldQuestion, questions(a), questions(b))
	k := keyer{ttl: !c.Ignore[FieldTTL], nameCase: !c.Ignore[FieldCase]}
	d.section(FieldAnswer, a.Answer, b.Answer, k)
	d.section(FieldAuthority, a.Ns, b.Ns, k)
	d.section(FieldAdditional, a.Extra, b.Extra, k)
	d.opt(a.IsEdns0(), b.IsEdns0())
	d.add(FieldTSIG, a.IsTsig() != nil, b.IsTsig() != nil)
	return d.list
}

type diffs struct {
	ignore map[string]bool
	list   []Difference
}

func (d *diffs) add(field string, a, b any) {
	if d.ignore[field] {
		return
	}
	sa, sb := fmt.Sprint(a), fmt.Sprint(b)
	if sa != sb {
		d.list = append(d.list, Difference{Field: field, A: sa, B: sb})
	}
}

func present(ok bool) string {
	if ok {
		return "reply"
	}
	return "no reply"
}

func questions(m *dns.Msg) string {
	var qs []string
	for _, q := range m.Question {
		qs = append(qs, q.Name+" "+dns.Class(q.Qclass).String()+" "+dns.Type(q.Qtype).String())
	}
	return strings.Join(qs, ", ")
}

// section compares two sections as multisets of records in presentation
// form, leaving out OPT and TSIG, which are compared on their own.
func (d *diffs) section(field string, a, b []dns.RR, k keyer) {
	if d.ignore[field] {
		return
	}
	count := map[string]int{}
	for _, rr := range a {
		if s, ok := k.key(rr); ok {
			count[s]++
		}
	}
	for _, rr := range b {
		if s, ok := k.key(rr); ok {
			count[s]--
		}
	}
	var onlyA, onlyB []string
	for s, n := range count {
		for ; n > 0; n-- {
			onlyA = append(onlyA, s)
		}
		for ; n < 0; n++ {
			onlyB = append(onlyB, s)
		}
	}
	if len(onlyA)+len(onlyB) == 0 {
		return
	}
	slices.Sort(onlyA)
	slices.Sort(onlyB)
	d.list = append(d.list, Difference{Field: field, A: strings.Join(onlyA, "; "), B: strings.Join(onlyB, "; ")})
}

// keyer turns a record into the string sections are compared by.
type keyer struct{ ttl, nameCase bool }

func (k keyer) key(rr dns.RR) (string, bool) {
	switch rr.Header().Rrtype {
	case dns.TypeOPT, dns.TypeTSIG:
		return "", false
	}
	if !k.ttl || !k.nameCase {
		rr = dns.Copy(rr)
	}
	if !k.ttl {
		rr.Header().Ttl = 0
	}
	if !k.nameCase {
		lowerNames(rr)
	}
	return strings.ReplaceAll(rr.String(), "\t", " "), true
}

// lowerNames lower-cases the owner and the domain names in the data of the
// record types our zones hold. Name compression against a mixed-case
// question changes their case in ways servers need not agree on.
func lowerNames(rr dns.RR) {
	h := rr.Header()
	h.Name = strings.ToLower(h.Name)
	switch v := rr.(type) {
	case *dns.NS:
		v.Ns = strings.ToLower(v.Ns)
	case *dns.CNAME:
		v.Target = strings.ToLower(v.Target)
	case *dns.DNAME:
		v.Target = strings.ToLower(v.Target)
	case *dns.PTR:
		v.Ptr = strings.ToLower(v.Ptr)
	case *dns.MX:
		v.Mx = strings.ToLower(v.Mx)
	case *dns.SRV:
		v.Target = strings.ToLower(v.Target)
	case *dns.SOA:
		v.Ns, v.Mbox = strings.ToLower(v.Ns), strings.ToLower(v.Mbox)
	case *dns.NSEC:
		v.NextDomain = strings.ToLower(v.NextDomain)
	case *dns.RRSIG:
		v.SignerName = strings.ToLower(v.SignerName)
	}
}

func (d *diffs) opt(a, b *dns.OPT) {
	if (a == nil) != (b == nil) {
		d.add(FieldOPT, a != nil, b != nil)
		return
	}
	if a == nil {
		return
	}
	d.add(FieldOPTVersion, a.Version(), b.Version())
	d.add(FieldOPTDO, a.Do(), b.Do())
	d.add(FieldOPTUDPSize, a.UDPSize(), b.UDPSize())
	if d.ignore[FieldOPTOptions] {
		return
	}
	oa, ob := options(a), options(b)
	for _, code := range unionKeys(oa, ob) {
		d.add(OptionField(code), oa[code], ob[code])
	}
}

// options maps each EDNS option code to its values in presentation form.
func options(o *dns.OPT) map[uint16]string {
	m := map[uint16]string{}
	for _, e := range o.Option {
		v := e.String()
		if m[e.Option()] != "" {
			v = m[e.Option()] + "," + v
		}
		m[e.Option()] = v
	}
	return m
}

func unionKeys(a, b map[uint16]string) []uint16 {
	var keys []uint16
	for k := range a {
		keys = append(keys, k)
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	return keys
}
