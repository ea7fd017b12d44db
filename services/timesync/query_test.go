package timesync

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestQuery(t *testing.T) {
	ahead := time.Hour + 1500*time.Millisecond
	srv := startSNTP(t, func(req sntpRequest) [][]byte {
		if req.mode != 3 || req.version != 4 {
			t.Errorf("request mode %d version %d, want 3 and 4", req.mode, req.version)
		}
		r := answer(req, time.Now().Add(ahead))
		r.leap = 1
		r.stratum = 3
		return [][]byte{r.bytes()}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	before := time.Now()
	r, err := Query(ctx, srv.addr)
	if err != nil {
		t.Fatal(err)
	}
	if d := (r.Offset - ahead).Abs(); d > 50*time.Millisecond {
		t.Errorf("Offset = %v, want %v ± 50ms", r.Offset, ahead)
	}
	if d := r.Time.Sub(time.Now().Add(ahead)).Abs(); d > 100*time.Millisecond {
		t.Errorf("Time = %v, want about %v", r.Time, time.Now().Add(ahead))
	}
	if r.RTT < 0 || r.RTT > time.Since(before) {
		t.Errorf("RTT = %v, outside 0..%v", r.RTT, time.Since(before))
	}
	if r.Stratum != 3 || r.LeapIndicator != LeapAddSecond {
		t.Errorf("Stratum %d Leap %v, want 3 add-second", r.Stratum, r.LeapIndicator)
	}
}

// Each reply the server may send, and what the client must make of it.
func TestQueryBadReplies(t *testing.T) {
	now := func() time.Time { return time.Now() }
	for _, c := range []struct {
		name  string
		reply func(req sntpRequest) [][]byte
		is    error
		says  string
	}{
		{"client mode", func(q sntpRequest) [][]byte {
			r := answer(q, now())
			r.mode = 3
			return [][]byte{r.bytes()}
		}, ErrBadReply, "mode 3, want 4"},
		{"broadcast mode", func(q sntpRequest) [][]byte {
			r := answer(q, now())
			r.mode = 5
			return [][]byte{r.bytes()}
		}, ErrBadReply, "mode 5"},
		{"version 0", func(q sntpRequest) [][]byte {
			r := answer(q, now())
			r.version = 0
			return [][]byte{r.bytes()}
		}, ErrBadReply, "version 0"},
		{"stratum 16", func(q sntpRequest) [][]byte {
			r := answer(q, now())
			r.stratum = 16
			return [][]byte{r.bytes()}
		}, ErrUnsynchronized, "stratum 16"},
		{"alarm", func(q sntpRequest) [][]byte {
			r := answer(q, now())
			r.leap = 3
			return [][]byte{r.bytes()}
		}, ErrUnsynchronized, "not-in-sync"},
		{"zero transmit", func(q sntpRequest) [][]byte {
			r := answer(q, now())
			r.transmit = 0
			return [][]byte{r.bytes()}
		}, ErrBadReply, "transmit timestamp is zero"},
		{"zero receive", func(q sntpRequest) [][]byte {
			r := answer(q, now())
			r.receive = 0
			return [][]byte{r.bytes()}
		}, ErrBadReply, "receive timestamp is zero"},
		{"reply before request", func(q sntpRequest) [][]byte {
			r := answer(q, now())
			r.transmit = stamp(now().Add(-time.Minute))
			return [][]byte{r.bytes()}
		}, ErrBadReply, "before it received"},
		{"held too long", func(q sntpRequest) [][]byte {
			r := answer(q, now())
			r.transmit = stamp(now().Add(time.Minute))
			return [][]byte{r.bytes()}
		}, ErrBadReply, "longer than"},
		{"kiss RATE", func(q sntpRequest) [][]byte {
			r := answer(q, now())
			r.stratum, r.refID = 0, "RATE"
			return [][]byte{r.bytes()}
		}, ErrKissOfDeath, `"RATE"`},
		{"kiss control chars", func(q sntpRequest) [][]byte {
			r := answer(q, now())
			r.stratum, r.refID = 0, "A\nB\x00"
			return [][]byte{r.bytes()}
		}, ErrKissOfDeath, `"A?B?"`},
		{"wrong origin", func(q sntpRequest) [][]byte {
			r := answer(q, now())
			r.origin = q.transmit + 1
			return [][]byte{r.bytes()}
		}, ErrSpoofed, "does not echo"},
		{"short", func(q sntpRequest) [][]byte {
			return [][]byte{answer(q, now()).bytes()[:40]}
		}, ErrNoReply, "40 bytes"},
		{"silent", func(sntpRequest) [][]byte { return nil }, ErrNoReply, "within the timeout"},
	} {
		t.Run(c.name, func(t *testing.T) {
			srv := startSNTP(t, c.reply)
			ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
			defer cancel()
			_, err := Query(ctx, srv.addr)
			if !errors.Is(err, c.is) {
				t.Fatalf("got %v, want %v", err, c.is)
			}
			if !strings.Contains(err.Error(), c.says) || !strings.Contains(err.Error(), srv.addr) {
				t.Errorf("error %q should name %s and say %q", err, srv.addr, c.says)
			}
		})
	}
}

func TestQueryKissDeny(t *testing.T) {
	srv := startSNTP(t, func(q sntpRequest) [][]byte {
		r := answer(q, time.Now())
		r.stratum, r.refID = 0, "DENY"
		return [][]byte{r.bytes()}
	})
	_, err := Query(context.Background(), srv.addr)
	var kiss *KissError
	if !errors.As(err, &kiss) || !kiss.Deny() || kiss.Code != "DENY" {
		t.Fatalf("got %v, want a DENY KissError", err)
	}
}

// Forged replies (wrong origin, garbage) that arrive before the server's
// are dropped; the server's real answer is still taken.
func TestQuerySpoofedFirst(t *testing.T) {
	srv := startSNTP(t, func(q sntpRequest) [][]byte {
		forged := answer(q, time.Now().Add(-10*365*24*time.Hour))
		forged.origin ^= 0xffff
		return [][]byte{forged.bytes(), []byte("junk"), answer(q, time.Now()).bytes()}
	})
	r, err := Query(context.Background(), srv.addr)
	if err != nil {
		t.Fatal(err)
	}
	if r.Offset.Abs() > 50*time.Millisecond {
		t.Errorf("Offset %v: the forged reply was believed", r.Offset)
	}
}

func TestQueryCancel(t *testing.T) {
	srv := startSNTP(t, func(sntpRequest) [][]byte { return nil })
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	start := time.Now()
	_, err := Query(ctx, srv.addr)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want context.Canceled", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Query took %v to notice the cancel", d)
	}
}

func TestQueryBadAddress(t *testing.T) {
	_, err := Query(context.Background(), "127.0.0.1:notaport")
	if err == nil || !strings.Contains(err.Error(), "127.0.0.1:notaport") {
		t.Fatalf("got %v, want an error naming the server", err)
	}
}
