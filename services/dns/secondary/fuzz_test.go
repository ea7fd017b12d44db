package secondary

import (
	"encoding/binary"
	"testing"

	"github.com/miekg/dns"
)

// FuzzZoneFile feeds arbitrary bytes to the zone-file decoder, which reads
// files a power cut or a bad SD card may have mangled. It must never
// panic, and whatever it accepts must encode back to a file it accepts.
func FuzzZoneFile(f *testing.F) {
	for _, n := range []int{3, 40} {
		b, err := encodeZone(mustZone(f, "example.com.", genRecords("example.com.", 1, n)))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(fileMagic))
	f.Fuzz(func(t *testing.T, data []byte) {
		// Re-seal the checksum half the time, so the fuzzer gets past it
		// and into the record decoder.
		if len(data) >= headerLen && len(data)%2 == 0 {
			binary.BigEndian.PutUint32(data[20:], crcOf(data[headerLen:]))
		}
		z, err := decodeZone(data)
		if err != nil {
			return
		}
		b, err := encodeZone(z)
		if err != nil {
			t.Fatalf("accepted zone does not encode: %v", err)
		}
		if _, err := decodeZone(b); err != nil {
			t.Fatalf("re-encoded zone does not decode: %v", err)
		}
	})
}

// FuzzXFR feeds a sequence of transfer messages to the AXFR/IXFR parser
// and applies what it accepts to a base zone, as a refresh does. The input
// is a list of length-prefixed wire messages. It must never panic.
func FuzzXFR(f *testing.F) {
	base := mustZone(f, "example.com.", parseRRs(f, "example.com.", ixfrBase))
	seed := func(ixfr bool, text string, per int) {
		var in []byte
		if ixfr {
			in = append(in, 1)
		} else {
			in = append(in, 0)
		}
		for _, m := range msgs(parseRRs(f, "example.com.", text), per) {
			b, err := m.Pack()
			if err != nil {
				f.Fatal(err)
			}
			in = binary.BigEndian.AppendUint16(in, uint16(len(b)))
			in = append(in, b...)
		}
		f.Add(in)
	}
	soa := func(serial string) string {
		return "@ 3600 IN SOA ns1 hostmaster " + serial + " 7200 900 1209600 300\n"
	}
	seed(false, soa("2")+"www A 192.0.2.1\nwww AAAA 2001:db8::1\n"+soa("2"), 2)
	seed(true, soa("3")+soa("1")+"www A 192.0.2.1\n"+soa("2")+"www A 192.0.2.3\n"+soa("2")+soa("3")+"x A 192.0.2.4\n"+soa("3"), 3)
	seed(true, soa("1"), 1)
	f.Fuzz(func(t *testing.T, in []byte) {
		if len(in) == 0 {
			return
		}
		ixfr := in[0]&1 == 1
		in = in[1:]
		p := newXFRParser("example.com.", ixfr, base.Serial(), Limits{MaxRecords: 1000, MaxBytes: 1 << 20})
		for len(in) >= 2 && !p.done() {
			n := int(binary.BigEndian.Uint16(in))
			in = in[2:]
			if n > len(in) {
				return
			}
			m := new(dns.Msg)
			if m.Unpack(in[:n]) != nil {
				return
			}
			if p.feed(m, n) != nil {
				return
			}
			in = in[n:]
		}
		res, err := p.result()
		if err != nil || res.upToDate {
			return
		}
		rrs := res.axfr
		if rrs == nil {
			if rrs, err = applyDiffs(base, res.diffs); err != nil {
				return
			}
		}
		_, _ = buildZone("example.com.", rrs)
	})
}
