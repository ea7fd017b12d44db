package dnsserver

import (
	"encoding/binary"
	"hash/maphash"
	"sync"
)

// cacheShards and shardEntries bound the cache: at most 64 × 4096 entries.
// A full shard is emptied, which is crude but cannot be gamed into growth.
const (
	cacheShards  = 64
	shardEntries = 4096
	keyMax       = 255 + 9
)

// entry is one cached response. Its wire form has the ID and RD/CD bits of
// the query that built it; respond patches them.
type entry struct {
	wire     []byte
	rcode    uint8
	nxdomain bool
}

type cache struct {
	seed   maphash.Seed
	shards [cacheShards]shard
}

type shard struct {
	mu  sync.RWMutex
	gen uint64
	m   map[string]*entry
}

func newCache() *cache { return &cache{seed: maphash.MakeSeed()} }

// cacheKey is the exact question (case preserved) plus every request
// property that changes the response bytes.
func cacheKey(b []byte, q *query, ipv6 bool, limit int) []byte {
	b = append(b, q.qname...)
	b = binary.BigEndian.AppendUint16(b, q.qtype)
	b = binary.BigEndian.AppendUint16(b, q.qclass)
	var f byte
	if q.edns {
		f |= 1
	}
	if q.do {
		f |= 2
	}
	if q.nsid {
		f |= 4
	}
	if ipv6 {
		f |= 8
	}
	b = append(b, f)
	return binary.BigEndian.AppendUint32(b, uint32(limit))
}

func (c *cache) shard(key []byte) *shard {
	return &c.shards[maphash.Bytes(c.seed, key)%cacheShards]
}

// get returns the entry for key built at generation gen, or nil.
func (c *cache) get(gen uint64, key []byte) *entry {
	sh := c.shard(key)
	sh.mu.RLock()
	defer sh.mu.RUnlock()
	if sh.gen != gen {
		return nil
	}
	return sh.m[string(key)]
}

func (c *cache) put(gen uint64, key []byte, e *entry) {
	sh := c.shard(key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if sh.gen != gen || sh.m == nil || len(sh.m) >= shardEntries {
		if gen < sh.gen { // built from older zones than the shard holds
			return
		}
		sh.gen = gen
		sh.m = make(map[string]*entry)
	}
	sh.m[string(key)] = e
}

// flush drops every entry, for changes the generation does not cover.
func (c *cache) flush() {
	for i := range c.shards {
		sh := &c.shards[i]
		sh.mu.Lock()
		sh.m = nil
		sh.mu.Unlock()
	}
}
