package timesync

import (
	"encoding/binary"
	"fmt"
	"time"
)

// LeapIndicator is the leap second warning in an NTP header.
type LeapIndicator uint8

// Leap indicator values (RFC 5905 figure 9).
const (
	LeapNone      LeapIndicator = 0 // no warning
	LeapAddSecond LeapIndicator = 1 // last minute of the day has 61 seconds
	LeapDelSecond LeapIndicator = 2 // last minute of the day has 59 seconds
	LeapNotInSync LeapIndicator = 3 // alarm: the server's clock is not synchronised
)

func (l LeapIndicator) String() string {
	switch l {
	case LeapNone:
		return "none"
	case LeapAddSecond:
		return "add-second"
	case LeapDelSecond:
		return "delete-second"
	default:
		return "not-in-sync"
	}
}

// NTP modes used here.
const (
	modeClient = 3
	modeServer = 4
)

// packetLen is the NTP header without extension fields or MAC.
const packetLen = 48

// packet is an NTP header (RFC 5905 figure 8). Extension fields and a MAC
// may follow on the wire; SNTP clients without keys ignore them.
type packet struct {
	leap           LeapIndicator
	version        uint8
	mode           uint8
	stratum        uint8
	poll           int8
	precision      int8
	rootDelay      uint32 // NTP short format, 16.16 seconds
	rootDispersion uint32
	refID          [4]byte
	refTime        ntpTime
	origin         ntpTime
	receive        ntpTime
	transmit       ntpTime
}

// parsePacket decodes the header of an NTP packet. It only checks the
// length; what the fields mean is judged by checkReply.
func parsePacket(b []byte) (packet, error) {
	if len(b) < packetLen {
		return packet{}, fmt.Errorf("%w: %d bytes, an NTP header is %d", ErrBadReply, len(b), packetLen)
	}
	p := packet{
		leap:           LeapIndicator(b[0] >> 6),
		version:        b[0] >> 3 & 7,
		mode:           b[0] & 7,
		stratum:        b[1],
		poll:           int8(b[2]),
		precision:      int8(b[3]),
		rootDelay:      binary.BigEndian.Uint32(b[4:]),
		rootDispersion: binary.BigEndian.Uint32(b[8:]),
		refTime:        ntpTime(binary.BigEndian.Uint64(b[16:])),
		origin:         ntpTime(binary.BigEndian.Uint64(b[24:])),
		receive:        ntpTime(binary.BigEndian.Uint64(b[32:])),
		transmit:       ntpTime(binary.BigEndian.Uint64(b[40:])),
	}
	copy(p.refID[:], b[12:16])
	return p, nil
}

// marshal encodes the header.
func (p packet) marshal() []byte {
	b := make([]byte, packetLen)
	b[0] = byte(p.leap)<<6 | (p.version&7)<<3 | p.mode&7
	b[1] = p.stratum
	b[2] = byte(p.poll)
	b[3] = byte(p.precision)
	binary.BigEndian.PutUint32(b[4:], p.rootDelay)
	binary.BigEndian.PutUint32(b[8:], p.rootDispersion)
	copy(b[12:16], p.refID[:])
	binary.BigEndian.PutUint64(b[16:], uint64(p.refTime))
	binary.BigEndian.PutUint64(b[24:], uint64(p.origin))
	binary.BigEndian.PutUint64(b[32:], uint64(p.receive))
	binary.BigEndian.PutUint64(b[40:], uint64(p.transmit))
	return b
}

// ntpTime is an NTP timestamp: seconds since 1900-01-01 UTC in the high 32
// bits, a binary fraction of a second in the low 32.
type ntpTime uint64

// ntpEpochOffset is 1900-01-01 to 1970-01-01 in seconds.
const ntpEpochOffset = 2208988800

// eraSeconds is the length of an NTP era, 2^32 seconds (about 136 years).
const eraSeconds = 1 << 32

// Time converts t to wall time. The 32-bit seconds wrap on 2036-02-07;
// a timestamp whose top bit is clear is taken to be in era 1 (after the
// wrap), so the range covered is 1968-01-20 to 2104-02-26 whatever the
// local clock says, which matters for a node that boots in 1970.
func (t ntpTime) Time() time.Time {
	secs := int64(t >> 32)
	if secs&(1<<31) == 0 {
		secs += eraSeconds
	}
	nsec := (int64(t&0xffffffff)*1e9 + 1<<31) >> 32
	return time.Unix(secs-ntpEpochOffset, nsec).UTC()
}

// toNTP converts wall time in 1968..2104 to an NTP timestamp.
func toNTP(t time.Time) ntpTime {
	secs := t.Unix() + ntpEpochOffset
	frac := (uint64(t.Nanosecond())<<32 + 5e8) / 1e9
	if frac >= 1<<32 {
		secs, frac = secs+1, frac-1<<32
	}
	return ntpTime(uint64(secs)<<32 | frac)
}
