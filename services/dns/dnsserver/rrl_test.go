package dnsserver

import (
	"net/netip"
	"testing"
	"time"
)

func TestRRL(t *testing.T) {
	r := newRRL(RRLOptions{ResponsesPerSecond: 5, Slip: 2})
	now := time.Unix(1e9, 0)
	r.now = func() time.Time { return now }
	client := netip.MustParseAddr("198.51.100.7")
	neighbour := netip.MustParseAddr("198.51.100.200") // same /24
	other := netip.MustParseAddr("203.0.113.7")
	count := func(src netip.Addr, name string, nx bool, n int) (sent, slipped, dropped int) {
		for range n {
			switch r.check(src, []byte(name), nx) {
			case send:
				sent++
			case slip:
				slipped++
			case drop:
				dropped++
			}
		}
		return
	}
	if s, sl, d := count(client, "\x03www", false, 5); s != 5 || sl+d != 0 {
		t.Fatalf("within the rate: %d sent, %d slipped, %d dropped", s, sl, d)
	}
	if s, sl, d := count(neighbour, "\x03WWW", false, 10); s != 0 || sl != 5 || d != 5 {
		t.Errorf("over the rate, same /24 and name in another case: %d sent, %d slipped, %d dropped", s, sl, d)
	}
	if s, _, _ := count(other, "\x03www", false, 5); s != 5 {
		t.Errorf("another network is limited too: %d sent", s)
	}
	if s, _, _ := count(client, "\x04mail", false, 5); s != 5 {
		t.Errorf("another name is limited too: %d sent", s)
	}
	// NXDOMAIN for different names shares one account.
	if s, _, _ := count(other, "\x01a", true, 3); s != 3 {
		t.Errorf("nxdomain: %d", s)
	}
	if s, _, _ := count(other, "\x01b", true, 3); s != 2 {
		t.Errorf("nxdomain for another name: %d sent, want 2 left in the shared account", s)
	}
	now = now.Add(time.Second)
	if s, _, _ := count(client, "\x03www", false, 6); s != 5 {
		t.Errorf("after a second: %d sent, want 5", s)
	}
	now = now.Add(time.Minute)
	count(client, "\x03www", false, 1)
	if len(r.buckets) != 1 {
		t.Errorf("idle accounts not swept: %d left", len(r.buckets))
	}
	if newRRL(RRLOptions{}) != nil {
		t.Error("RRL with rate 0 is not off")
	}
}

func TestTruncatedStandIn(t *testing.T) {
	// header (QD=1, AN=1) + question for "a." A IN + a fake answer.
	resp := []byte{0, 1, 0x84, 0, 0, 1, 0, 1, 0, 0, 0, 0, 1, 'a', 0, 0, 1, 0, 1, 0xc0, 12}
	got := truncated(append([]byte(nil), resp...))
	if len(got) != 19 || got[2]&0x02 == 0 || got[7] != 0 {
		t.Errorf("truncated = %v", got)
	}
}
