package shard

import (
	"fmt"
	"time"
)

// Slow readers and back-pressure. A member is cut off only when it does
// not read: it made no progress for WriteDeadline while it was owed bytes,
// or it fell more than MaxLag behind the head of the log while not holding
// senders back, or, while it held senders back (below), it could not catch
// up within WriteDeadline. A member that drains its queue is never cut,
// however large a burst was.
//
// A member that is reading but has fallen more than MaxLag/2 behind is
// "flagged": while any member of any hub is flagged the fan-out is
// congested, and the server stops consuming senders' input (it stays in
// the senders' inbound buffers, once; see Member.Hold). The flag drops
// when the member is back within MaxLag/4, or when it stops making
// progress for stallGrace (a client that does not read must not stall
// everyone: the deadline or MaxLag deals with it). When the last flag
// drops, every held sender is resumed through Options.OnResume.
//
// Everything here runs on the hub's loop unless it says otherwise.

// checkFlag flags or unflags m from how far behind it is after a write;
// moved says the write took bytes (only a member that reads is flagged).
func (h *Hub) checkFlag(m *Member, now int64, moved bool) {
	lag := h.tail - m.cursor
	switch {
	case !m.flagged && lag > h.f.flagAbove && moved:
		m.flagged, m.flagAt = true, now
		h.flags++
		if h.flags == 1 {
			h.f.congest()
		}
	case m.flagged && lag < h.f.unflagBelow:
		h.unflag(m)
	}
}

// unflag drops m's flag; the last flag of the last hub lifts congestion.
func (h *Hub) unflag(m *Member) {
	if !m.flagged {
		return
	}
	m.flagged = false
	h.flags--
	if h.flags == 0 {
		h.f.decongest()
	}
}

// cutLaggards cuts every member more than MaxLag behind the head of the
// log that is not reading. Cheap when nobody is that far behind: the log
// is shorter.
func (h *Hub) cutLaggards() {
	maxLag := int64(h.f.opts.MaxLag)
	if h.logBytes() <= maxLag {
		return
	}
	for _, m := range h.members {
		// A flagged member is reading and senders are held back for it: it
		// is cut only if it cannot catch up within the write deadline.
		if m.attached && !m.flagged && h.tail-m.cursor > maxLag {
			h.cut(m, fmt.Errorf("%w: %d bytes behind, more than the %d allowed", ErrTooFarBehind, h.tail-m.cursor, maxLag))
		}
	}
}

// sweep enforces the write deadline and drops the flags of members that
// stopped reading. It runs every sweepEvery while the log holds anything.
func (h *Hub) sweep() {
	h.sweeping = false
	now := time.Now().UnixNano()
	deadline := int64(h.f.opts.WriteDeadline)
	h.delivering = true // members cut here may leave at once: keep the list still
	for _, m := range h.members {
		if !m.attached || m.cursor == h.tail {
			continue
		}
		if m.blocked && now-m.moved > int64(h.f.stallGrace/2) {
			h.probe(m, now)
		}
		switch {
		case m.progress != 0 && now-m.progress > deadline:
			h.cut(m, fmt.Errorf("%w: no progress for %s, %d bytes behind", ErrSlowConsumer,
				time.Duration(now-m.progress).Round(time.Millisecond), h.tail-m.cursor))
		case m.flagged && now-m.flagAt > deadline:
			h.cut(m, fmt.Errorf("%w: still %d bytes behind after holding senders back for %s", ErrSlowConsumer,
				h.tail-m.cursor, time.Duration(now-m.flagAt).Round(time.Millisecond)))
		case m.flagged && now-m.moved > int64(h.f.stallGrace):
			h.unflag(m)
		case !m.blocked && h.f.opts.Waiter == nil:
			h.writeTo(m, now) // no Waiter: retry here
		}
	}
	h.cutLaggards() // members unflagged above may be past MaxLag
	h.delivering = false
	h.afterWrites() // and it re-arms the sweep while the log holds anything
}

// probe looks for progress a full socket does not report: a kernel
// reports room only once a good part of its send buffer is free, and a
// client that reads slowly through a small window may take long to free
// it. Bytes the socket sent since the last probe count as progress.
func (h *Hub) probe(m *Member, now int64) {
	s, ok := m.Conn.(unsentSink)
	if !ok {
		return
	}
	q := int32(min(s.Unsent(), 1<<31-1))
	if q >= 0 && m.unsent >= 0 && q < m.unsent {
		m.progress, m.moved = now, now
	}
	m.unsent = q
}

// releaseHeld resumes every sender parked on this hub.
func (h *Hub) releaseHeld() {
	held := h.held
	h.held = nil
	for _, m := range held {
		if !m.held {
			continue // left meanwhile
		}
		m.held = false
		h.f.heldNow.Add(-1)
		if h.f.opts.OnResume != nil {
			h.f.opts.OnResume(m)
		}
	}
	clear(held)
	if h.held == nil {
		h.held = held[:0] // keep the backing array unless OnResume re-held someone
	}
}

// congest marks one more hub as holding senders back. Safe for concurrent use.
func (f *Fanout) congest() {
	if f.congested.Add(1) == 1 {
		f.congestions.Add(1)
	}
}

// decongest marks one hub fewer; when none is left, every loop resumes
// its held senders. Safe for concurrent use.
func (f *Fanout) decongest() {
	if f.congested.Add(-1) != 0 {
		return
	}
	for _, h := range f.Hubs() {
		h.execute(h.releaseTask)
	}
}

// Congested reports whether some reader is so far behind that senders'
// input should be left unread for now. Safe for concurrent use; one atomic
// load.
func (f *Fanout) Congested() bool { return f.congested.Load() > 0 }
