package shard

import (
	"fmt"
	"testing"
)

// TestShardSpread: snowflake IDs made 1 ms apart (sequence 0 every time,
// as connections that trickle in get) and IDs made in bursts (consecutive
// sequences) spread over 64 shards with the fullest at most twice the mean.
func TestShardSpread(t *testing.T) {
	const shards, ids = 64, 6400
	snowflake := func(ms, node, seq int64) int64 { return ms<<22 | node<<12 | seq }
	cases := []struct {
		name string
		id   func(i int) int64
	}{
		{name: "1 ms apart", id: func(i int) int64 { return snowflake(1_700_000_000_000+int64(i), 1, 0) }},
		{name: "one burst", id: func(i int) int64 { return snowflake(1_700_000_000_000+int64(i/4096), 1, int64(i%4096)) }},
		{name: "bursts of 3 per ms", id: func(i int) int64 { return snowflake(1_700_000_000_000+int64(i/3), 7, int64(i%3)) }},
		{name: "node 1023, 1 ms apart", id: func(i int) int64 { return snowflake(1_700_000_000_000+int64(i), 1023, 0) }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			count := make([]int, shards)
			for i := range ids {
				count[shardIndex(tc.id(i), shards)]++
			}
			fullest := 0
			for _, n := range count {
				fullest = max(fullest, n)
			}
			if mean := ids / shards; fullest > 2*mean {
				t.Fatalf("fullest shard holds %d, more than twice the mean %d: %v", fullest, mean, count)
			}
		})
	}
	for _, n := range []int{1, 3, 64, 1000} { // every index in range
		for i := range 10000 {
			if k := shardIndex(int64(i)<<22, n); k < 0 || k >= n {
				t.Fatalf("shardIndex(%d, %d) = %d", int64(i)<<22, n, k)
			}
		}
	}
}

// BenchmarkRegistryContention: many goroutines registering and removing
// members at once (connections opening and closing on every event loop),
// with IDs made 1 ms apart as trickling connections get them, on one shard
// against 64.
func BenchmarkRegistryContention(b *testing.B) {
	for _, shards := range []int{1, 64} {
		b.Run(fmt.Sprintf("shards=%d", shards), func(b *testing.B) {
			r := NewRegistry(shards)
			b.ReportAllocs()
			var next int64
			var mu = make(chan struct{}, 1)
			mu <- struct{}{}
			b.RunParallel(func(pb *testing.PB) {
				<-mu
				base := next
				next += 1 << 40
				mu <- struct{}{}
				members := make([]*Member, 64)
				for i := range members {
					members[i] = &Member{ID: (1_700_000_000_000 + base + int64(i)) << 22}
				}
				i := 0
				for pb.Next() {
					m := members[i%len(members)]
					r.Add(m)
					_ = r.Get(m.ID)
					r.Remove(m)
					i++
				}
			})
		})
	}
}
