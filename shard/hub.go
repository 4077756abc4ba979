package shard

import (
	"context"
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
	timer       *time.Timer   // fires a held-back round (Coalesce > 0)

	members      []*Member     // loop-owned: everyone living on this loop
	out          *batch        // loop-owned: frames read this cycle, not yet sealed
	flushPending bool          // loop-owned: flushTask is queued
	delivering   bool          // loop-owned: a round is writing to members
	leaving      []*Member     // loop-owned: left during a round, removed after it
	round        []*batch      // loop-owned: the batches of the current round
	roundBuf     []byte        // loop-owned: the round's batches laid end to end
	roundSeq     uint64        // loop-owned: numbers rounds for Member.mark
	lastRound    time.Time     // loop-owned: when the previous round started
	lastCost     time.Duration // loop-owned: how long the previous round took to write
	roundLines   int           // loop-owned: lines in the current round
	roundCount   roundCount    // loop-owned: what the current round wrote
	iov          [][]byte      // loop-owned: scratch for a sender's writev

	mu             sync.Mutex
	inbox          []*batch // guarded by mu: sealed batches awaiting a round
	inboxBytes     int      // guarded by mu: bytes in inbox
	deliverPending bool     // guarded by mu: deliverTask is queued or held

	// Counters, written by the hub's loop, read by anyone.
	frames, batches, rounds, writes, deliveries, bytesOut, evictions atomic.Uint64
}

func newHub(f *Fanout, exec Executor) *Hub {
	h := &Hub{f: f, exec: exec}
	h.flushTask = gnet.RunnableFunc(func(context.Context) error { h.flush(); return nil })
	h.deliverTask = gnet.RunnableFunc(func(context.Context) error { h.deliver(); return nil })
	if f.opts.Coalesce > 0 {
		h.timer = time.AfterFunc(time.Hour, func() { h.execute(h.deliverTask) })
		h.timer.Stop()
	}
	return h
}

// Join adds m to this hub and to the registry; from now on m receives every
// line published by any other member. Runs on the hub's loop.
func (h *Hub) Join(m *Member) {
	m.hub = h
	m.pos = len(h.members)
	h.members = append(h.members, m)
	h.f.reg.Add(m)
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
		h.out = getBatch(h)
		if h.f.opts.OnSeal != nil {
			h.out.first = time.Now()
		}
	}
	b := h.out
	start := len(b.buf)
	b.buf = appendFrame(b.buf, m.prefix, line)
	b.frames = append(b.frames, frame{sender: m, span: span{start, len(b.buf)}})
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
		h.f.opts.OnSeal(b.lines, time.Since(b.first))
	}
	if h.f.opts.OnBatch != nil {
		h.f.opts.OnBatch(b.buf, b.lines)
	}
	handOut(b, h.f.Hubs())
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

// deliver runs one round: every batch in the inbox goes to every member
// with one write each, the member's own frames left out.
// Runs on the hub's loop.
func (h *Hub) deliver() {
	now := time.Now()
	if limit := h.f.opts.Coalesce; limit > 0 {
		// The window widens with what the last round cost to write: rounds
		// start at least CoalesceDuty times that apart, so writing takes at
		// most 1/CoalesceDuty of the loop and each write carries more lines.
		// Cheap rounds (few members, light load) get no window to speak of,
		// and a line after a quiet spell never waits.
		window := min(time.Duration(float64(h.lastCost)*h.f.opts.CoalesceDuty), limit)
		if wait := window - now.Sub(h.lastRound); wait > 0 {
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

	data := h.layout()
	h.delivering = true
	for _, m := range h.members {
		h.writeTo(m, data)
	}
	h.delivering = false
	h.lastCost = time.Since(now)
	h.publishCount()

	for i, m := range h.leaving {
		h.remove(m)
		h.leaving[i] = nil
	}
	h.leaving = h.leaving[:0]
	for i, b := range h.round {
		b.release()
		h.round[i] = nil
	}
	h.round = h.round[:0]
	if cap(h.roundBuf) > 4*maxKeptBatch {
		h.roundBuf = nil
	}
}

// layout returns the round's bytes (one batch as is, several laid end to
// end) and records, on each local sender, where its own frames lie.
// Runs on the hub's loop.
func (h *Hub) layout() []byte {
	h.roundSeq++
	h.roundLines = 0
	for _, b := range h.round {
		h.roundLines += b.lines
	}
	data := h.round[0].buf
	if len(h.round) > 1 {
		data = h.roundBuf[:0]
		for _, b := range h.round {
			data = append(data, b.buf...)
		}
		h.roundBuf = data
	}
	off := 0
	for _, b := range h.round {
		if b.origin == h { // only this loop's members can be senders here
			for _, fr := range b.frames {
				m := fr.sender
				if m.gone {
					continue
				}
				if m.mark != h.roundSeq {
					m.mark = h.roundSeq
					m.skips = m.skips[:0]
				}
				m.skips = append(m.skips, span{off + fr.start, off + fr.end})
			}
		}
		off += len(b.buf)
	}
	return data
}

// writeTo hands data, less m's own frames, to m's connection in one write.
// Runs on the hub's loop.
func (h *Hub) writeTo(m *Member, data []byte) {
	if m.evicted || m.gone {
		return
	}
	// Write errors need no handling here: gnet closes the connection itself
	// and OnClose makes the member leave.
	if m.mark != h.roundSeq {
		if h.overCap(m, len(data)) {
			return
		}
		h.roundCount.add(len(data), h.roundLines)
		_, _ = m.Conn.Write(data)
		return
	}

	iov, n, prev := h.iov[:0], 0, 0
	for _, s := range m.skips {
		if s.start > prev {
			iov = append(iov, data[prev:s.start])
			n += s.start - prev
		}
		prev = s.end
	}
	if prev < len(data) {
		iov = append(iov, data[prev:])
		n += len(data) - prev
	}
	h.iov = iov[:0]
	if n == 0 || h.overCap(m, n) {
		return
	}
	h.roundCount.add(n, h.roundLines-len(m.skips))
	if len(iov) == 1 {
		_, _ = m.Conn.Write(iov[0])
		return
	}
	for len(iov) > 0 && !m.gone {
		chunk := iov[:min(len(iov), maxIovecs)]
		_, _ = m.Conn.Writev(chunk)
		iov = iov[len(chunk):]
		if len(iov) > 0 {
			h.roundCount.writes++ // a sender with over UIO_MAXIOV pieces
		}
	}
}

// roundCount adds up one round's writes in plain fields, so the
// per-recipient path does no atomic operation; publishCount moves the sums
// into the shared counters once per round.
type roundCount struct{ writes, deliveries, bytes uint64 }

func (c *roundCount) add(n, lines int) {
	c.writes++
	c.deliveries += uint64(lines)
	c.bytes += uint64(n)
}

// publishCount makes the round's sums visible to Stats. Runs on the hub's
// loop, once per round.
func (h *Hub) publishCount() {
	c := &h.roundCount
	h.writes.Add(c.writes)
	h.deliveries.Add(c.deliveries)
	h.bytesOut.Add(c.bytes)
	*c = roundCount{}
}

// overCap evicts m when n more bytes would take its queue past MaxPending.
// Runs on the hub's loop.
func (h *Hub) overCap(m *Member, n int) bool {
	max := h.f.opts.MaxPending
	if max <= 0 || m.Conn.OutboundBuffered()+n <= max {
		return false
	}
	m.evicted = true
	h.evictions.Add(1)
	if h.f.opts.OnEvict != nil {
		h.f.opts.OnEvict(m, ErrSlowConsumer)
	}
	return true
}

// leave takes m out of the hub; during a round the removal waits for the
// round's end so the member list is not reshuffled under it.
// Runs on the hub's loop.
func (h *Hub) leave(m *Member) {
	if m.gone {
		return
	}
	m.gone = true
	h.f.reg.Remove(m)
	if h.delivering {
		h.leaving = append(h.leaving, m)
		return
	}
	h.remove(m)
}

func (h *Hub) remove(m *Member) {
	i, last := m.pos, len(h.members)-1
	if i < 0 {
		return
	}
	h.members[i] = h.members[last]
	h.members[i].pos = i
	h.members[last] = nil
	h.members = h.members[:last]
	m.pos = -1
}

// backlog counts the bytes still queued on this hub. Runs on the hub's loop.
func (h *Hub) backlog() int {
	n := 0
	if h.out != nil {
		n += len(h.out.buf)
	}
	n += h.queued()
	for _, m := range h.members {
		if !m.evicted && !m.gone {
			n += m.Conn.OutboundBuffered()
		}
	}
	return n
}
