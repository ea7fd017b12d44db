package timesync

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"time"
)

// DefaultTimeout bounds a Query whose context has no deadline.
const DefaultTimeout = 5 * time.Second

// NTPPort is used when a server is given without a port.
const NTPPort = "123"

var (
	// ErrNoReply means no acceptable reply arrived in time.
	ErrNoReply = errors.New("no reply")
	// ErrBadReply is wrapped by every error about a reply that failed a
	// sanity check: too short, wrong mode or version, zero timestamps.
	ErrBadReply = errors.New("bad reply")
	// ErrSpoofed means a reply did not echo the transmit timestamp we
	// sent: it answers someone else's request, or is forged. Such replies
	// are dropped, and reported only if nothing better arrives.
	ErrSpoofed = errors.New("reply does not echo our transmit timestamp (spoofed or stale)")
	// ErrUnsynchronized means the server says its own clock is not set
	// (leap indicator 3, or stratum 16 and above).
	ErrUnsynchronized = errors.New("server is not synchronized")
	// ErrKissOfDeath is wrapped by a *KissError.
	ErrKissOfDeath = errors.New("kiss-o'-death")
)

// KissError is a kiss-o'-death reply (stratum 0): the server tells us to
// stop (DENY, RSTR) or to slow down (RATE).
type KissError struct {
	Code string // the four ASCII characters of the reference ID
}

func (e *KissError) Error() string { return fmt.Sprintf("kiss-o'-death %q", e.Code) }

// Is makes errors.Is(err, ErrKissOfDeath) hold.
func (e *KissError) Is(target error) bool { return target == ErrKissOfDeath }

// Deny reports whether the server asks never to be queried again.
func (e *KissError) Deny() bool { return e.Code == "DENY" || e.Code == "RSTR" }

// Response is a server's answer, measured against the local clock.
type Response struct {
	// Time is the server's time at the moment its reply arrived: the
	// local receive time plus Offset.
	Time time.Time
	// Offset is how far the local clock is behind the server's: add it to
	// the local clock to get the server's time.
	Offset time.Duration
	// RTT is the round trip, without the time the server held the request.
	RTT time.Duration
	// Stratum is the server's distance from a reference clock, 1..15.
	Stratum uint8
	// LeapIndicator warns of a leap second at the end of the day.
	LeapIndicator LeapIndicator
}

// Query asks one server for the time with SNTPv4. server is a host or
// host:port (port 123 by default). Errors name the server and wrap one of
// the Err values of this package, or a network error.
func Query(ctx context.Context, server string) (Response, error) {
	return query(ctx, server, time.Now)
}

// query is Query with the local clock given, so the Service measures the
// clock it steps (a fake one in tests).
func query(ctx context.Context, server string, now func() time.Time) (Response, error) {
	r, err := exchange(ctx, server, now)
	if err != nil {
		return Response{}, fmt.Errorf("timesync: query %s: %w", server, err)
	}
	return r, nil
}

func exchange(ctx context.Context, server string, now func() time.Time) (Response, error) {
	addr := server
	if _, _, err := net.SplitHostPort(server); err != nil {
		addr = net.JoinHostPort(server, NTPPort)
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, DefaultTimeout)
		defer cancel()
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "udp", addr)
	if err != nil {
		return Response{}, err
	}
	defer conn.Close()
	deadline, _ := ctx.Deadline()
	if err := conn.SetDeadline(deadline); err != nil {
		return Response{}, err
	}
	// Cancelling ctx unblocks the read at once.
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()

	// The transmit timestamp we send is a random nonce, not our clock
	// (as chrony does): the server echoes it as the origin timestamp, so
	// an off-path attacker cannot guess it, and our clock is not
	// disclosed. t1 is kept locally.
	nonce := ntpTime(rand.Uint64() | 1)
	req := packet{version: 4, mode: modeClient, transmit: nonce}
	t1 := now()
	if _, err := conn.Write(req.marshal()); err != nil {
		return Response{}, err
	}
	buf := make([]byte, 1024)
	var rejected error
	for {
		n, err := conn.Read(buf)
		t4 := now()
		if err != nil {
			if ctx.Err() != nil && !errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return Response{}, ctx.Err()
			}
			if errors.Is(err, os.ErrDeadlineExceeded) {
				if rejected != nil {
					return Response{}, fmt.Errorf("%w within the timeout; dropped: %w", ErrNoReply, rejected)
				}
				return Response{}, fmt.Errorf("%w within the timeout", ErrNoReply)
			}
			return Response{}, err
		}
		p, err := parsePacket(buf[:n])
		if err == nil && p.origin != nonce {
			err = fmt.Errorf("%w: origin %016x, sent %016x", ErrSpoofed, uint64(p.origin), uint64(nonce))
		}
		if err != nil {
			// Anyone can send us a datagram; only the server's answer may
			// end the exchange.
			rejected = err
			continue
		}
		if err := checkReply(p); err != nil {
			return Response{}, err
		}
		return measure(p, t1, t4)
	}
}

// checkReply applies RFC 4330 section 5's checks to a reply that echoes
// our request.
func checkReply(p packet) error {
	if p.mode != modeServer {
		return fmt.Errorf("%w: mode %d, want %d (server)", ErrBadReply, p.mode, modeServer)
	}
	if p.version < 1 || p.version > 4 {
		return fmt.Errorf("%w: version %d, want 1..4", ErrBadReply, p.version)
	}
	if p.stratum == 0 {
		return &KissError{Code: kissCode(p.refID)}
	}
	if p.leap == LeapNotInSync || p.stratum > 15 {
		return fmt.Errorf("%w: leap indicator %s, stratum %d", ErrUnsynchronized, p.leap, p.stratum)
	}
	if p.transmit == 0 {
		return fmt.Errorf("%w: transmit timestamp is zero", ErrBadReply)
	}
	if p.receive == 0 {
		return fmt.Errorf("%w: receive timestamp is zero", ErrBadReply)
	}
	if p.transmit.Time().Before(p.receive.Time()) {
		return fmt.Errorf("%w: server sent its reply (%s) before it received the request (%s)",
			ErrBadReply, p.transmit.Time().Format(time.RFC3339Nano), p.receive.Time().Format(time.RFC3339Nano))
	}
	return nil
}

// kissCode renders a kiss code, replacing anything that is not printable
// ASCII so a hostile server cannot put control characters in our logs.
func kissCode(id [4]byte) string {
	b := id
	for i, c := range b {
		if c < 0x20 || c > 0x7e {
			b[i] = '?'
		}
	}
	return string(b[:])
}

// measure computes the clock offset and round trip (RFC 5905 section 8):
// t1 we sent, t2 the server received, t3 it replied, t4 we received.
func measure(p packet, t1, t4 time.Time) (Response, error) {
	t2, t3 := p.receive.Time(), p.transmit.Time()
	// Wall-clock differences only: t1 and t4 may carry monotonic
	// readings, t2 and t3 cannot.
	w1, w4 := t1.Round(0), t4.Round(0)
	offset := t2.Sub(w1)/2 + t3.Sub(w4)/2 // halved first: each may be near the Duration limit
	rtt := t4.Sub(t1) - t3.Sub(t2)        // monotonic when t1 and t4 have it
	if rtt < 0 {
		// The server held the request longer than the round trip took:
		// its timestamps are from a different clock than it claims.
		if rtt < -time.Millisecond {
			return Response{}, fmt.Errorf("%w: server says it held the request %v, longer than the %v round trip",
				ErrBadReply, t3.Sub(t2), t4.Sub(t1))
		}
		rtt = 0
	}
	return Response{
		Time:          w4.Add(offset),
		Offset:        offset,
		RTT:           rtt,
		Stratum:       p.stratum,
		LeapIndicator: p.leap,
	}, nil
}
