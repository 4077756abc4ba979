package shard

import (
	"context"
	"fmt"
	"testing"

	"github.com/panjf2000/gnet/v2"

	"github.com/fanout/fanout/internal/testutil"
	"github.com/fanout/fanout/metrics"
)

func TestMain(m *testing.M) { testutil.VerifyTestMain(m) }

// manualLoop queues tasks and runs them when told: a deterministic,
// single-goroutine event loop for benchmarks.
type manualLoop struct{ queue []gnet.Runnable }

func (l *manualLoop) Execute(_ context.Context, r gnet.Runnable) error {
	l.queue = append(l.queue, r)
	return nil
}

func (l *manualLoop) runAll() {
	for i := 0; i < len(l.queue); i++ { // tasks may queue more tasks
		_ = l.queue[i].Run(context.Background())
	}
	clear(l.queue)
	l.queue = l.queue[:0]
}

// discardConn counts bytes like a socket that always has room.
type discardConn struct{ n int }

func (c *discardConn) Writev(bs [][]byte) (int, error) {
	n := 0
	for _, b := range bs {
		n += len(b)
	}
	c.n += n
	return n, nil
}

// BenchmarkFanout measures one line (or a burst of lines) from one sender
// to N recipients on the same loop: publish, seal, one delivery round.
// allocs/op must not grow with the recipient count, metrics on or off.
func BenchmarkFanout(b *testing.B) {
	line := []byte("a typical chat line of some sixty bytes, give or take a few")
	for _, withMetrics := range []bool{false, true} {
		for _, burst := range []int{1, 16} {
			for _, n := range []int{1, 100, 10000} {
				name := fmt.Sprintf("metrics=%t/lines=%d/recipients=%d", withMetrics, burst, n)
				b.Run(name, func(b *testing.B) { benchFanout(b, line, burst, n, withMetrics) })
			}
		}
	}
}

// benchHub returns a manual loop whose hub has one sender (writing to a
// discardConn) and n recipients writing to what recipient returns; every
// wsEvery-th recipient reads the WebSocket encoding (0: none does).
func benchHub(b *testing.B, opts Options, n, wsEvery int, recipient func() Sink) (*manualLoop, *Member) {
	l := &manualLoop{}
	f := New(NewRegistry(64), opts)
	b.Cleanup(f.Close)
	h := f.Hub(l)
	sender := NewMember(1, &discardConn{})
	h.Join(sender)
	for i := range n {
		if wsEvery > 0 && i%wsEvery == 0 {
			h.Join(NewWebSocketMember(int64(i+2), recipient()))
		} else {
			h.Join(NewMember(int64(i+2), recipient()))
		}
	}
	return l, sender
}

// BenchmarkFanoutMixed: the same as BenchmarkFanout with TCP and
// WebSocket recipients mixed (ws=2: every other one; ws=1: all of them).
// Each batch is encoded once per encoding, not per recipient: allocs/op
// stay flat as recipients grow.
func BenchmarkFanoutMixed(b *testing.B) {
	line := []byte("a typical chat line of some sixty bytes, give or take a few")
	for _, wsEvery := range []int{2, 1} {
		for _, burst := range []int{1, 16} {
			for _, n := range []int{1, 100, 10000} {
				b.Run(fmt.Sprintf("ws=%d/lines=%d/recipients=%d", wsEvery, burst, n), func(b *testing.B) {
					l, sender := benchHub(b, Options{}, n, wsEvery, func() Sink { return &discardConn{} })
					b.ReportAllocs()
					for b.Loop() {
						for range burst {
							sender.Publish(line)
						}
						l.runAll()
					}
					b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n*burst), "ns/delivery")
				})
			}
		}
	}
}

func benchFanout(b *testing.B, line []byte, burst, n int, withMetrics bool) {
	opts := Options{}
	if withMetrics {
		opts.OnSeal = metrics.New(func() metrics.Snapshot { return metrics.Snapshot{} }).ObserveSeal
	}
	l, sender := benchHub(b, opts, n, 0, func() Sink { return &discardConn{} })
	b.ReportAllocs()
	b.SetBytes(int64(burst * (len(line) + 4) * n))
	for b.Loop() {
		for range burst {
			sender.Publish(line)
		}
		l.runAll()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n*burst), "ns/delivery")
}

// halfConn takes half of what each write offers (at least one byte), like
// a socket with little room: every recipient needs a wait and a resume.
type halfConn struct{ n int }

func (c *halfConn) Writev(bs [][]byte) (int, error) {
	total := 0
	for _, b := range bs {
		total += len(b)
	}
	take := max(total/2, 1)
	c.n += take
	return take, nil
}

// readyWaiter reports room at once, as a socket that drains as fast as it
// fills would.
type readyWaiter struct{}

func (readyWaiter) Wait(m *Member) error { m.Writable(); return nil }
func (readyWaiter) Forget(*Member)       {}

// BenchmarkFanoutShortWrites: every recipient's socket takes half of each
// write, so each line costs each recipient a short write, a wait and a
// resume from its cursor. allocs/op must stay flat as recipients grow.
func BenchmarkFanoutShortWrites(b *testing.B) {
	line := []byte("a typical chat line of some sixty bytes, give or take a few")
	for _, n := range []int{1, 100, 10000} {
		b.Run(fmt.Sprintf("recipients=%d", n), func(b *testing.B) {
			l, sender := benchHub(b, Options{Waiter: readyWaiter{}}, n, 0, func() Sink { return &halfConn{} })
			b.ReportAllocs()
			for b.Loop() {
				sender.Publish(line)
				l.runAll()
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/delivery")
		})
	}
}
