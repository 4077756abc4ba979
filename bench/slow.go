package bench

import (
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// A slow reader reads at most --slow-read-rate bytes a second. The other
// readers are level-triggered loops (epoll, or poll), which would spin on
// a socket they leave unread, so each slow reader has a goroutine of its
// own that wakes every slowTick, adds rate×elapsed to a token bucket
// holding at most slowBurst of it, and reads (non-blocking) no more than
// the bucket holds. Over any stretch of t seconds it reads at most
// rate×t plus one bucket. The kernel then holds what it has not read, its receive window
// closes, and the server sees a reader that takes bytes slowly: the case
// the server's slow-reader rule is about.

const (
	slowTick  = 5 * time.Millisecond  // how often a slow reader wakes
	slowBurst = 50 * time.Millisecond // the bucket holds this long's worth of bytes
	// slowCheckEvery is how often a slow reader looks at its socket's TCP
	// state: a cut shows there at once, while a read would first return
	// every byte the kernel still holds, at the reader's pace.
	slowCheckEvery = 10 * time.Millisecond
)

// readBudget is a token bucket of bytes: it fills at rate bytes/s up to
// limit and is spent by reads. Whatever the times it is asked at, what it
// hands out by time t is at most limit + rate×(t − the first time).
// Owned by one goroutine.
type readBudget struct {
	rate, limit float64
	tokens      float64
	last        time.Time
}

func newReadBudget(rate float64, window time.Duration, now time.Time) *readBudget {
	return &readBudget{rate: rate, limit: max(rate*window.Seconds(), 1), last: now}
}

// available fills the bucket for the time since the last call and returns
// the whole bytes it holds.
func (b *readBudget) available(now time.Time) int {
	if now.After(b.last) {
		b.tokens = min(b.tokens+b.rate*now.Sub(b.last).Seconds(), b.limit)
		b.last = now
	}
	return int(b.tokens)
}

// spend takes n bytes read (at most what available returned) out.
func (b *readBudget) spend(n int) { b.tokens = max(b.tokens-float64(n), 0) }

// readSlowly is slow reader c's goroutine: it reads c at the workload's
// rate until stop closes or the server closes c, and records when it saw
// the close (c.cutAt) and how many bytes it read over how long.
func (r *run) readSlowly(c *conn, stop <-chan struct{}) error {
	if err := unix.SetNonblock(c.fd, true); err != nil { // it only reads: nothing else blocks on it
		return os.NewSyscallError("set non-blocking", err)
	}
	buf := make([]byte, r.w.ReadBuffer)
	samples := make([]int64, 0, sampleFlush)
	defer func() { r.flushSamples(c.idx, samples) }()
	began := time.Now()
	defer func() { c.readFor = time.Since(began) }()
	budget := newReadBudget(r.w.SlowReadRate, slowBurst, began)
	lastCheck := began
	tick := time.NewTicker(slowTick)
	defer tick.Stop()
	for !c.done {
		select {
		case <-stop:
			return nil
		case <-tick.C:
		}
		now := time.Now()
		for n := budget.available(now); n > 0 && !c.done; n = budget.available(now) {
			var got int
			samples, got = r.readOnce(c, buf, n, now.UnixNano(), samples)
			if got == 0 {
				break // nothing there (or the end)
			}
			budget.spend(got)
		}
		if !c.done && now.Sub(lastCheck) >= slowCheckEvery {
			lastCheck = now
			if !established(c.fd) {
				c.done, c.cutAt = true, now.UnixNano()
			}
		}
	}
	return nil
}
