package timesync

import (
	"encoding/binary"
	"errors"
	"net"
	"sync"
	"testing"
	"time"
)

// sntpServer is a real SNTP server on 127.0.0.1, written independently of
// the package's encoder, whose answers each test scripts.
type sntpServer struct {
	addr    string
	conn    net.PacketConn
	respond func(req sntpRequest) [][]byte

	mu      sync.Mutex
	queries int
	done    chan struct{}
}

// sntpRequest is what the client sent.
type sntpRequest struct {
	version, mode uint8
	transmit      uint64
	n             int // 1 for the first query this server saw
}

func startSNTP(t *testing.T, respond func(req sntpRequest) [][]byte) *sntpServer {
	t.Helper()
	conn, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &sntpServer{addr: conn.LocalAddr().String(), conn: conn, respond: respond, done: make(chan struct{})}
	go s.serve()
	t.Cleanup(func() {
		conn.Close()
		<-s.done
	})
	return s
}

func (s *sntpServer) serve() {
	defer close(s.done)
	buf := make([]byte, 512)
	for {
		n, from, err := s.conn.ReadFrom(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		if n < 48 {
			continue
		}
		s.mu.Lock()
		s.queries++
		req := sntpRequest{
			version:  buf[0] >> 3 & 7,
			mode:     buf[0] & 7,
			transmit: binary.BigEndian.Uint64(buf[40:]),
			n:        s.queries,
		}
		s.mu.Unlock()
		for _, d := range s.respond(req) {
			s.conn.WriteTo(d, from)
		}
	}
}

func (s *sntpServer) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.queries
}

// reply is an NTP header, encoded by hand.
type reply struct {
	leap, version, mode, stratum uint8
	refID                        string
	origin, receive, transmit    uint64
}

func (r reply) bytes() []byte {
	b := make([]byte, 48)
	b[0] = r.leap<<6 | r.version<<3 | r.mode
	b[1] = r.stratum
	b[2] = 6    // poll
	b[3] = 0xec // precision 2^-20
	copy(b[12:16], r.refID)
	binary.BigEndian.PutUint64(b[16:], r.receive) // reference time
	binary.BigEndian.PutUint64(b[24:], r.origin)
	binary.BigEndian.PutUint64(b[32:], r.receive)
	binary.BigEndian.PutUint64(b[40:], r.transmit)
	return b
}

// stamp is an NTP timestamp, era 0 or 1 alike (the seconds wrap).
func stamp(t time.Time) uint64 {
	secs := uint64(t.Unix() + 2208988800)
	frac := uint64(t.Nanosecond()) << 32 / 1e9
	return secs<<32 | frac
}

// answer is a good reply to req saying it is now.
func answer(req sntpRequest, now time.Time) reply {
	return reply{version: 4, mode: 4, stratum: 2, refID: "\x7f\x00\x00\x01",
		origin: req.transmit, receive: stamp(now), transmit: stamp(now.Add(50 * time.Microsecond))}
}

// clockAt is a server clock that reads base when started and runs in
// real time.
func clockAt(base time.Time) func() time.Time {
	start := time.Now()
	return func() time.Time { return base.Add(time.Since(start)) }
}

// answering serves good replies from the clock now.
func answering(now func() time.Time) func(sntpRequest) [][]byte {
	return func(req sntpRequest) [][]byte { return [][]byte{answer(req, now()).bytes()} }
}
