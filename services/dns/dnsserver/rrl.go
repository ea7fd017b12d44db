package dnsserver

import (
	"encoding/binary"
	"hash/maphash"
	"net/netip"
	"sync"
	"time"
)

// RRLOptions configure response rate limiting over UDP. Anycast DNS is a
// reflection amplifier for spoofed sources; RRL caps how many identical
// responses one client network gets per second. TCP is never limited, and
// "slipped" responses (empty, with TC) let a real client retry over TCP.
type RRLOptions struct {
	ResponsesPerSecond int // per client network and response; 0 turns RRL off
	Slip               int // every Slip-th limited response is sent truncated; 0 drops them all
	IPv4PrefixLen      int // client network size; default 24
	IPv6PrefixLen      int // default 56
}

const (
	rrlMaxBuckets = 1 << 17
	rrlIdle       = 10 * time.Second
)

type rrl struct {
	opts RRLOptions
	seed maphash.Seed
	now  func() time.Time

	mu        sync.Mutex
	buckets   map[rrlKey]*bucket
	lastSweep time.Time
}

type rrlKey struct {
	net  netip.Prefix
	name uint64 // hash of the lowercased qname; 0 for every NXDOMAIN
}

type bucket struct {
	tokens  float64
	last    time.Time
	limited int
}

type verdict int

const (
	send verdict = iota
	slip
	drop
)

func newRRL(o RRLOptions) *rrl {
	if o.ResponsesPerSecond <= 0 {
		return nil
	}
	if o.IPv4PrefixLen == 0 {
		o.IPv4PrefixLen = 24
	}
	if o.IPv6PrefixLen == 0 {
		o.IPv6PrefixLen = 56
	}
	return &rrl{opts: o, seed: maphash.MakeSeed(), now: time.Now, buckets: make(map[rrlKey]*bucket)}
}

// check accounts one response to src. NXDOMAIN responses share one account
// per client network, so random-name floods are limited together.
func (r *rrl) check(src netip.Addr, qname []byte, nxdomain bool) verdict {
	bits := r.opts.IPv4PrefixLen
	if src.Is6() && !src.Is4In6() {
		bits = r.opts.IPv6PrefixLen
	}
	src = src.Unmap()
	pfx, _ := src.Prefix(min(bits, src.BitLen()))
	k := rrlKey{net: pfx}
	if !nxdomain {
		var h maphash.Hash
		h.SetSeed(r.seed)
		for _, c := range qname {
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			h.WriteByte(c)
		}
		k.name = h.Sum64() | 1
	}
	now := r.now()
	rate := float64(r.opts.ResponsesPerSecond)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.sweep(now)
	b := r.buckets[k]
	if b == nil {
		if len(r.buckets) >= rrlMaxBuckets {
			return send // under a flood of sources, fail open rather than grow
		}
		b = &bucket{tokens: rate, last: now}
		r.buckets[k] = b
	}
	b.tokens = min(rate, b.tokens+now.Sub(b.last).Seconds()*rate)
	b.last = now
	if b.tokens >= 1 {
		b.tokens--
		return send
	}
	b.limited++
	if r.opts.Slip > 0 && b.limited%r.opts.Slip == 0 {
		return slip
	}
	return drop
}

// sweep forgets idle accounts, at most once a second.
func (r *rrl) sweep(now time.Time) {
	if now.Sub(r.lastSweep) < time.Second {
		return
	}
	r.lastSweep = now
	for k, b := range r.buckets {
		if now.Sub(b.last) > rrlIdle {
			delete(r.buckets, k)
		}
	}
}

// limitRate applies RRL to a UDP response, returning it, a truncated
// stand-in, or nil to drop it.
func (s *Server) limitRate(resp []byte, src netip.AddrPort, qname []byte, nxdomain bool) []byte {
	r := s.rrl.Load()
	if r == nil {
		return resp
	}
	switch r.check(src.Addr(), qname, nxdomain) {
	case slip:
		s.Stats.RRLSlipped.Add(1)
		return truncated(resp)
	case drop:
		s.Stats.RRLDropped.Add(1)
		return nil
	}
	return resp
}

// truncated cuts a response down to its header and question, with TC set.
func truncated(resp []byte) []byte {
	end := headerLen
	if binary.BigEndian.Uint16(resp[4:]) == 1 {
		for end < len(resp) && resp[end] != 0 && resp[end]&0xc0 == 0 {
			end += 1 + int(resp[end])
		}
		end = min(end+5, len(resp))
	}
	resp = resp[:end]
	binary.BigEndian.PutUint16(resp[2:], binary.BigEndian.Uint16(resp[2:])|bitTC)
	clear(resp[6:headerLen])
	if end == headerLen {
		clear(resp[4:6])
	}
	return resp
}
