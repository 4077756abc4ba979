package shard

import (
	"math"
	"testing"
)

// Rate buckets: monotonic, a quarter of an octave wide, and fasterBy
// buckets up is at least outlierShare times as fast as anything below.
func TestRateBucket(t *testing.T) {
	prev := uint8(0)
	for r := 0.5; r < 1<<(maxRateExp+2); r *= 1.01 {
		b := rateBucket(r)
		if b < prev {
			t.Fatalf("rateBucket(%.0f) = %d, below the %d of a slower rate", r, b, prev)
		}
		prev = b
		if b >= bucketFast {
			t.Fatalf("rateBucket(%.0f) = %d, the bucket of members with no rate", r, b)
		}
		if r >= 4 && r < 1<<maxRateExp-1 {
			if lo := rateOf(b); lo > r || r >= lo*1.25+1 {
				t.Fatalf("rateBucket(%.0f) = %d, which starts at %.0f", r, b, lo)
			}
		}
		if up := int(b) + fasterBy; up < bucketFast && b > 0 {
			if top := rateOf(b + 1); rateOf(uint8(up)) < outlierShare*top {
				t.Fatalf("bucket %d starts at %.0f, less than %d times the top of bucket %d (%.0f)", up, rateOf(uint8(up)), outlierShare, b, top)
			}
		}
	}
	if b := rateBucket(math.Inf(1)); b != bucketFast-1 {
		t.Errorf("rateBucket(+Inf) = %d, want the last measured bucket %d", b, bucketFast-1)
	}
}

// The outlier test on counts: a member is slower than the rest when those
// at least outlierShare times as fast outnumber, by outlierShare to one,
// the others (itself apart).
func TestRateViewOutlier(t *testing.T) {
	const me = 40
	cases := []struct {
		name   string
		counts map[int]int64 // bucket -> members, me included
		want   bool
		self   uint8 // the bucket me was counted in; 0: me
	}{
		{"alone with the sender", map[int]int64{me: 1, bucketFast: 1}, true, 0},
		{"alone, nobody else", map[int]int64{me: 1}, false, 0},
		{"among fast readers", map[int]int64{me: 1, me + fasterBy: 10, bucketFast: 1}, true, 0},
		{"a bit faster is not faster", map[int]int64{me: 1, me + fasterBy - 1: 10}, false, 0},
		{"readers alike", map[int]int64{me: 500, bucketFast: 3}, false, 0},
		{"a fifth slow", map[int]int64{me: 3, bucketFast: 8}, true, 0},
		{"more than a fifth slow", map[int]int64{me: 3, bucketFast: 7}, false, 0},
		{"counted as fast before its first rate, one alike", map[int]int64{me: 1, bucketFast: 2}, false, bucketFast},
		{"counted as fast before its first rate, alone", map[int]int64{bucketFast: 2}, true, bucketFast},
		{"not counted, one alike", map[int]int64{me: 1, bucketFast: 1}, false, notCounted},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var n [rateBuckets]int64
			for b, c := range tc.counts {
				n[b] = c
			}
			var v rateView
			for i := rateBuckets - 1; i >= 0; i-- {
				v.above[i] = v.above[i+1] + n[i]
			}
			self := uint8(me)
			if tc.self != 0 {
				self = tc.self
			}
			if got := v.outlier(me, self); got != tc.want {
				t.Errorf("outlier = %t, want %t", got, tc.want)
			}
		})
	}
}
