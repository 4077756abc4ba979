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

// Reasons given to Options.OnEvict.
var (
	// ErrSlowConsumer: the member made no progress for WriteDeadline while
	// it was owed bytes, or it held senders back for WriteDeadline while
	// the others kept up (the outlier rule, see pressure.go).
	ErrSlowConsumer = errors.New("shard: slow consumer")
	// ErrTooFarBehind: the member fell more than MaxLag behind the head of
	// its hub's log and was not reading.
	ErrTooFarBehind = errors.New("shard: too far behind")
	// ErrWriteFailed: the member's connection refused a write (reset,
	// closed, or closing).
	ErrWriteFailed = errors.New("shard: write failed")
)

// DefaultMaxLag is the default Options.MaxLag.
const DefaultMaxLag = 64 << 20

// DefaultWriteDeadline is the default Options.WriteDeadline.
const DefaultWriteDeadline = 10 * time.Second

// DefaultMaxInjectBacklog is the default Options.MaxInjectBacklog.
const DefaultMaxInjectBacklog = 64 << 20

// DefaultSealBytes is the outbox size past which a batch is sealed at once
// instead of at the end of the event-loop cycle.
const DefaultSealBytes = 256 << 10

// SlowReaderPolicy says what becomes of a reader that holds senders back
// while the others keep up (Options.SlowReader).
type SlowReaderPolicy uint8

const (
	// CutOutliers cuts it once it has held senders back for WriteDeadline
	// (the default): the readers that keep up and the senders go on at
	// full speed.
	CutOutliers SlowReaderPolicy = iota
	// PaceAll never cuts a reader that reads: everyone is slowed to the
	// slowest reader's pace.
	PaceAll
)

// Options tunes a Fanout. The zero value is usable: DefaultMaxLag,
// DefaultWriteDeadline, no coalescing, DefaultSealBytes, no Waiter, no
// holding senders back.
type Options struct {
	// MaxLag is how far (bytes of stream) a member that does not read may
	// fall behind the head of its hub's log before it is cut off.
	// Back-pressure on senders starts when a reading member is MaxLag/2
	// behind. Default DefaultMaxLag.
	MaxLag int
	// WriteDeadline is how long a member that is owed bytes may go without
	// its socket taking any before it is cut off, and how long a reader
	// may hold senders back while the others keep up. Default
	// DefaultWriteDeadline.
	WriteDeadline time.Duration
	// HoldSenders says the server can stop reading senders' sockets while
	// the fan-out is congested (see Congested, Member.Hold): readers that
	// fall behind while reading then hold senders back. Without it nobody
	// is flagged and a member more than MaxLag behind is cut.
	HoldSenders bool
	// SlowReader chooses between cutting a reader that persistently holds
	// senders back while the others keep up (CutOutliers, the default) and
	// pacing everyone to it (PaceAll).
	SlowReader SlowReaderPolicy
	// Clock is where the time is read and timers set; nil: the real clock.
	Clock Clock
	// Waiter reports when full sockets have room again. Without one (tests,
	// benchmarks), a member whose socket was full is retried at the next
	// round or sweep.
	Waiter Waiter
	// OnResume is called, on the member's loop, for each sender parked with
	// Member.Hold once congestion lifts; it should make the server read the
	// sender's socket again.
	OnResume func(m *Member)
	// Coalesce bounds the coalescing window: the pause a hub may put
	// between the starts of two delivery rounds so that each write carries
	// more lines. Within it the window chooses itself: what the hub's
	// rounds cost to write divided by the duty, the share of a loop's time
	// rounds may take, which follows how busy the CPUs are (Meter). A line
	// after a quiet spell goes out at once. 0 turns coalescing off: every
	// round starts as soon as the loop can run it.
	Coalesce time.Duration
	// Meter reports how idle the process's CPUs are; the duty falls while
	// they are saturated and rises while they have room. nil keeps the
	// duty at DefaultDuty.
	Meter IdleMeter
	// SealBytes seals the outbox early once it holds this many bytes.
	SealBytes int
	// OnEvict is called, on the member's loop, when a member is cut off
	// (reason wraps ErrSlowConsumer, ErrTooFarBehind or ErrWriteFailed).
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
	opts  Options
	reg   *Registry
	pacer *pacer // chooses every hub's coalescing window

	mu     sync.Mutex             // guards byExec and hub creation
	byExec map[Executor]*Hub      // guarded by mu
	hubs   atomic.Pointer[[]*Hub] // copy-on-write list read by every flush

	lostTasks   atomic.Uint64 // Execute calls refused (engine shutting down)
	liveBytes   atomic.Int64  // bytes of sealed batches still held by some log
	peakLive    atomic.Int64  // the most liveBytes reached since TakePeakLogBytes
	congested   atomic.Int32  // hubs with a flagged member
	congestions atomic.Uint64 // times congestion began
	heldNow     atomic.Int64  // senders parked by Member.Hold
	blockedNow  atomic.Int64  // members waiting for room on a full socket
	flaggedNow  atomic.Int64  // members holding senders back, over every hub
	holdSenders atomic.Bool   // Options.HoldSenders, until StopHoldingSenders

	// Derived from opts once.
	clock                  Clock
	flagAbove, unflagBelow int64         // back-pressure thresholds (MaxLag/2, MaxLag/4)
	stallGrace             time.Duration // no progress this long: a flag no longer holds senders
	cutGrace               time.Duration // past MaxLag, no progress this long: cut
	sweepEvery             time.Duration // how often a hub with a backlog checks deadlines
	inboxLimit             int           // a hub's inbox past this holds senders back (MaxLag/4)
}

// New returns a Fanout registering its members in reg.
func New(reg *Registry, opts Options) *Fanout {
	if opts.SealBytes <= 0 {
		opts.SealBytes = DefaultSealBytes
	}
	if opts.MaxInjectBacklog <= 0 {
		opts.MaxInjectBacklog = DefaultMaxInjectBacklog
	}
	if opts.MaxLag <= 0 {
		opts.MaxLag = DefaultMaxLag
	}
	if opts.WriteDeadline <= 0 {
		opts.WriteDeadline = DefaultWriteDeadline
	}
	if opts.Clock == nil {
		opts.Clock = realClock{}
	}
	f := &Fanout{opts: opts, reg: reg, byExec: make(map[Executor]*Hub), clock: opts.Clock,
		pacer: newPacer(opts.Coalesce, opts.Meter)}
	f.flagAbove, f.unflagBelow = int64(opts.MaxLag/2), int64(opts.MaxLag/4)
	// A member whose socket took nothing for stallGrace no longer holds
	// senders back: short, so that a client about to stall (its kernel
	// buffers just filled) cannot hold them for long.
	f.stallGrace = min(max(opts.WriteDeadline/8, 10*time.Millisecond), 250*time.Millisecond)
	// Past MaxLag a member gets cutGrace to show it reads, holding senders
	// meanwhile: long enough for a client starved of CPU for a while (on a
	// loaded machine, a second or more), short enough that clients that
	// never read hold senders back once, briefly, before they are cut.
	f.cutGrace = min(max(opts.WriteDeadline/4, 4*f.stallGrace), 2500*time.Millisecond)
	f.sweepEvery = max(f.stallGrace/4, 2*time.Millisecond)
	f.holdSenders.Store(opts.HoldSenders)
	// A loop that takes batches slower than they are sealed elsewhere
	// (busy, or starved of CPU) would let them pile up in its inbox, out
	// of reach of the flags: past a quarter of MaxLag senders are held too.
	f.inboxLimit = max(opts.MaxLag/4, 2*opts.SealBytes)
	f.hubs.Store(&[]*Hub{})
	return f
}

// StopHoldingSenders is for a server that finds it cannot stop reading
// senders' sockets after all: from now on nobody is flagged, and members
// more than MaxLag behind are cut, so memory stays bounded. Flags set
// before drop as usual. Safe for concurrent use.
func (f *Fanout) StopHoldingSenders() { f.holdSenders.Store(false) }

// holding reports whether readers may hold senders back.
func (f *Fanout) holding() bool { return f.holdSenders.Load() }

// now reads the Fanout's clock, in Unix nanoseconds.
func (f *Fanout) now() int64 { return f.clock.Now().UnixNano() }

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

// Close stops the hubs' timers. Call it once the event loops are gone.
func (f *Fanout) Close() {
	for _, h := range f.Hubs() {
		if h.timer != nil {
			h.timer.Stop()
		}
		h.sweepTimer.Stop()
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
	Evictions  uint64 // members cut off (slow, too far behind, write failed)
	LostTasks  uint64 // tasks an event loop refused (it was shutting down)

	LogBytes    int64  // bytes of sealed batches held now, once each, by every log together
	BehindBytes int64  // the largest hub log: how far behind the slowest member is
	Congested   bool   // senders are being held back now
	Congestions uint64 // times back-pressure began
	Held        int64  // senders parked now
	Flagged     int64  // readers holding senders back now
	Full        int64  // members whose socket was full, waiting for room

	Window    time.Duration // the widest coalescing window a hub chose for its last round
	RoundCost time.Duration // the longest a hub's last round took to write
	Duty      float64       // the share of a loop's time rounds may take now (0 when Coalesce is off)
}

// TakePeakLogBytes returns the most bytes the logs held at once since the
// last call, and starts a new period at what they hold now. Safe for
// concurrent use.
func (f *Fanout) TakePeakLogBytes() int64 {
	return f.peakLive.Swap(f.liveBytes.Load())
}

// Stats sums the hubs' counters. Safe for concurrent use.
func (f *Fanout) Stats() Stats {
	s := Stats{LostTasks: f.lostTasks.Load(), LogBytes: f.liveBytes.Load(), Congested: f.Congested(),
		Congestions: f.congestions.Load(), Held: f.heldNow.Load(), Flagged: f.flaggedNow.Load(), Full: f.blockedNow.Load()}
	if f.opts.Coalesce > 0 {
		s.Duty = f.pacer.Duty()
	}
	for _, h := range f.Hubs() {
		s.BehindBytes = max(s.BehindBytes, h.logSize.Load())
		s.Window = max(s.Window, time.Duration(h.window.Load()))
		s.RoundCost = max(s.RoundCost, time.Duration(h.cost.Load()))
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
	b := getBatch(f, nil) // no local sender: every member gets all of it
	b.buf, b.lines = buf, lines
	f.handOut(b, hubs)
	return true
}

// handOut gives sealed batch b to every hub; the last to drop it from its
// log recycles it. Safe for concurrent use.
func (f *Fanout) handOut(b *batch, hubs []*Hub) {
	live := f.liveBytes.Add(int64(len(b.buf)))
	for peak := f.peakLive.Load(); live > peak && !f.peakLive.CompareAndSwap(peak, live); {
		peak = f.peakLive.Load()
	}
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

// Visit runs fn on the member with the given ID, on its own loop, found
// through the registry (no scan), and waits for it or ctx. It reports
// false when no such member is open (or it left before fn could run).
func (f *Fanout) Visit(ctx context.Context, id int64, fn func(m *Member)) (bool, error) {
	m := f.reg.Get(id)
	if m == nil {
		return false, nil
	}
	found := make(chan bool, 1) // buffered: a late run never blocks its loop
	task := gnet.RunnableFunc(func(context.Context) error {
		if m.gone {
			found <- false
			return nil
		}
		fn(m)
		found <- true
		return nil
	})
	if err := m.hub.exec.Execute(ctx, task); err != nil {
		return false, fmt.Errorf("shard: visit %d: %w", id, err)
	}
	select {
	case ok := <-found:
		return ok, nil
	case <-ctx.Done():
		return false, fmt.Errorf("shard: visit %d: %w", id, ctx.Err())
	}
}

// Backlog returns how many bytes are still queued anywhere in the fan-out:
// unsealed outboxes, undelivered inboxes and what members are still owed.
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
