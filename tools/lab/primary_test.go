package lab

import (
	"context"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

var testKey = &TSIG{Name: "hub.", Algorithm: "hmac-sha256", Secret: "bGFiLXRzaWctc2VjcmV0LW9mLXRoaXJ0eS10d28tYnk="}

// TestPrimary runs NSD and Knot as the primary a secondary sees: AXFR
// only with the TSIG key, a NOTIFY on every change, and IXFR carrying just
// the difference after UpdateZone (checked with kdig and with a Go client).
func TestPrimary(t *testing.T) {
	Require(t, ToolKdig)
	for _, d := range []Daemon{NSD, Knot} {
		t.Run(d.Name(), func(t *testing.T) {
			t.Parallel()
			notifies := listenNotify(t)
			plain := mustFixture("example.test.zone")
			s := StartTB(t, d, Options{
				Zones:  []Zone{{Name: FixtureOrigin, Text: plain}},
				XFR:    true,
				TSIG:   testKey,
				Notify: []string{notifies.addr},
			})

			if _, err := transfer(s.Addr, dns.TypeAXFR, 0, nil); err == nil {
				t.Error("AXFR without the TSIG key succeeded")
			}
			axfr, err := transfer(s.Addr, dns.TypeAXFR, 0, testKey)
			if err != nil {
				t.Fatal(err)
			}
			rrs, _ := ParseZone(plain, FixtureOrigin)
			if len(axfr) != len(rrs)+1 {
				t.Errorf("AXFR has %d records, want the zone's %d plus the closing SOA", len(axfr), len(rrs))
			}

			next := strings.Replace(plain, "2024010101", "2024010102", 1)
			next = strings.Replace(next, "www\tA\t192.0.2.80", "www\tA\t192.0.2.81", 1)
			if err := s.UpdateZone(FixtureOrigin, next); err != nil {
				t.Fatal(err)
			}
			notifies.await(t, 2024010102)

			ixfr, err := transfer(s.Addr, dns.TypeIXFR, 2024010101, testKey)
			if err != nil {
				t.Fatal(err)
			}
			nextRRs, _ := ParseZone(next, FixtureOrigin)
			checkIXFR(t, axfr, ixfr, nextRRs)
			out := kdigIXFR(t, s, 2024010101)
			if !strings.Contains(out, "192.0.2.81") || strings.Contains(out, "192.0.2.53") {
				t.Errorf("kdig IXFR is not the difference:\n%s", out)
			}

			// Editing the file and calling Reload works too.
			third := strings.Replace(next, "2024010102", "2024010103", 1)
			if err := replaceFile(s.ZoneFile(FixtureOrigin), third); err != nil {
				t.Fatal(err)
			}
			if err := s.Reload(); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
			defer cancel()
			if err := s.waitSerials(ctx, map[string]uint32{FixtureOrigin: 2024010103}); err != nil {
				t.Fatal(err)
			}
			notifies.await(t, 2024010103)
		})
	}
}

// transfer runs an AXFR, or an IXFR from serial, signed with key if given.
func transfer(addr string, qtype uint16, serial uint32, key *TSIG) ([]dns.RR, error) {
	m := new(dns.Msg)
	if qtype == dns.TypeIXFR {
		m.SetIxfr(FixtureOrigin, serial, "ns1.example.test.", "hostmaster.example.test.")
	} else {
		m.SetAxfr(FixtureOrigin)
	}
	tr := &dns.Transfer{DialTimeout: AskTimeout, ReadTimeout: AskTimeout}
	if key != nil {
		m.SetTsig(key.Name, dns.HmacSHA256, 300, time.Now().Unix())
		tr.TsigSecret = map[string]string{key.Name: key.Secret}
	}
	env, err := tr.In(m, addr)
	if err != nil {
		return nil, err
	}
	var rrs []dns.RR
	for e := range env {
		if e.Error != nil {
			return nil, e.Error
		}
		rrs = append(rrs, e.RR...)
	}
	return rrs, nil
}

// checkIXFR checks ixfr is one incremental step (not an AXFR-style
// reply) that turns the old zone into want. NSD 4.6's create-ixfr also
// re-adds records that did not change; a secondary must take that as a
// no-op, so it is logged, not failed.
func checkIXFR(t *testing.T, old, ixfr, want []dns.RR) {
	t.Helper()
	if len(ixfr) < 4 {
		t.Fatalf("IXFR has %d records", len(ixfr))
	}
	oldSOA, ok1 := ixfr[1].(*dns.SOA)
	newSOA, ok2 := ixfr[0].(*dns.SOA)
	if !ok1 || !ok2 || oldSOA.Serial == newSOA.Serial {
		t.Fatalf("not an incremental transfer: starts %s, %s", ixfr[0], ixfr[1])
	}
	zone := map[string]bool{}
	for _, rr := range old[:len(old)-1] {
		zone[rrKeyNoSOA(rr)] = true
	}
	// Each step is SOA(from), deletions, SOA(to), additions: the first SOA
	// starts deleting.
	adding, redundant := true, 0
	for _, rr := range ixfr[1 : len(ixfr)-1] {
		if _, isSOA := rr.(*dns.SOA); isSOA {
			adding = !adding
			continue
		}
		k := rrKeyNoSOA(rr)
		switch {
		case adding && zone[k]:
			redundant++
		case adding:
			zone[k] = true
		default:
			delete(zone, k)
		}
	}
	wantSet := map[string]bool{}
	for _, rr := range want {
		wantSet[rrKeyNoSOA(rr)] = true
	}
	for k := range wantSet {
		if !zone[k] {
			t.Errorf("after IXFR, missing %s", k)
		}
	}
	for k := range zone {
		if !wantSet[k] {
			t.Errorf("after IXFR, left over %s", k)
		}
	}
	if redundant > 0 {
		t.Logf("IXFR re-adds %d records that did not change", redundant)
	}
}

// rrKeyNoSOA keys records for set operations; every SOA is one key, as
// a zone has one SOA.
func rrKeyNoSOA(rr dns.RR) string {
	if _, ok := rr.(*dns.SOA); ok {
		return "SOA"
	}
	return strings.ToLower(rr.String())
}

func kdigIXFR(t *testing.T, s *Server, serial uint32) string {
	t.Helper()
	kdig, err := ToolKdig.Path()
	if err != nil {
		t.Fatal(err)
	}
	host, port, _ := net.SplitHostPort(s.Addr)
	out, err := exec.Command(kdig, "@"+host, "-p", port, "-y", "hmac-sha256:"+testKey.Name+":"+testKey.Secret,
		"+tcp", "-t", "IXFR="+strconv.FormatUint(uint64(serial), 10), FixtureOrigin).CombinedOutput()
	if err != nil {
		t.Fatalf("kdig IXFR: %v\n%s", err, out)
	}
	return string(out)
}

// notifyListener records the SOA serials of TSIG-signed NOTIFYs it gets.
type notifyListener struct {
	addr    string
	serials chan uint32
}

func listenNotify(t *testing.T) *notifyListener {
	t.Helper()
	// Ports come from freePort, below the ephemeral range the corpus's
	// client sockets use up, and are retried if taken meanwhile.
	var (
		pc  net.PacketConn
		ln  net.Listener
		err error
	)
	for range 10 {
		var port int
		if port, err = freePort(false); err != nil {
			continue
		}
		addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
		if pc, err = net.ListenPacket("udp", addr); err != nil {
			continue
		}
		// Knot sends NOTIFY over TCP, NSD over UDP: listen on both.
		if ln, err = net.Listen("tcp", addr); err != nil {
			pc.Close()
			continue
		}
		break
	}
	if err != nil {
		t.Fatal(err)
	}
	n := &notifyListener{addr: pc.LocalAddr().String(), serials: make(chan uint32, 16)}
	handler := dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) {
		reply := new(dns.Msg).SetReply(r)
		tsig := r.IsTsig()
		if r.Opcode != dns.OpcodeNotify || tsig == nil || w.TsigStatus() != nil {
			reply.Rcode = dns.RcodeRefused
			w.WriteMsg(reply)
			return
		}
		reply.SetTsig(tsig.Hdr.Name, tsig.Algorithm, 300, time.Now().Unix())
		w.WriteMsg(reply)
		var serial uint32
		for _, rr := range r.Answer {
			if soa, ok := rr.(*dns.SOA); ok {
				serial = soa.Serial
			}
		}
		select {
		case n.serials <- serial:
		default:
		}
	})
	secrets := map[string]string{testKey.Name: testKey.Secret}
	for _, srv := range []*dns.Server{
		{PacketConn: pc, TsigSecret: secrets, Handler: handler},
		{Listener: ln, TsigSecret: secrets, Handler: handler},
	} {
		started := make(chan struct{})
		srv.NotifyStartedFunc = func() { close(started) }
		go srv.ActivateAndServe()
		<-started
		t.Cleanup(func() { srv.Shutdown() })
	}
	return n
}

// await waits for a NOTIFY carrying serial, or any NOTIFY after a change
// when the primary leaves the SOA out.
func (n *notifyListener) await(t *testing.T, serial uint32) {
	t.Helper()
	timeout := time.After(5 * time.Second)
	for {
		select {
		case got := <-n.serials:
			if got == serial {
				return
			}
		case <-timeout:
			t.Fatalf("no NOTIFY for serial %d within 5s", serial)
		}
	}
}
