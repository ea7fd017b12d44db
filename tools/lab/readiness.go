package lab

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"
)

// waitReady waits until the process answers as itself and serves every
// zone, or fails when it exits or the start timeout passes.
func (s *Server) waitReady(ctx context.Context) error {
	timeout := s.opts.StartTimeout
	if timeout == 0 {
		timeout = 30 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if s.daemon.answersIdentity() {
		for _, network := range []string{"udp", "tcp"} {
			if err := s.poll(ctx, func() error { return s.checkIdentity(network) }); err != nil {
				return err
			}
		}
	}
	if err := s.waitSerials(ctx, s.serials); err != nil {
		return err
	}
	s.Ready = time.Now()
	return nil
}

// poll calls check until it succeeds, the process exits, or ctx ends.
func (s *Server) poll(ctx context.Context, check func() error) error {
	for {
		err := check()
		if err == nil {
			return nil
		}
		if s.proc.hasExited() {
			return fmt.Errorf("%w: %v", ErrExited, s.proc.err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w: %v", ErrNotReady, err)
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// waitSerials waits until every zone answers its SOA with the wanted
// serial, over UDP for each and over TCP for one. Thousands of zones are
// checked by several workers, so the wait measures the server, not us.
func (s *Server) waitSerials(ctx context.Context, want map[string]uint32) error {
	names := make([]string, 0, len(want))
	for n := range want {
		names = append(names, n)
	}
	if len(names) == 0 {
		return nil
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		next     atomic.Int64
		wg       sync.WaitGroup
		errOnce  sync.Once
		firstErr error
	)
	workers := min(8, len(names))
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= len(names) {
					return
				}
				n := names[i]
				err := s.poll(ctx, func() error { return s.checkSerial(n, want[n], "udp") })
				if err == nil && i == 0 {
					err = s.poll(ctx, func() error { return s.checkSerial(n, want[n], "tcp") })
				}
				if err != nil {
					errOnce.Do(func() { firstErr = fmt.Errorf("zone %s: %w", n, err); cancel() })
					return
				}
			}
		}()
	}
	wg.Wait()
	return firstErr
}

// probeTimeout is short: polling should notice readiness promptly.
const probeTimeout = 300 * time.Millisecond

func (s *Server) probe(m *dns.Msg, network string) (*dns.Msg, error) {
	c := &dns.Client{Net: network, Timeout: probeTimeout}
	r, _, err := c.Exchange(m, s.Addr)
	return r, err
}

func (s *Server) checkSerial(zone string, serial uint32, network string) error {
	m := new(dns.Msg)
	m.SetQuestion(zone, dns.TypeSOA)
	m.RecursionDesired = false
	r, err := s.probe(m, network)
	if err != nil {
		return err
	}
	if r.Rcode != dns.RcodeSuccess || !r.Authoritative {
		return fmt.Errorf("SOA %s over %s: %s aa=%v", zone, network, dns.RcodeToString[r.Rcode], r.Authoritative)
	}
	for _, rr := range r.Answer {
		if soa, ok := rr.(*dns.SOA); ok {
			if soa.Serial == serial {
				return nil
			}
			return fmt.Errorf("SOA %s over %s: serial %d, want %d", zone, network, soa.Serial, serial)
		}
	}
	return fmt.Errorf("SOA %s over %s: no SOA in answer", zone, network)
}

func (s *Server) checkIdentity(network string) error {
	m := new(dns.Msg)
	m.SetQuestion("id.server.", dns.TypeTXT)
	m.Question[0].Qclass = dns.ClassCHAOS
	m.RecursionDesired = false
	r, err := s.probe(m, network)
	if err != nil {
		return err
	}
	for _, rr := range r.Answer {
		if txt, ok := rr.(*dns.TXT); ok && strings.Join(txt.Txt, "") == s.identity {
			return nil
		}
	}
	return errors.New("id.server: another server answers on this port")
}
