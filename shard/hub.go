package shard

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/panjf2000/gnet/v2"
)

// maxIovecs is the most buffers one writev takes on Linux (UIO_MAXIOV).
const maxIovecs = 1024

// Hub is the fan-out state of one event loop. Fields marked loop-owned are
// touched only by tasks running on that loop.
type Hub struct {
	f           *Fanout
	exec        Executor
	flushTask   gnet.Runnable // seals the outbox; built once
	deliverTask gnet.Runnable // runs a delivery round; built once
	resumeTask  gnet.Runnable // writes to members whose sockets have room again; built once
	sweepTask   gnet.Runnable // enforces the write deadline; built once
	releaseTask gnet.Runnable // resumes held senders; built once
	timer       Timer         // fires a held-back round (nil: Coalesce off)
	sweepTimer  Timer         // fires sweepTask while members are behind

	members      []*Member     // loop-owned: everyone living on this loop
	out          *batch        // loop-owned: frames read this cycle, not yet sealed
	flushPending bool          // loop-owned: flushTask is queued
	delivering   bool          // loop-owned: the member list is being walked (round, resume, sweep); leaves wait in leaving
	leaving      []*Member     // loop-owned: left during a round, removed after it
	round        []*batch      // loop-owned: the batches of the current round
	lastRound    time.Time     // loop-owned: when the previous round started
	costAvg      time.Duration // loop-owned: what recent rounds took to write, averaged (see decayCost)
	roundCount   roundCount    // loop-owned: what the current round wrote
	iov          [][]byte      // loop-owned: scratch for one member's writev
	roundIov     [][]byte      // loop-owned: the current round's batches, for members that were caught up
	roundStart   int64         // loop-owned: the stream offset where the current round begins
	roundLines   int           // loop-owned: lines in the current round
	at           []int64       // loop-owned: stream offset of each iov piece
	held         []*Member     // loop-owned: senders parked by back-pressure
	readySpare   []*Member     // loop-owned: the other buffer of ready, swapped each resume
	flags        int           // loop-owned: members flagged as holding senders back
	sweeping     bool          // loop-owned: sweepTimer is armed

	// The log (see log.go); loop-owned.
	log      []entry // live entries are log[front:]
	front    int     // index of the oldest live entry
	firstSeq uint64  // sequence number of log[front]
	nextSeq  uint64  // sequence number the next entry gets
	tail     int64   // stream offset past the newest entry
	caughtUp int     // attached members with cursor == tail

	mu             sync.Mutex
	inbox          []*batch  // guarded by mu: sealed batches awaiting a round
	inboxBytes     int       // guarded by mu: bytes in inbox
	deliverPending bool      // guarded by mu: deliverTask is queued or held
	ready          []*Member // guarded by mu: members whose sockets have room again
	resumePending  bool      // guarded by mu: resumeTask is queued

	logSize atomic.Int64 // logBytes() as of the hub's last change, for Stats
	keeping atomic.Int32 // members keeping up, as of the last count (see publishKeeping)
	window  atomic.Int64 // the coalescing window the last round was held to, nanoseconds
	cost    atomic.Int64 // what the last round took to write, nanoseconds

	// Counters, written by the hub's loop, read by anyone.
	frames, batches, rounds, writes, deliveries, bytesOut, evictions atomic.Uint64
}

func newHub(f *Fanout, exec Executor) *Hub {
	h := &Hub{f: f, exec: exec}
	h.flushTask = gnet.RunnableFunc(func(context.Context) error { h.flush(); return nil })
	h.deliverTask = gnet.RunnableFunc(func(context.Context) error { h.deliver(); return nil })
	h.resumeTask = gnet.RunnableFunc(func(context.Context) error { h.resume(); return nil })
	h.sweepTask = gnet.RunnableFunc(func(context.Context) error { h.sweep(); return nil })
	h.releaseTask = gnet.RunnableFunc(func(context.Context) error { h.releaseHeld(); return nil })
	if f.opts.Coalesce > 0 {
		h.timer = f.clock.AfterFunc(time.Hour, func() { h.execute(h.deliverTask) })
		h.timer.Stop()
	}
	h.sweepTimer = f.clock.AfterFunc(time.Hour, func() { h.execute(h.sweepTask) })
	h.sweepTimer.Stop()
	return h
}

// Join adds m to this hub and to the registry; from now on m receives every
// line published by any other member. Runs on the hub's loop.
func (h *Hub) Join(m *Member) {
	m.hub = h
	m.pos = int32(len(h.members))
	h.members = append(h.members, m)
	h.attach(m)
	h.f.reg.Add(m)
	h.countKeepingIfIdle()
}

// Members returns how many members live on this hub. Runs on the hub's loop.
func (h *Hub) Members() int { return len(h.members) }

func (h *Hub) execute(r gnet.Runnable) {
	// A refusal only happens while the engine shuts down, when nothing more
	// is delivered anyway; it is counted, not retried.
	if err := h.exec.Execute(context.Background(), r); err != nil {
		h.f.lostTasks.Add(1)
	}
}

// publish appends m's frame to the outbox and makes sure it is sealed at the
// end of this loop cycle. Runs on the hub's loop.
func (h *Hub) publish(m *Member, line []byte) {
	if h.out == nil {
		h.out = getBatch(h.f, h)
		if h.f.opts.OnSeal != nil {
			h.out.first = h.f.clock.Now()
		}
	}
	b := h.out
	start := len(b.buf)
	b.buf = appendFrame(b.buf, m.prefix[:m.prefixLen], line)
	b.frames = append(b.frames, frame{sender: m, start: start, end: len(b.buf)})
	h.frames.Add(1)
	if len(b.buf) >= h.f.opts.SealBytes {
		h.flush()
		return
	}
	if !h.flushPending {
		h.flushPending = true
		h.execute(h.flushTask)
	}
}

// flush seals the outbox and hands it to every hub, this one included.
// Runs on the hub's loop.
func (h *Hub) flush() {
	h.flushPending = false
	b := h.out
	if b == nil || len(b.buf) == 0 {
		return
	}
	h.out = nil
	h.batches.Add(1)
	b.lines = len(b.frames)
	if h.f.opts.OnSeal != nil {
		h.f.opts.OnSeal(b.lines, h.f.clock.Now().Sub(b.first))
	}
	if h.f.opts.OnBatch != nil {
		h.f.opts.OnBatch(b.buf, b.lines)
	}
	h.f.handOut(b, h.f.Hubs())
}

// enqueue hands b to this hub's next round. Safe for concurrent use.
func (h *Hub) enqueue(b *batch) {
	h.mu.Lock()
	h.inbox = append(h.inbox, b)
	h.inboxBytes += len(b.buf)
	schedule := !h.deliverPending
	h.deliverPending = true
	h.mu.Unlock()
	if schedule {
		h.execute(h.deliverTask)
	}
}

// queued returns the bytes waiting in the inbox. Safe for concurrent use.
func (h *Hub) queued() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.inboxBytes
}

// deliver runs one round: every batch in the inbox joins the log, and every
// member that is not waiting for room is written what it is owed, its own
// frames left out, with one writev (more only when its socket takes more
// than one layout's worth). Runs on the hub's loop.
func (h *Hub) deliver() {
	now := h.f.clock.Now()
	h.mu.Lock()
	idle := len(h.inbox) == 0 // a held round's timer after the inbox went out with another
	if idle {
		h.deliverPending = false
	}
	h.mu.Unlock()
	if idle {
		return
	}
	if h.timer != nil {
		// Rounds start at least a window apart, the window following what
		// they cost and how busy the CPUs are (see pacer); a round after a
		// quiet spell goes at once, and what rounds cost before it is
		// mostly forgotten.
		if !h.lastRound.IsZero() {
			h.costAvg = decayCost(h.costAvg, now.Sub(h.lastRound)-h.f.pacer.window(h.costAvg))
		}
		wait, window := h.f.pacer.hold(now, h.lastRound, h.costAvg)
		h.window.Store(int64(window))
		if wait > 0 {
			h.timer.Reset(wait)
			return
		}
	}
	h.lastRound = now

	h.mu.Lock()
	h.round, h.inbox = h.inbox, h.round[:0]
	h.inboxBytes = 0
	h.deliverPending = false
	h.mu.Unlock()
	if len(h.round) == 0 {
		return
	}
	h.rounds.Add(1)
	h.roundStart, h.roundLines = h.tail, 0
	h.roundIov = h.roundIov[:0]
	for _, b := range h.round {
		h.roundIov = append(h.roundIov, b.buf)
		h.roundLines += b.lines
	}
	first := h.nextSeq
	h.appendLog(h.round)
	clear(h.round)
	h.round = h.round[:0]

	nanos := now.UnixNano()
	h.delivering = true
	for _, m := range h.members {
		switch {
		case !m.attached:
		case m.cursor == h.roundStart && len(m.own.live()) == 0:
			h.writeRound(m, first, nanos)
		case !m.blocked:
			h.writeTo(m, nanos)
		case !m.flagged && nanos-m.moved < int64(h.f.stallGrace):
			// Waiting for room but reading: the round may have put it far
			// behind before its socket reports room again.
			h.checkFlag(m, nanos, true)
		}
	}
	cost := h.f.clock.Now().Sub(now)
	h.costAvg = averageCost(h.costAvg, cost)
	h.cost.Store(int64(cost))
	h.cutLaggards(nanos)
	h.delivering = false
	clear(h.roundIov)
	h.afterWrites()
}

// writeRound is writeTo for the common case: m was caught up before this
// round and sent none of it, so it is owed exactly the round's batches,
// contiguous in the stream; first is the sequence number of the round's
// first entry. Runs on the hub's loop.
func (h *Hub) writeRound(m *Member, first uint64, now int64) {
	n, err := m.Conn.Writev(h.roundIov)
	h.roundCount.writes++
	if err == nil && int64(n) == h.tail-h.roundStart { // all of it: caught up again
		h.entryAt(first).holders--
		h.caughtUp++
		m.cursor, m.entry = h.tail, h.nextSeq
		m.sent += uint64(n)
		m.moved = now // a socket that took everything is read
		h.roundCount.bytes += uint64(n)
		h.roundCount.deliveries += uint64(h.roundLines)
		return
	}
	m.progress = now // fell behind just now: the deadline counts from here
	h.took(m, n, now)
	h.moveCursor(m, h.roundStart+int64(max(n, 0)))
	if err != nil {
		h.writeFailed(m, err)
		return
	}
	h.block(m)
	h.checkFlag(m, now, n > 0)
}

// took accounts for n bytes m's socket took at now: progress for the
// write deadline and the flags. Runs on the hub's loop.
func (h *Hub) took(m *Member, n int, now int64) {
	if n <= 0 {
		return
	}
	h.roundCount.bytes += uint64(n)
	m.sent += uint64(n)
	m.progress, m.moved, m.unsent = now, now, -1
}

// writeFailed cuts m, whose socket refused a write. Runs on the hub's loop.
func (h *Hub) writeFailed(m *Member, err error) {
	h.cut(m, fmt.Errorf("%w: %w", ErrWriteFailed, err))
}

// afterWrites finishes a round or a resume: members that left meanwhile
// are removed, the log is trimmed and the counters are published.
// Runs on the hub's loop.
func (h *Hub) afterWrites() {
	for i, m := range h.leaving {
		h.remove(m)
		h.leaving[i] = nil
	}
	h.leaving = h.leaving[:0]
	h.trim()
	h.publishCount()
	h.countKeepingIfIdle()
	if h.logBytes() > 0 && !h.sweeping {
		h.sweeping = true
		h.sweepTimer.Reset(h.f.sweepEvery)
	}
}

// writeTo writes m what it is owed, up to what its socket takes now, and
// waits for room when the socket is full. Runs on the hub's loop.
func (h *Hub) writeTo(m *Member, now int64) {
	if m.progress == 0 && m.cursor < h.tail {
		m.progress = now // fell behind just now: the deadline counts from here
	}
	moved := false
	for m.attached && m.cursor < h.tail {
		total, stop := h.gather(m)
		if total == 0 {
			h.moveCursor(m, stop) // only its own frames were left
			continue
		}
		n, err := m.Conn.Writev(h.iov)
		h.roundCount.writes++
		h.took(m, n, now)
		moved = moved || n > 0
		h.moveCursor(m, h.wrote(max(n, 0), stop))
		if err != nil {
			h.writeFailed(m, err)
			break
		}
		if n < total {
			h.block(m)
			break
		}
	}
	clear(h.iov) // drop references to batches
	h.iov = h.iov[:0]
	if m.attached {
		h.checkFlag(m, now, moved)
	}
}

// block parks m until its socket has room; the Waiter wakes it. Without a
// Waiter, m is simply retried at the next round. Runs on the hub's loop.
func (h *Hub) block(m *Member) {
	w := h.f.opts.Waiter
	if w == nil {
		return
	}
	if err := w.Wait(m); err != nil {
		h.writeFailed(m, err)
		return
	}
	m.blocked = true
	m.unsent = unsentOf(m) // what probe compares with, from the start
	h.f.blockedNow.Add(1)
}

// unblock marks m as no longer waiting for room. Runs on the hub's loop.
func (h *Hub) unblock(m *Member) {
	if m.blocked {
		m.blocked = false
		h.f.blockedNow.Add(-1)
	}
}

// wake queues m to be written again on its loop. Safe for concurrent use.
func (h *Hub) wake(m *Member) {
	h.mu.Lock()
	h.ready = append(h.ready, m)
	schedule := !h.resumePending
	h.resumePending = true
	h.mu.Unlock()
	if schedule {
		h.execute(h.resumeTask)
	}
}

// resume writes to every member whose socket has room again.
// Runs on the hub's loop.
func (h *Hub) resume() {
	h.mu.Lock()
	ready := h.ready
	h.ready = h.readySpare[:0]
	h.resumePending = false
	h.mu.Unlock()
	now := h.f.now()
	h.delivering = true
	for _, m := range ready {
		if m.hub != h || !m.blocked || !m.attached {
			continue // left, cut, or a stale wake-up
		}
		h.unblock(m)
		h.writeTo(m, now)
	}
	h.delivering = false
	clear(ready)
	h.readySpare = ready[:0]
	h.afterWrites()
}

// roundCount adds up the writes of a round (or a resume) in plain fields,
// so the per-recipient path does no atomic operation; publishCount moves
// the sums into the shared counters once per round.
type roundCount struct{ writes, deliveries, bytes uint64 }

// publishCount makes the round's sums visible to Stats. Runs on the hub's
// loop, once per round.
func (h *Hub) publishCount() {
	c := &h.roundCount
	h.writes.Add(c.writes)
	h.deliveries.Add(c.deliveries)
	h.bytesOut.Add(c.bytes)
	*c = roundCount{}
}

// cut stops writing to m and has the server close it for reason.
// Runs on the hub's loop.
func (h *Hub) cut(m *Member, reason error) {
	if !m.attached {
		return
	}
	h.detach(m)
	h.evictions.Add(1)
	if h.f.opts.OnEvict != nil {
		h.f.opts.OnEvict(m, reason)
	}
}

// leave takes m out of the hub; during a round the removal waits for the
// round's end so the member list is not reshuffled under it.
// Runs on the hub's loop.
func (h *Hub) leave(m *Member) {
	if m.gone {
		return
	}
	m.gone = true
	h.detach(m)
	h.f.reg.Remove(m)
	if m.held {
		m.held = false
		h.f.heldNow.Add(-1)
	}
	if h.delivering {
		h.leaving = append(h.leaving, m)
		return
	}
	h.remove(m)
	h.countKeepingIfIdle()
}

func (h *Hub) remove(m *Member) {
	i, last := int(m.pos), len(h.members)-1
	if i < 0 {
		return
	}
	h.members[i] = h.members[last]
	h.members[i].pos = int32(i)
	h.members[last] = nil
	h.members = h.members[:last]
	m.pos = -1
}

// backlog counts the bytes still queued on this hub: the unsealed outbox,
// the inbox and what every attached member is still owed.
// Runs on the hub's loop.
func (h *Hub) backlog() int {
	n := 0
	if h.out != nil {
		n += len(h.out.buf)
	}
	n += h.queued()
	for _, m := range h.members {
		if m.attached {
			n += int(h.tail - m.cursor)
		}
	}
	return n
}
