package shard

import (
	"math"
	"math/bits"
	"sync/atomic"
)

// Drain rates: how fast each reader really reads, for the outlier rule
// (pressure.go).
//
// How far behind a member is in the log does not tell how fast it reads:
// the bytes between the log and its application sit in two kernel buffers
// (the server's send buffer and the client's receive buffer, which Linux
// grows up to tcp_rmem's maximum, 32 MiB on some machines), and their sizes
// differ from socket to socket. Under overload every reader is tens of
// megabytes behind, and the ones with the smaller buffers are simply
// further behind in the log while reading exactly as fast as the others
// (measured: 20 blasting senders, 500 readers; the readers cut by a lag
// rule were 1.1x the median lag, not slower).
//
// A full socket tells the truth, though: from the moment a write finds it
// full to the next time one does (or the sweep finds it still waiting for
// room), every byte it passed on to the client (taken, less what it holds
// unsent: SIOCOUTQ, see probe) is one its reader read. So a member's drain
// rate is measured over full-to-full windows of at least stallGrace, and
// kept as a geometric running mean (a bucket, below); a window is
// abandoned when a write finds room to spare or a look finds the socket
// empty (the reader waited for data, and the window says nothing of its
// speed). A rate measured more than
// WriteDeadline ago has expired: a member without one reads at least as
// fast as it is served, and counts as fast.
//
// Rates are kept as buckets of a quarter of an octave (rateBucket), so
// that a hub publishes its members as counts per bucket: one small array
// of atomics, summed by every hub at each sweep (rateView).

// Bucket layout: 0 holds rates below 1 B/s; bucket 1+4e+k holds rates in
// [2^e*(1+k/4), 2^e*(1+(k+1)/4)); rates are capped below 2^maxRateExp B/s;
// bucketFast, last, holds members with no rate: fast.
const (
	maxRateExp  = 40 // 1 TiB/s
	bucketFast  = 1 + 4*maxRateExp
	rateBuckets = bucketFast + 1
	// fasterBy is how many buckets up a member reads at least outlierShare
	// times as fast as any rate of a bucket: 2 octaves (4x: 8 buckets,
	// since 2^(e+2)*(1+k/4) is 4*2^e*(1+k/4)) and one more for the width of
	// the bucket itself. outlierShare is 4.
	fasterBy = 9
)

// rateBucket returns the bucket of a rate in bytes per second.
func rateBucket(bytesPerSec float64) uint8 {
	if bytesPerSec < 1 {
		return 0
	}
	r := uint64(min(bytesPerSec, float64(uint64(1)<<maxRateExp-1)))
	e := bits.Len64(r) - 1
	var k uint64
	if e >= 2 {
		k = (r >> (e - 2)) & 3
	} else {
		k = (r << (2 - e)) & 3
	}
	return uint8(1 + 4*e + int(k))
}

// noteFull accounts for m's socket found full at now (by a write, or by
// the sweep while it waits for room; m.unsent is fresh): it ends m's
// measuring window when the window is long enough (a rate sample: what
// the socket passed on since it was full before) and starts the next one.
func (h *Hub) noteFull(m *Member, now int64) {
	known := m.unsent >= 0
	passed := int64(m.sent) - int64(max(m.unsent, 0))
	if m.fullSince == 0 || now <= m.fullSince || known != m.fullKnown || passed < m.fullPassed {
		// A new window; or its ends are not alike (the unsent count known
		// at one only), so their difference would say nothing.
		m.fullSince, m.fullPassed, m.fullKnown = now, passed, known
		return
	}
	span := now - m.fullSince
	if span < int64(h.f.stallGrace) {
		return // too short to tell a rate from a kernel's step
	}
	b := rateBucket(float64(passed-m.fullPassed) * 1e9 / float64(span))
	if h.hasRate(m, now) {
		b = uint8((int(m.drain) + int(b) + 1) / 2) // a geometric running mean, rounded toward the faster
	}
	m.drain, m.drainAt = b, now
	m.fullSince, m.fullPassed = now, passed
}

// noteRoom ends m's measuring window without a sample: a write left room
// in its socket, so what it took since says nothing of how fast it reads.
func (m *Member) noteRoom() { m.fullSince = 0 }

// hasRate reports whether m's drain rate was measured within WriteDeadline.
func (h *Hub) hasRate(m *Member, now int64) bool {
	return m.drainAt != 0 && now-m.drainAt < int64(h.f.opts.WriteDeadline)
}

// rateCounts is one hub's members per rate bucket, as of its last count.
// Written by the hub's loop, read by every hub.
type rateCounts [rateBuckets]atomic.Int32

// publishRates counts this hub's members per rate bucket for the outlier
// rule: every member that is caught up or reading (progress within
// stallGrace) by its rate, or as fast when it has none. A member that
// does not read counts for nothing: the write deadline deals with it.
func (h *Hub) publishRates(now int64) {
	var n [rateBuckets]int32
	rated := false
	for _, m := range h.members {
		m.pubBucket = notCounted
		if !m.cur.attached {
			continue
		}
		caughtUp := h.log.caughtUpAt(&m.cur)
		if !caughtUp && now-m.moved >= int64(h.f.stallGrace) {
			continue
		}
		b := uint8(bucketFast)
		if h.hasRate(m, now) {
			b, rated = m.drain, true
		}
		n[b]++
		m.pubBucket = b
	}
	for i := range n {
		if h.rates[i].Load() != n[i] {
			h.rates[i].Store(n[i])
		}
	}
	// While a rate counted here has not expired, count again (an idle
	// hub's sweep is armed for it): a rate must not outlive WriteDeadline.
	h.recountRates = rated
}

// notCounted is Member.pubBucket of a member publishRates did not count.
const notCounted = 0xFF

// rateView is every hub's rateCounts summed, as of one sweep: above[b] is
// how many members are in bucket b or faster. Owned by one hub's loop.
type rateView struct {
	above [rateBuckets + 1]int64
}

// gather sums every hub's published counts into v.
func (v *rateView) gather(f *Fanout) {
	var n [rateBuckets]int64
	for _, h := range f.Hubs() {
		for i := range n {
			n[i] += int64(h.rates[i].Load())
		}
	}
	v.above[rateBuckets] = 0
	for i := rateBuckets - 1; i >= 0; i-- {
		v.above[i] = v.above[i+1] + n[i]
	}
}

// outlier reports whether m, a member reading at rate bucket b, reads
// slower than the rest: at least one member reads outlierShare times as
// fast (or has no rate: it keeps up), and those outnumber by outlierShare
// to one the members that do not. m itself is left out of both, wherever
// it was counted (self: its bucket as last published, or notCounted).
func (v *rateView) outlier(b, self uint8) bool {
	up := min(int(b)+fasterBy, bucketFast)
	faster, total := v.above[up], v.above[0]
	if self != notCounted {
		total--
		if int(self) >= up {
			faster--
		}
	}
	alike := total - faster
	return faster > 0 && faster >= outlierShare*alike
}

// rateOf returns the bytes per second at the bottom of bucket b, for logs.
func rateOf(b uint8) float64 {
	if b == 0 {
		return 0
	}
	e, k := (int(b)-1)/4, (int(b)-1)%4
	return math.Ldexp(1+float64(k)/4, e)
}
