package dnsserver

import "encoding/binary"

// Header bits.
const (
	bitQR = 1 << 15
	bitAA = 1 << 10
	bitTC = 1 << 9
	bitRD = 1 << 8
	bitCD = 1 << 4
)

const (
	headerLen  = 12
	typeOPT    = 41
	optionNSID = 3
)

// query is what the fast path needs from a request, parsed in place from the
// wire without allocating. Anything unusual (several questions, records in
// answer or authority, compression in the question, TSIG, trailing bytes,
// an opcode other than QUERY) fails parseQuery and takes the slow path
// through miekg/dns, which handles every case; the fast path only has to be
// right for the common one.
type query struct {
	id      uint16
	flags   uint16
	qname   []byte // wire form, as sent (case preserved)
	qtype   uint16
	qclass  uint16
	edns    bool
	version uint8
	do      bool
	nsid    bool
	udpSize uint16
}

// parseQuery parses b as a plain query, reporting false if it is not one.
func parseQuery(b []byte) (q query, ok bool) {
	if len(b) < headerLen+5 {
		return q, false
	}
	q.id = binary.BigEndian.Uint16(b)
	q.flags = binary.BigEndian.Uint16(b[2:])
	if q.flags&bitQR != 0 || q.flags&0x7800 != 0 { // response, or opcode not QUERY
		return q, false
	}
	qd := binary.BigEndian.Uint16(b[4:])
	an := binary.BigEndian.Uint16(b[6:])
	ns := binary.BigEndian.Uint16(b[8:])
	ar := binary.BigEndian.Uint16(b[10:])
	if qd != 1 || an != 0 || ns != 0 || ar > 1 {
		return q, false
	}
	off := headerLen
	for {
		if off >= len(b) {
			return q, false
		}
		l := int(b[off])
		if l&0xc0 != 0 { // compression or an extended label type
			return q, false
		}
		off += 1 + l
		if l == 0 {
			break
		}
		if off-headerLen > 255 {
			return q, false
		}
	}
	if off-headerLen > 255 || off+4 > len(b) {
		return q, false
	}
	q.qname = b[headerLen:off]
	q.qtype = binary.BigEndian.Uint16(b[off:])
	q.qclass = binary.BigEndian.Uint16(b[off+2:])
	off += 4
	if ar == 0 {
		return q, off == len(b)
	}
	// The one additional record must be an OPT owned by the root.
	if off+11 > len(b) || b[off] != 0 || binary.BigEndian.Uint16(b[off+1:]) != typeOPT {
		return q, false
	}
	q.edns = true
	q.udpSize = binary.BigEndian.Uint16(b[off+3:])
	if b[off+5] != 0 { // extended RCODE bits in a query: let the slow path judge
		return q, false
	}
	q.version = b[off+6]
	q.do = b[off+7]&0x80 != 0
	rdlen := int(binary.BigEndian.Uint16(b[off+9:]))
	off += 11
	if off+rdlen != len(b) {
		return q, false
	}
	for opts := b[off:]; len(opts) > 0; {
		if len(opts) < 4 {
			return q, false
		}
		code := binary.BigEndian.Uint16(opts)
		olen := int(binary.BigEndian.Uint16(opts[2:]))
		if 4+olen > len(opts) {
			return q, false
		}
		if code == optionNSID {
			q.nsid = true
		}
		opts = opts[4+olen:]
	}
	return q, true
}
