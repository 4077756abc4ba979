package shard

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/panjf2000/gnet/v2"
)

// Hub is the fan-out state of one event loop: it composes the loop's
// delivery log (log.go), the writes to its members (write.go) and the
// back-pressure rules (pressure.go). Fields marked loop-owned are touched
// only by tasks running on that loop.
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

	members      []*Member           // loop-owned: everyone living on this loop
	log          deliveryLog         // loop-owned: what the members have yet to be written, and their cursors
	out          *batch              // loop-owned: frames read this cycle, not yet sealed
	flushPending bool                // loop-owned: flushTask is queued
	delivering   bool                // loop-owned: the member list is being walked (round, resume, sweep); leaves wait in leaving
	leaving      []*Member           // loop-owned: left during a round, removed after it
	round        []*batch            // loop-owned: the batches of the current round
	lastRound    time.Time           // loop-owned: when the previous round started
	costAvg      time.Duration       // loop-owned: what recent rounds took to write, averaged (see decayCost)
	roundCount   roundCount          // loop-owned: what the current round wrote
	g            gathered            // loop-owned: scratch for one member's writev
	roundIov     [encodings][][]byte // loop-owned: the current round's batches per encoding, for members that were caught up
	roundStart   [encodings]int64    // loop-owned: the stream offsets where the current round begins
	roundLines   int                 // loop-owned: lines in the current round
	held         []*Member           // loop-owned: senders parked by back-pressure
	readySpare   []*Member           // loop-owned: the other buffer of ready, swapped each resume
	flags        int                 // loop-owned: members flagged as holding senders back
	sweeping     bool                // loop-owned: sweepTimer is armed
	recountRates bool                // loop-owned: rates may be out of date (members changed, or a counted rate will expire): sweep once more
	view         rateView            // loop-owned: every hub's rates, summed at this hub's last sweep

	mu             sync.Mutex
	inbox          []*batch  // guarded by mu: sealed batches awaiting a round
	inboxBytes     int       // guarded by mu: bytes in inbox
	deliverPending bool      // guarded by mu: deliverTask is queued or held
	inboxFull      bool      // guarded by mu: inboxBytes passed the inbox limit; counts as congestion
	ready          []*Member // guarded by mu: members whose sockets have room again
	resumePending  bool      // guarded by mu: resumeTask is queued

	logSize atomic.Int64 // log.span() as of the hub's last change, for Stats
	rates   rateCounts   // members per drain-rate bucket, as of the last count (drain.go)
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
	m.cur.enc = m.enc
	h.log.attach(&m.cur)
	m.progress = 0
	h.f.reg.Add(m)
	h.recountRates = true
	h.armSweep()
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
	if !h.inboxFull && h.inboxBytes > h.f.inboxLimit && h.f.holding() {
		// This loop takes batches slower than they come (busy, starved of
		// CPU, or holding its round for the coalescing window): hold
		// senders back until it takes them, so that what waits for it
		// stays bounded, and have the round go now (a full inbox is batch
		// enough). Under mu, so that the congestion it marks is lifted
		// after it, not before.
		h.inboxFull = true
		h.f.congest()
		schedule = true
	}
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
	full := h.inboxFull // senders are held for this inbox: no window, go now
	h.mu.Unlock()
	if idle {
		return
	}
	if h.timer != nil && !full {
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
	if h.inboxFull {
		h.inboxFull = false
		h.f.decongest()
	}
	h.mu.Unlock()
	if len(h.round) == 0 {
		return
	}
	h.rounds.Add(1)
	h.roundStart, h.roundLines = h.log.tail, 0
	first := h.log.nextSeq
	for _, b := range h.round {
		h.log.append(b, b.origin == h) // only this loop's members can be senders here
		h.roundLines += b.lines
	}
	for enc := range encodings {
		h.roundIov[enc] = h.roundIov[enc][:0]
		if h.log.attached[enc] == 0 {
			continue
		}
		for seq := first; seq < h.log.nextSeq; seq++ {
			h.roundIov[enc] = append(h.roundIov[enc], h.log.at(seq).bytes(enc))
		}
	}
	clear(h.round)
	h.round = h.round[:0]

	nanos := now.UnixNano()
	h.delivering = true
	for _, m := range h.members {
		c := &m.cur
		switch {
		case !c.attached:
		case c.pos == h.roundStart[c.enc] && len(c.own.live()) == 0 && m.ctrl == nil:
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
	for enc := range encodings {
		clear(h.roundIov[enc])
	}
	h.afterWrites()
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
	h.armSweep()
}

// armSweep arms the sweep while the log holds anything, or once more when
// the rates published for the outlier rule may be out of date.
func (h *Hub) armSweep() {
	if (!h.log.empty() || h.recountRates) && !h.sweeping {
		h.sweeping = true
		h.sweepTimer.Reset(h.f.sweepEvery)
	}
}

// trim drops what no member needs from the log and publishes its size.
func (h *Hub) trim() {
	h.log.trim()
	h.logSize.Store(h.log.span())
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
		if m.hub != h || !m.blocked || !m.cur.attached {
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
	if !m.cur.attached {
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
	h.recountRates = true
	if m.held {
		m.held = false
		h.f.heldNow.Add(-1)
	}
	if h.delivering {
		h.leaving = append(h.leaving, m)
		return
	}
	h.remove(m)
	h.armSweep()
}

// detach takes m's cursor out of the log (m was cut or left), with what
// it held: its flag, its wait for room, its control frame. Idempotent.
func (h *Hub) detach(m *Member) {
	if !m.cur.attached {
		return
	}
	h.log.detach(&m.cur)
	m.ctrl = nil
	h.unflag(m, h.f.now())
	h.unblock(m)
	if w := h.f.opts.Waiter; w != nil {
		w.Forget(m)
	}
	h.trim()
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
		n += int(h.log.behind(&m.cur))
	}
	return n
}
