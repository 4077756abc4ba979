package shard

import "sync"

// Registry maps snowflake IDs to members, split into shards so that opens
// and closes on different shards never wait on one another.
// Safe for concurrent use.
type Registry struct {
	shards []registryShard
}

type registryShard struct {
	mu      sync.RWMutex
	members map[int64]*Member // guarded by mu
	_       [40]byte          // keeps neighbouring shards' locks off one cache line
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
	// Snowflake IDs carry a sequence in their low bits, so consecutive
	// connections spread evenly over the shards.
	return &r.shards[uint64(id)%uint64(len(r.shards))]
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
