package secondary

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"

	"github.com/miekg/dns"

	authdns "github.com/goleudy/goleudy/services/dns"
	"github.com/goleudy/goleudy/services/statedir"
)

// Zone files in the state dir are the zone's records in uncompressed DNS
// wire format behind a small header. Loading one is a checksum and a loop
// of UnpackRR, with no text parsing, which is what makes a 1M-record zone
// load in well under two seconds on a Pi-class CPU.
//
// Layout (all integers big endian):
//
//	0   magic "GLZ\x01"
//	4   uint16 format version (1)
//	6   uint16 origin length L
//	8   uint32 record count N
//	12  uint64 body length B
//	20  uint32 CRC-32C over origin and body
//	24  origin, L bytes, lowercased presentation format
//	24+L  body: N records, each as PackRR writes it without compression,
//	      SOA first
//
// The body is split into chunks that decode in parallel: the record
// offsets of every chunkRecords-th record follow the body as uint64s (their
// count is ceil(N/chunkRecords)), covered by the checksum as well.
const (
	fileMagic    = "GLZ\x01"
	fileVersion  = 1
	headerLen    = 24
	fileSuffix   = ".zone.bin"
	chunkRecords = 1 << 16
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// encodeZone returns the file content for z.
//
// Records are packed through dns.Msg in batches rather than with
// dns.PackRR, which writes the header's Rdlength into the record: z is
// being served while it is saved, and its records are shared with every
// response.
func encodeZone(z *authdns.Zone) ([]byte, error) {
	origin := z.Origin()
	size := headerLen + len(origin)
	for rr := range z.All() {
		size += dns.Len(rr)
	}
	nchunks := (z.Len() + chunkRecords - 1) / chunkRecords
	buf := make([]byte, headerLen+len(origin), size+8*nchunks+64)
	copy(buf, fileMagic)
	binary.BigEndian.PutUint16(buf[4:], fileVersion)
	binary.BigEndian.PutUint16(buf[6:], uint16(len(origin)))
	copy(buf[headerLen:], origin)
	bodyStart := len(buf)
	var n int
	var index []uint64
	batch := make([]dns.RR, 0, packBatch)
	var scratch []byte
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		m := &dns.Msg{Answer: batch}
		b, err := m.PackBuffer(scratch)
		if err != nil {
			return fmt.Errorf("dns: encode zone %s: %w", origin, err)
		}
		scratch = b
		buf = append(buf, b[12:]...) // the records, after the message header
		batch = batch[:0]
		return nil
	}
	for rr := range z.All() {
		if n%chunkRecords == 0 {
			if err := flush(); err != nil {
				return nil, err
			}
			index = append(index, uint64(len(buf)-bodyStart))
		}
		batch = append(batch, rr)
		if len(batch) == packBatch {
			if err := flush(); err != nil {
				return nil, err
			}
		}
		n++
	}
	if err := flush(); err != nil {
		return nil, err
	}
	binary.BigEndian.PutUint32(buf[8:], uint32(n))
	binary.BigEndian.PutUint64(buf[12:], uint64(len(buf)-bodyStart))
	for _, o := range index {
		buf = binary.BigEndian.AppendUint64(buf, o)
	}
	binary.BigEndian.PutUint32(buf[20:], crcOf(buf[headerLen:]))
	return buf, nil
}

// packBatch records go through one dns.Msg; it divides chunkRecords.
const packBatch = 4096

// decodeZone parses a zone file and builds the zone. It never panics on
// any input; every failure wraps ErrCorrupt.
func decodeZone(data []byte) (*authdns.Zone, error) {
	origin, rrs, err := decodeRecords(data)
	if err != nil {
		return nil, err
	}
	z, err := authdns.NewZone(origin, rrs)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	return z, nil
}

func decodeRecords(data []byte) (string, []dns.RR, error) {
	corrupt := func(format string, args ...any) error {
		return fmt.Errorf("%w: "+format, append([]any{ErrCorrupt}, args...)...)
	}
	if len(data) < headerLen || string(data[:4]) != fileMagic {
		return "", nil, corrupt("bad magic")
	}
	if v := binary.BigEndian.Uint16(data[4:]); v != fileVersion {
		return "", nil, corrupt("format version %d", v)
	}
	olen := int(binary.BigEndian.Uint16(data[6:]))
	count := uint64(binary.BigEndian.Uint32(data[8:]))
	blen := binary.BigEndian.Uint64(data[12:])
	nchunks := (count + chunkRecords - 1) / chunkRecords
	rest := uint64(len(data) - headerLen)
	if uint64(olen) > rest || blen > rest-uint64(olen) || (rest-uint64(olen)-blen) != 8*nchunks {
		return "", nil, corrupt("truncated or trailing data")
	}
	if crcOf(data[headerLen:]) != binary.BigEndian.Uint32(data[20:]) {
		return "", nil, corrupt("checksum mismatch")
	}
	// The smallest record is 11 bytes (root name, fixed header): a count
	// the body cannot hold is corrupt, and must not size an allocation.
	if count == 0 || count > blen/11 {
		return "", nil, corrupt("record count %d for %d bytes", count, blen)
	}
	origin := string(data[headerLen : headerLen+olen])
	if _, ok := dns.IsDomainName(origin); !ok || !dns.IsFqdn(origin) {
		return "", nil, corrupt("bad origin %q", origin)
	}
	bodyStart := headerLen + olen
	body := data[bodyStart : bodyStart+int(blen)]
	idx := data[bodyStart+int(blen):]
	starts := make([]int, nchunks+1)
	for i := range nchunks {
		o := binary.BigEndian.Uint64(idx[8*i:])
		if o > blen || (i > 0 && o <= uint64(starts[i-1])) || (i == 0 && o != 0) {
			return "", nil, corrupt("bad chunk index")
		}
		starts[i] = int(o)
	}
	starts[nchunks] = int(blen)
	rrs := make([]dns.RR, count)
	errs := make([]error, nchunks)
	decode := func(c int) {
		lo := c * chunkRecords
		hi := min(lo+chunkRecords, int(count))
		off, end := starts[c], starts[c+1]
		for i := lo; i < hi; i++ {
			if off >= end {
				errs[c] = corrupt("chunk %d short", c)
				return
			}
			rr, next, err := dns.UnpackRR(body[:end], off)
			if err != nil || rr == nil {
				errs[c] = corrupt("record %d: %v", i, err)
				return
			}
			rrs[i], off = rr, next
		}
		if off != end {
			errs[c] = corrupt("chunk %d long", c)
		}
	}
	parallel(int(nchunks), decode)
	if err := errors.Join(errs...); err != nil {
		return "", nil, err
	}
	return origin, rrs, nil
}

// parallel runs f(0..n-1) on up to GOMAXPROCS goroutines and waits.
func parallel(n int, f func(i int)) {
	workers := min(n, runtime.GOMAXPROCS(0))
	if workers <= 1 {
		for i := range n {
			f(i)
		}
		return
	}
	var wg sync.WaitGroup
	next := make(chan int)
	for range workers {
		wg.Go(func() {
			for i := range next {
				f(i)
			}
		})
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
}

// fileName returns the state-dir file of a zone. Origins become file
// names with everything outside [a-z0-9-_.] hex-escaped as %XX, so no
// origin can name a path outside the directory or collide with another.
func fileName(dir, origin string) string {
	o := strings.TrimSuffix(strings.ToLower(origin), ".")
	if o == "" {
		o = "." // the root zone, escaped below as %2E
	}
	var b strings.Builder
	for i := 0; i < len(o); i++ {
		c := o[i]
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '-', c == '_',
			c == '.' && i > 0:
			b.WriteByte(c)
		default:
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return filepath.Join(dir, b.String()+fileSuffix)
}

// saveZone writes z to its file atomically.
func saveZone(dir string, z *authdns.Zone) error {
	data, err := encodeZone(z)
	if err != nil {
		return fmt.Errorf("dns: save zone %s: %w", z.Origin(), err)
	}
	return statedir.WriteFile(fileName(dir, z.Origin()), data, 0o644)
}

// loadZone reads the zone file of origin. It returns (nil, zero, nil)
// when there is none, and ErrCorrupt when the file is bad or holds a
// different zone. The returned time is the file's modification time:
// when the zone was last known to be current.
func loadZone(dir, origin string) (*authdns.Zone, os.FileInfo, error) {
	name := fileName(dir, origin)
	data, err := os.ReadFile(name)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("dns: load zone %s: %w", origin, err)
	}
	fi, err := os.Stat(name)
	if err != nil {
		return nil, nil, fmt.Errorf("dns: load zone %s: %w", origin, err)
	}
	z, err := decodeZone(data)
	if err != nil {
		return nil, nil, fmt.Errorf("dns: load zone %s from %s: %w", origin, name, err)
	}
	if !strings.EqualFold(z.Origin(), origin) {
		return nil, nil, fmt.Errorf("dns: load zone %s from %s: %w: holds zone %s", origin, name, ErrCorrupt, z.Origin())
	}
	return z, fi, nil
}

func crcOf(b []byte) uint32 { return crc32.Checksum(b, castagnoli) }
