package shard

import (
	"math/bits"
	"sync"
)

// Registry maps snowflake IDs to members, split into shards so that opens
// and closes on different shards never wait on one another.
// Safe for concurrent use.
type Registry struct {
	shards []registryShard
}

type registryShard struct {
	mu      sync.RWMutex
	members map[int64]*Member // guarded by mu
	_       [96]byte          // 128 bytes a shard: neighbours never share a cache line (nor its prefetched pair)
}

// NewRegistry returns a registry of n shards (n < 1 is taken as 1).
func NewRegistry(n int) *Registry {
	if n < 1 {
		n = 1
	}
	r := &Registry{shards: make([]registryShard, n)}
	for i := range r.shards {
		r.shards[i].members = make(map[int64]*Member)
	}
	return r
}

func (r *Registry) shardOf(id int64) *registryShard {
	return &r.shards[shardIndex(id, len(r.shards))]
}

// fibonacci is 2^64 divided by the golden ratio: multiplying by it mixes
// every bit of the ID into the high bits of the product.
const fibonacci = 0x9E3779B97F4A7C15

// shardIndex maps an ID to one of n shards from a mix of all its bits. A
// snowflake ID is time<<22 | node<<12 | sequence, and the sequence starts
// at 0 every millisecond, so its low bits are mostly zero when connections
// trickle in: id % n would put nearly all of them in shard 0. The high 64
// bits of mixed × n are uniform in [0, n) for any n, not only powers of two.
func shardIndex(id int64, n int) int {
	hi, _ := bits.Mul64(uint64(id)*fibonacci, uint64(n))
	return int(hi)
}

// Add registers m under its ID.
func (r *Registry) Add(m *Member) {
	s := r.shardOf(m.ID)
	s.mu.Lock()
	s.members[m.ID] = m
	s.mu.Unlock()
}

// Remove forgets m. Removing an absent member is a no-op.
func (r *Registry) Remove(m *Member) {
	s := r.shardOf(m.ID)
	s.mu.Lock()
	if s.members[m.ID] == m {
		delete(s.members, m.ID)
	}
	s.mu.Unlock()
}

// Get returns the member with the given ID, or nil.
func (r *Registry) Get(id int64) *Member {
	s := r.shardOf(id)
	s.mu.RLock()
	m := s.members[id]
	s.mu.RUnlock()
	return m
}

// Len returns the number of registered members.
func (r *Registry) Len() int {
	n := 0
	for i := range r.shards {
		n += r.ShardLen(i)
	}
	return n
}

// Shards returns the number of shards.
func (r *Registry) Shards() int { return len(r.shards) }

// ShardLen returns the number of members in shard i.
func (r *Registry) ShardLen(i int) int {
	s := &r.shards[i]
	s.mu.RLock()
	n := len(s.members)
	s.mu.RUnlock()
	return n
}
