package main

import (
	"bufio"
	"fmt"
	"io"
	"strings"

	"github.com/goleudy/goleudy/tools/lab"
)

// Origins of the generated zones. They are all under .test (RFC 2606), and
// the generators are deterministic, so every server loads identical data.
const (
	benchOrigin = "bench.test." // queries go here
	largeOrigin = "large.test." // load time and memory per record
	tinyOrigin  = "tiny.test."  // the memory baseline
)

// zoneHeader writes the SOA, NS and the name server's address: 3 records.
func zoneHeader(w io.Writer, origin string) {
	fmt.Fprintf(w, "$ORIGIN %s\n$TTL 3600\n", origin)
	fmt.Fprintf(w, "@\tSOA\tns1 hostmaster 1 3600 900 604800 300\n@\tNS\tns1\nns1\tA\t192.0.2.53\n")
}

const headerRecords = 3

// benchZone is the zone dnsperf queries: names h0 ... h<names-1> with an
// A and an AAAA each, an MX on every 4th and a TXT on every 8th, plus a
// wildcard the queries also hit.
func benchZone(names int) (text string, records int) {
	var b strings.Builder
	zoneHeader(&b, benchOrigin)
	records = headerRecords
	b.WriteString("mail\tA\t192.0.2.25\n*.wild\tA\t192.0.2.200\n")
	records += 2
	for i := range names {
		fmt.Fprintf(&b, "h%d\tA\t%s\nh%d\tAAAA\t%s\n", i, ipv4(i), i, ipv6(i))
		records += 2
		if i%4 == 0 {
			fmt.Fprintf(&b, "h%d\tMX\t10 mail\n", i)
			records++
		}
		if i%8 == 0 {
			fmt.Fprintf(&b, "h%d\tTXT\t\"bench record %d\"\n", i, i)
			records++
		}
	}
	return b.String(), records
}

// writeLargeZone writes a zone of exactly records records: the header,
// then names each holding an A, an AAAA, an MX and a TXT, in that order,
// until the count is reached.
func writeLargeZone(w io.Writer, records int) error {
	bw := bufio.NewWriterSize(w, 1<<20)
	zoneHeader(bw, largeOrigin)
	for k := range records - headerRecords {
		i := k / 4
		switch k % 4 {
		case 0:
			fmt.Fprintf(bw, "n%d\tA\t%s\n", i, ipv4(i))
		case 1:
			fmt.Fprintf(bw, "n%d\tAAAA\t%s\n", i, ipv6(i))
		case 2:
			fmt.Fprintf(bw, "n%d\tMX\t10 n%d\n", i, i)
		case 3:
			fmt.Fprintf(bw, "n%d\tTXT\t\"large zone record %d\"\n", i, k)
		}
	}
	return bw.Flush()
}

// tinyZone is the smallest useful zone: what a server costs with no data.
func tinyZone() string {
	var b strings.Builder
	zoneHeader(&b, tinyOrigin)
	return b.String()
}

// smallZones are n customer-sized zones, z00000.test. upwards, of 5
// records each.
func smallZones(n int) []lab.Zone {
	zones := make([]lab.Zone, n)
	for i := range zones {
		var b strings.Builder
		origin := fmt.Sprintf("z%05d.test.", i)
		zoneHeader(&b, origin)
		fmt.Fprintf(&b, "www\tA\t%s\nwww\tAAAA\t%s\n", ipv4(i), ipv6(i))
		zones[i] = lab.Zone{Name: origin, Text: b.String()}
	}
	return zones
}

func ipv4(i int) string {
	return fmt.Sprintf("10.%d.%d.%d", i>>16&255, i>>8&255, i&255)
}

func ipv6(i int) string {
	return fmt.Sprintf("2001:db8::%x:%x", i>>16&0xffff, i&0xffff)
}
