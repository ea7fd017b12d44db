package timesync

import (
	"bytes"
	"testing"
	"time"
)

func TestNTPTime(t *testing.T) {
	for _, c := range []struct {
		ntp  ntpTime
		want time.Time
	}{
		// 1970-01-01, the Unix epoch, is 2208988800 NTP seconds.
		{ntpTime(2208988800) << 32, time.Unix(0, 0)},
		{ntpTime(2208988800)<<32 | 1<<31, time.Unix(0, 5e8)},
		// 2025-01-01T00:00:00Z.
		{ntpTime(3944678400) << 32, time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)},
		// The last second of era 0 and the first of era 1 (2036-02-07T06:28:16Z).
		{ntpTime(0xffffffff) << 32, time.Date(2036, 2, 7, 6, 28, 15, 0, time.UTC)},
		{0, time.Date(2036, 2, 7, 6, 28, 16, 0, time.UTC)},
		{ntpTime(1) << 32, time.Date(2036, 2, 7, 6, 28, 17, 0, time.UTC)},
	} {
		if got := c.ntp.Time(); !got.Equal(c.want) {
			t.Errorf("%016x.Time() = %v, want %v", uint64(c.ntp), got, c.want.UTC())
		}
		if got := toNTP(c.want); got != c.ntp {
			t.Errorf("toNTP(%v) = %016x, want %016x", c.want.UTC(), uint64(got), uint64(c.ntp))
		}
	}
	// Round trip to within the 2^-32 s resolution.
	for _, tm := range []time.Time{
		time.Date(2025, 6, 1, 12, 0, 0, 999999999, time.UTC),
		time.Date(2040, 1, 1, 0, 0, 0, 123456789, time.UTC),
		time.Date(1999, 12, 31, 23, 59, 59, 1, time.UTC),
	} {
		if got := toNTP(tm).Time(); !got.Equal(tm) {
			t.Errorf("round trip %v gave %v", tm, got)
		}
	}
}

func TestPacketRoundTrip(t *testing.T) {
	p := packet{leap: LeapDelSecond, version: 4, mode: modeServer, stratum: 1, poll: -6, precision: -20,
		rootDelay: 0x00010002, rootDispersion: 0x00030004, refID: [4]byte{'G', 'P', 'S', 0},
		refTime: 1, origin: 2, receive: 3, transmit: 4}
	got, err := parsePacket(p.marshal())
	if err != nil {
		t.Fatal(err)
	}
	if got != p {
		t.Errorf("round trip\n got %+v\nwant %+v", got, p)
	}
	// Extension fields and a MAC after the header are ignored.
	long := append(p.marshal(), make([]byte, 20)...)
	if got, err := parsePacket(long); err != nil || got != p {
		t.Errorf("with trailer: %+v, %v", got, err)
	}
	// The test server's encoder agrees with ours.
	r := reply{leap: 2, version: 4, mode: 4, stratum: 1, refID: "GPS\x00", origin: 2, receive: 3, transmit: 4}
	q, err := parsePacket(r.bytes())
	if err != nil || q.leap != LeapDelSecond || q.mode != 4 || q.origin != 2 || q.receive != 3 || q.transmit != 4 || q.refID != p.refID {
		t.Errorf("test encoder disagrees: %+v, %v", q, err)
	}
}

func FuzzParsePacket(f *testing.F) {
	good := packet{version: 4, mode: modeServer, stratum: 2,
		origin: 7, receive: toNTP(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)),
		transmit: toNTP(time.Date(2025, 1, 1, 0, 0, 0, 1000, time.UTC))}
	f.Add(good.marshal())
	kod := good
	kod.stratum, kod.refID = 0, [4]byte{'D', 'E', 'N', 'Y'}
	f.Add(kod.marshal())
	f.Add(make([]byte, 47))
	f.Add(append(good.marshal(), 1, 2, 3, 4))
	t1 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := parsePacket(data)
		if err != nil {
			if len(data) >= packetLen {
				t.Fatalf("rejected %d bytes: %v", len(data), err)
			}
			return
		}
		if !bytes.Equal(p.marshal(), data[:packetLen]) {
			t.Fatalf("marshal(parse(%x)) = %x", data[:packetLen], p.marshal())
		}
		if checkReply(p) != nil {
			return
		}
		r, err := measure(p, t1, t1.Add(time.Millisecond))
		if err == nil && r.RTT < 0 {
			t.Fatalf("negative RTT %v", r.RTT)
		}
	})
}
