package authdns

import (
	"fmt"
	"net"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// genRecords makes an n-record zone: host<i> names with an A record, every
// fourth with an AAAA too, under an apex with SOA, NS and a wildcard.
func genRecords(origin string, n int) []dns.RR {
	hdr := func(name string, t uint16) dns.RR_Header {
		return dns.RR_Header{Name: name, Rrtype: t, Class: dns.ClassINET, Ttl: 3600}
	}
	rrs := make([]dns.RR, 0, n)
	rrs = append(rrs,
		&dns.SOA{Hdr: hdr(origin, dns.TypeSOA), Ns: "ns1." + origin, Mbox: "hostmaster." + origin, Serial: 1, Refresh: 7200, Retry: 900, Expire: 1209600, Minttl: 300},
		&dns.NS{Hdr: hdr(origin, dns.TypeNS), Ns: "ns1." + origin},
		&dns.A{Hdr: hdr("ns1."+origin, dns.TypeA), A: net.IPv4(192, 0, 2, 53).To4()},
		&dns.A{Hdr: hdr("*.wild."+origin, dns.TypeA), A: net.IPv4(192, 0, 2, 99).To4()})
	for i := 0; len(rrs) < n; i++ {
		name := fmt.Sprintf("host%d.%s", i, origin)
		rrs = append(rrs, &dns.A{Hdr: hdr(name, dns.TypeA), A: net.IPv4(10, byte(i>>16), byte(i>>8), byte(i)).To4()})
		if i%4 == 0 && len(rrs) < n {
			rrs = append(rrs, &dns.AAAA{Hdr: hdr(name, dns.TypeAAAA), AAAA: net.ParseIP(fmt.Sprintf("2001:db8::%x:%x", i>>16, i&0xffff))})
		}
	}
	return rrs
}

func zoneText(rrs []dns.RR) string {
	var b strings.Builder
	for _, rr := range rrs {
		b.WriteString(rr.String())
		b.WriteByte('\n')
	}
	return b.String()
}

// benchZones serves a 100k-record example.com. among total zones.
func benchZones(b *testing.B, total int) *Zones {
	b.Helper()
	zs := NewZones()
	z, err := NewZone("example.com.", genRecords("example.com.", 100_000))
	if err != nil {
		b.Fatal(err)
	}
	zones := []*Zone{z}
	for i := 1; i < total; i++ {
		o := fmt.Sprintf("zone%d.example.net.", i)
		z, err := NewZone(o, genRecords(o, 10))
		if err != nil {
			b.Fatal(err)
		}
		zones = append(zones, z)
	}
	if err := zs.Add(zones...); err != nil {
		b.Fatal(err)
	}
	return zs
}

func BenchmarkAnswer(b *testing.B) {
	for _, total := range []int{1, 10_000} {
		zs := benchZones(b, total)
		for _, q := range []struct{ name, qname string }{
			{"exact", "host4711.example.com."},
			{"nxdomain", "nothere.example.com."},
			{"wildcard", "foo.wild.example.com."},
		} {
			b.Run(fmt.Sprintf("%s/zones=%d", q.name, total), func(b *testing.B) {
				m := new(dns.Msg)
				m.SetQuestion(q.qname, dns.TypeA)
				b.ReportAllocs()
				for b.Loop() {
					zs.Answer(m, false)
				}
			})
		}
	}
}

// BenchmarkAnswerPack includes packing to wire format, the part of a
// query's cost that the network layer adds.
func BenchmarkAnswerPack(b *testing.B) {
	zs := benchZones(b, 1)
	m := new(dns.Msg)
	m.SetQuestion("host4711.example.com.", dns.TypeA)
	buf := make([]byte, 0, 512)
	b.ReportAllocs()
	for b.Loop() {
		r := zs.Answer(m, false)
		if _, err := r.PackBuffer(buf); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAnswerSigned(b *testing.B) {
	zs := loadTestZones(b)
	for _, q := range []struct{ name, qname string }{
		{"nsec/nxdomain", "nothere.nsec.example."},
		{"nsec3/nxdomain", "nothere.nsec3.example."},
		{"nsec3/wildcard", "foo.wild.nsec3.example."},
	} {
		b.Run(q.name, func(b *testing.B) {
			m := new(dns.Msg)
			m.SetQuestion(q.qname, dns.TypeA)
			m.SetEdns0(1232, true)
			b.ReportAllocs()
			for b.Loop() {
				zs.Answer(m, false)
			}
		})
	}
}

// BenchmarkBuild1M builds a million-record zone from records in memory,
// as a transfer would hand them over.
func BenchmarkBuild1M(b *testing.B) {
	rrs := genRecords("example.com.", 1_000_000)
	b.ReportAllocs()
	defer reportCPU(b)()
	for b.Loop() {
		if _, err := NewZone("example.com.", rrs); err != nil {
			b.Fatal(err)
		}
	}
}

// reportCPU adds the process CPU time per op (GC included) to a
// benchmark: on a shared machine wall time says little.
func reportCPU(b *testing.B) func() {
	cpu := func() time.Duration {
		var ru syscall.Rusage
		syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
		return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	start := cpu()
	return func() {
		b.ReportMetric(float64((cpu()-start).Milliseconds())/float64(b.N), "cpu-ms/op")
	}
}

// BenchmarkParse1M parses and builds a million-record zone file.
func BenchmarkParse1M(b *testing.B) {
	text := zoneText(genRecords("example.com.", 1_000_000))
	b.SetBytes(int64(len(text)))
	defer reportCPU(b)()
	for b.Loop() {
		if _, err := ParseZone(strings.NewReader(text), "example.com.", "bench"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkZoneMemory reports the live heap a 100k-record zone parsed from
// text takes, per record: everything the zone keeps, RR values included.
func BenchmarkZoneMemory(b *testing.B) {
	const n = 100_000
	text := zoneText(genRecords("example.com.", n))
	var perRecord float64
	for b.Loop() {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		z, err := ParseZone(strings.NewReader(text), "example.com.", "bench")
		if err != nil {
			b.Fatal(err)
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		perRecord = float64(after.HeapAlloc-before.HeapAlloc) / float64(z.Len())
		runtime.KeepAlive(z)
	}
	b.ReportMetric(perRecord, "B/record")
}
