package authdns

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"

	"github.com/miekg/dns"
)

// A zone keeps its records in wire format, in one byte slice: a dns.RR
// struct costs 60 to 100 bytes and an allocation or two per record, its
// wire form 10 to 40 bytes and none. Records are turned back into dns.RR
// values when a lookup needs them; the network layer caches whole
// responses, so that happens on cache misses only.
//
// A node's data starts at z.data[n.off] with the number of its RRsets as
// a uvarint. Each RRset is its type (2 bytes, big endian), then as
// uvarints the number of data records, the number of RRSIGs covering the
// type and the byte length of the records; then the records, data first.
// A record is TTL (4 bytes), RDLENGTH (2 bytes) and the rdata as miekg/dns
// packs it, names uncompressed and in their original case. Owner name and
// class are the node's, the type is the RRset's or RRSIG. Nodes without
// data (empty non-terminals) all point at z.data[0], which is 0.

// setHdr describes one RRset in the arena.
type setHdr struct {
	typ  uint16
	n    int    // data records
	nsig int    // RRSIGs covering typ
	body []byte // the records
}

// setIter walks the RRsets of a node without decoding their records.
type setIter struct {
	b    []byte
	left int
}

func (z *Zone) setsOf(n *node) setIter {
	b := z.data[n.off:]
	c, k := binary.Uvarint(b)
	return setIter{b: b[k:], left: int(c)}
}

func (it *setIter) next() (h setHdr, ok bool) {
	if it.left <= 0 {
		return h, false
	}
	it.left--
	b := it.b
	h.typ = binary.BigEndian.Uint16(b)
	b = b[2:]
	v, k := binary.Uvarint(b)
	h.n, b = int(v), b[k:]
	v, k = binary.Uvarint(b)
	h.nsig, b = int(v), b[k:]
	v, k = binary.Uvarint(b)
	b = b[k:]
	h.body, it.b = b[:v:v], b[v:]
	return h, true
}

// findSet returns the header of the RRset of type t at n, data or not.
func (z *Zone) findSet(n *node, t uint16) (setHdr, bool) {
	it := z.setsOf(n)
	for h, ok := it.next(); ok; h, ok = it.next() {
		if h.typ == t {
			return h, true
		}
	}
	return setHdr{}, false
}

// has reports whether n has an RRset of type t with at least one record.
func (z *Zone) has(n *node, t uint16) bool {
	h, ok := z.findSet(n, t)
	return ok && h.n > 0
}

// empty reports whether n holds no data: an empty non-terminal.
func (z *Zone) empty(n *node) bool {
	it := z.setsOf(n)
	for h, ok := it.next(); ok; h, ok = it.next() {
		if h.n > 0 {
			return false
		}
	}
	return true
}

// decode turns an RRset of n back into records.
func decode(n *node, h setHdr) rrset {
	rrs := make([]dns.RR, h.n+h.nsig)
	decodeInto(rrs, n, h)
	return rrset{rrs: rrs, n: int32(h.n), typ: h.typ}
}

// decodeSet is decode for a lookup: the RRset and, for the common
// one-record RRset, its slice in one allocation.
func decodeSet(n *node, h setHdr) *rrset {
	if h.n+h.nsig == 1 {
		one := &struct {
			s  rrset
			rr [1]dns.RR
		}{}
		decodeInto(one.rr[:], n, h)
		one.s = rrset{rrs: one.rr[:], n: int32(h.n), typ: h.typ}
		return &one.s
	}
	s := decode(n, h)
	return &s
}

// decodeInto fills rrs with the records of h. Addresses are not copied:
// they point into the arena, which is never modified.
func decodeInto(rrs []dns.RR, n *node, h setHdr) {
	b := h.body
	for i := range rrs {
		t := h.typ
		if i >= h.n {
			t = dns.TypeRRSIG
		}
		rdlen := int(binary.BigEndian.Uint16(b[4:]))
		hdr := dns.RR_Header{Name: n.name, Rrtype: t, Class: dns.ClassINET, Ttl: binary.BigEndian.Uint32(b), Rdlength: uint16(rdlen)}
		end := 6 + rdlen
		switch {
		case t == dns.TypeA && rdlen == 4:
			rrs[i] = &dns.A{Hdr: hdr, A: b[6:end:end]}
		case t == dns.TypeAAAA && rdlen == 16:
			rrs[i] = &dns.AAAA{Hdr: hdr, AAAA: b[6:end:end]}
		default:
			rr, _, err := dns.UnpackRRWithHeader(hdr, b[:end:end], 6)
			if err != nil {
				// It packed, so this does not happen; but the unknown-type
				// form would still put the same bytes on the wire.
				rr = &dns.RFC3597{Hdr: hdr, Rdata: hex.EncodeToString(b[6:end])}
			}
			rrs[i] = rr
		}
		b = b[end:]
	}
}

// decodeAll decodes every RRset of n, in order.
func (z *Zone) decodeAll(n *node) []rrset {
	var out []rrset
	it := z.setsOf(n)
	for h, ok := it.next(); ok; h, ok = it.next() {
		out = append(out, decode(n, h))
	}
	return out
}

// packer appends RRsets to a zone's arena.
type packer struct {
	data    []byte
	scratch []byte
	rec     []byte
}

// node appends the RRsets of one node and returns where they start.
func (p *packer) node(sets []rrset) (uint32, error) {
	if len(sets) == 0 {
		return 0, nil
	}
	off := len(p.data)
	if uint64(off) > 1<<32-1 {
		return 0, fmt.Errorf("zone data over 4 GiB")
	}
	p.data = binary.AppendUvarint(p.data, uint64(len(sets)))
	for _, s := range sets {
		p.rec = p.rec[:0]
		for _, rr := range s.rrs {
			var err error
			if p.rec, err = p.record(p.rec, rr); err != nil {
				return 0, err
			}
		}
		p.data = binary.BigEndian.AppendUint16(p.data, s.typ)
		p.data = binary.AppendUvarint(p.data, uint64(s.n))
		p.data = binary.AppendUvarint(p.data, uint64(len(s.rrs)-int(s.n)))
		p.data = binary.AppendUvarint(p.data, uint64(len(p.rec)))
		p.data = append(p.data, p.rec...)
	}
	return uint32(off), nil
}

// record appends TTL, RDLENGTH and rdata of rr. It packs rr with the root
// as owner name, which is one byte, and restores the name afterwards.
func (p *packer) record(out []byte, rr dns.RR) ([]byte, error) {
	if p.scratch == nil {
		p.scratch = make([]byte, 1+10+65535)
	}
	h := rr.Header()
	name := h.Name
	h.Name = "."
	end, err := dns.PackRR(rr, p.scratch, 0, nil, false)
	h.Name = name
	if err != nil {
		return out, fmt.Errorf("%w: %s", err, rr)
	}
	return append(out, p.scratch[5:end]...), nil // skip name, type and class
}
