package shard

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/panjf2000/gnet/v2"
)

// ErrSlowConsumer is the reason given to Options.OnEvict when a member's
// queued outbound bytes would pass Options.MaxPending.
var ErrSlowConsumer = errors.New("shard: slow consumer")

// DefaultMaxInjectBacklog is the default Options.MaxInjectBacklog.
const DefaultMaxInjectBacklog = 64 << 20

// DefaultSealBytes is the outbox size past which a batch is sealed at once
// instead of at the end of the event-loop cycle.
const DefaultSealBytes = 256 << 10

// DefaultCoalesceDuty keeps delivery writes to about a quarter of a loop's
// time once coalescing opens.
const DefaultCoalesceDuty = 4

// Options tunes a Fanout. The zero value is usable: no pending cap, no
// coalescing, DefaultSealBytes.
type Options struct {
	// MaxPending is how many outbound bytes a member may have queued (in
	// gnet's outbound buffer) before a write; past it the member is evicted
	// instead of written to. 0 means no cap.
	MaxPending int
	// Coalesce bounds the coalescing window: the pause a hub may put
	// between the starts of two delivery rounds so that each write carries
	// more lines. The window is CoalesceDuty times what the previous round
	// took to write, capped at Coalesce: it opens only when writing is
	// expensive (many members, many rounds), and a line arriving after a
	// quiet spell goes out at once. 0 turns coalescing off.
	Coalesce time.Duration
	// CoalesceDuty is that multiple; default DefaultCoalesceDuty.
	CoalesceDuty float64
	// SealBytes seals the outbox early once it holds this many bytes.
	SealBytes int
	// OnEvict is called, on the member's loop, when a member is cut off.
	// It should close the connection; the member receives nothing more.
	OnEvict func(m *Member, reason error)
	// OnSeal, if set, is called on the origin loop each time a batch is
	// handed to the hubs, with its line count and how long its first line
	// waited since it arrived. Once per batch, never per recipient.
	OnSeal func(lines int, waited time.Duration)
	// MaxInjectBacklog bounds what Inject may pile up: a batch from
	// elsewhere is refused while any hub has this many bytes waiting.
	// Default DefaultMaxInjectBacklog.
	MaxInjectBacklog int
	// OnBatch, if set, is called on the origin loop with each sealed batch
	// of locally sent lines (frames laid end to end) before the hubs get
	// it. buf is recycled after delivery: copy what must outlive the call.
	// The cluster bridge publishes batches to other nodes through it.
	OnBatch func(buf []byte, lines int)
}

// Fanout delivers every published line to every other member, batched per
// event loop. Safe for concurrent use as documented per method.
type Fanout struct {
	opts Options
	reg  *Registry

	mu     sync.Mutex             // guards byExec and hub creation
	byExec map[Executor]*Hub      // guarded by mu
	hubs   atomic.Pointer[[]*Hub] // copy-on-write list read by every flush

	lostTasks atomic.Uint64 // Execute calls refused (engine shutting down)
}

// New returns a Fanout registering its members in reg.
func New(reg *Registry, opts Options) *Fanout {
	if opts.SealBytes <= 0 {
		opts.SealBytes = DefaultSealBytes
	}
	if opts.MaxInjectBacklog <= 0 {
		opts.MaxInjectBacklog = DefaultMaxInjectBacklog
	}
	if opts.CoalesceDuty <= 0 {
		opts.CoalesceDuty = DefaultCoalesceDuty
	}
	f := &Fanout{opts: opts, reg: reg, byExec: make(map[Executor]*Hub)}
	f.hubs.Store(&[]*Hub{})
	return f
}

// Registry returns the registry members are kept in.
func (f *Fanout) Registry() *Registry { return f.reg }

// Hub returns the hub of the event loop exec runs tasks on, creating it on
// first use. Safe for concurrent use.
func (f *Fanout) Hub(exec Executor) *Hub {
	f.mu.Lock()
	defer f.mu.Unlock()
	if h, ok := f.byExec[exec]; ok {
		return h
	}
	h := newHub(f, exec)
	f.byExec[exec] = h
	hubs := append(append([]*Hub(nil), *f.hubs.Load()...), h)
	f.hubs.Store(&hubs)
	return h
}

// Hubs returns the hubs created so far. Safe for concurrent use.
func (f *Fanout) Hubs() []*Hub { return *f.hubs.Load() }

// Close stops the coalescing timers. Call it once the event loops are gone.
func (f *Fanout) Close() {
	for _, h := range f.Hubs() {
		if h.timer != nil {
			h.timer.Stop()
		}
	}
}

// Stats are cumulative fan-out counters, summed over hubs.
type Stats struct {
	Frames     uint64 // lines published
	Batches    uint64 // batches sealed
	Rounds     uint64 // delivery rounds run
	Writes     uint64 // write calls made to member connections
	Deliveries uint64 // lines handed to member connections
	BytesOut   uint64 // bytes handed to member connections
	Evictions  uint64 // members cut off as slow consumers
	LostTasks  uint64 // tasks an event loop refused (it was shutting down)
}

// Stats sums the hubs' counters. Safe for concurrent use.
func (f *Fanout) Stats() Stats {
	s := Stats{LostTasks: f.lostTasks.Load()}
	for _, h := range f.Hubs() {
		s.Frames += h.frames.Load()
		s.Batches += h.batches.Load()
		s.Rounds += h.rounds.Load()
		s.Writes += h.writes.Load()
		s.Deliveries += h.deliveries.Load()
		s.BytesOut += h.bytesOut.Load()
		s.Evictions += h.evictions.Load()
	}
	return s
}

// Inject hands frames that arrived from elsewhere (another node) to every
// hub, as one batch: each member gets all of them. buf holds whole frames
// ("<id>:<line>\r\n" …) and becomes the fan-out's; the caller must not
// touch it again. It refuses the batch (false) while a hub already has
// MaxInjectBacklog bytes waiting, so a sender faster than local delivery
// cannot grow memory without bound. Safe for concurrent use; batches
// injected from one goroutine are delivered in order.
func (f *Fanout) Inject(buf []byte, lines int) bool {
	hubs := f.Hubs()
	if len(hubs) == 0 || len(buf) == 0 {
		return true // nobody to deliver to: nothing lost
	}
	for _, h := range hubs {
		if h.queued() >= f.opts.MaxInjectBacklog {
			return false
		}
	}
	b := getBatch(nil) // no local sender: every member gets all of it
	b.buf, b.lines = buf, lines
	handOut(b, hubs)
	return true
}

// handOut gives sealed batch b to every hub; the last to write it
// recycles it. Safe for concurrent use.
func handOut(b *batch, hubs []*Hub) {
	b.refs.Store(int32(len(hubs)))
	for _, h := range hubs {
		h.enqueue(b)
	}
}

// Each runs fn on every member, on each member's own loop (one task per
// loop), and returns once every loop has run it or ctx ends.
func (f *Fanout) Each(ctx context.Context, fn func(m *Member)) error {
	_, err := f.onEveryLoop(ctx, "each", func(h *Hub) int {
		for _, m := range h.members {
			if !m.gone {
				fn(m)
			}
		}
		return 0
	})
	return err
}

// Backlog returns how many bytes are still queued anywhere in the fan-out:
// unsealed outboxes, undelivered inboxes and members' outbound buffers.
// It asks each loop and waits for the answers or ctx.
func (f *Fanout) Backlog(ctx context.Context) (int, error) {
	return f.onEveryLoop(ctx, "backlog", (*Hub).backlog)
}

// onEveryLoop runs fn once on each hub's loop and sums what it returns,
// waiting for every loop or ctx. The answer channel is buffered, so a loop
// finishing after ctx ended never blocks.
func (f *Fanout) onEveryLoop(ctx context.Context, what string, fn func(h *Hub) int) (int, error) {
	hubs := f.Hubs()
	answers := make(chan int, len(hubs))
	for i, h := range hubs {
		task := gnet.RunnableFunc(func(context.Context) error {
			answers <- fn(h)
			return nil
		})
		if err := h.exec.Execute(ctx, task); err != nil {
			return 0, fmt.Errorf("shard: %s on hub %d: %w", what, i, err)
		}
	}
	total := 0
	for range hubs {
		select {
		case n := <-answers:
			total += n
		case <-ctx.Done():
			return 0, fmt.Errorf("shard: %s: %w", what, ctx.Err())
		}
	}
	return total, nil
}
