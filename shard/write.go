package shard

import "fmt"

// Writing to members. A member is written from its cursor, its own frames
// left out, straight to its socket; what the socket does not take stays in
// the log. A WebSocket member may also have one control frame (a pong, a
// ping, a close) waiting: it goes out ahead of the log, between two of the
// log's frames, and only whole. Everything here runs on the hub's loop.

// control is a WebSocket control frame waiting for a member's socket.
type control struct {
	buf  [maxControlFrame]byte
	n    int // bytes of buf in use
	sent int // bytes of it the socket took
}

// maxControlFrame is the largest control frame: a 2-byte header and at
// most 125 bytes of payload (RFC 6455 5.5).
const maxControlFrame = 2 + 125

// SendControl queues a WebSocket control frame (ping, pong or close, as
// built by the ws package) for m: it is written between two frames of m's
// stream, ahead of what m is owed, as soon as its socket takes it. One
// frame waits at a time: a later one replaces one not yet begun (a pong
// answers only the latest ping, RFC 6455 5.5.3); one partly written is
// finished first and the later one dropped. It reports whether the frame
// was queued. Runs on m's loop.
func (m *Member) SendControl(frame []byte) bool {
	h := m.hub
	if h == nil || !m.cur.attached || len(frame) > maxControlFrame {
		return false
	}
	if m.ctrl != nil && m.ctrl.sent > 0 {
		return false
	}
	if m.ctrl == nil {
		m.ctrl = &control{}
	}
	m.ctrl.n, m.ctrl.sent = copy(m.ctrl.buf[:], frame), 0
	if !m.blocked && !h.delivering {
		h.writeTo(m, h.f.now())
		h.afterWrites()
	}
	return true
}

// AtFrameBoundary reports whether whatever the server writes to m's socket
// itself now (an "ERR …" line, a WebSocket close) would land between two
// frames: nothing of a frame was partly written. Runs on m's loop.
func (m *Member) AtFrameBoundary() bool {
	h := m.hub
	if h == nil || !m.cur.attached {
		return true
	}
	return (m.ctrl == nil || m.ctrl.sent == 0) && h.log.atEntryStart(&m.cur)
}

// pendingControl returns what m's socket is still to take of its control
// frame, if it may go now: it has begun, or m's cursor is between two
// frames.
func (h *Hub) pendingControl(m *Member) []byte {
	c := m.ctrl
	if c == nil || (c.sent == 0 && !h.log.atEntryStart(&m.cur)) {
		return nil
	}
	return c.buf[c.sent:c.n]
}

// controlWritten accounts for n bytes of m's control frame taken.
func (m *Member) controlWritten(n int) {
	if c := m.ctrl; c != nil && n > 0 {
		if c.sent += n; c.sent == c.n {
			m.ctrl = nil
		}
	}
}

// writeRound is writeTo for the common case: m was caught up before this
// round, sent none of it and has no control frame waiting, so it is owed
// exactly the round's batches, contiguous in its stream; first is the
// sequence number of the round's first entry.
func (h *Hub) writeRound(m *Member, first uint64, now int64) {
	c := &m.cur
	n, err := m.Conn.Writev(h.roundIov[c.enc])
	h.roundCount.writes++
	if err == nil && int64(n) == h.log.tail[c.enc]-h.roundStart[c.enc] { // all of it: caught up again
		h.log.tookRound(c, first)
		m.sent += uint64(n)
		m.moved = now // a socket that took everything is read
		h.roundCount.bytes += uint64(n)
		h.roundCount.deliveries += uint64(h.roundLines)
		return
	}
	m.progress = now // fell behind just now: the deadline counts from here
	h.took(m, n, now)
	h.advance(m, h.roundStart[c.enc]+int64(max(n, 0)))
	if err != nil {
		h.writeFailed(m, err)
		return
	}
	h.block(m, now)
	h.checkFlag(m, now, n > 0)
}

// writeTo writes m what it is owed, its control frame first, up to what
// its socket takes now, and waits for room when the socket is full.
func (h *Hub) writeTo(m *Member, now int64) {
	c := &m.cur
	if m.progress == 0 && !h.log.caughtUpAt(c) {
		m.progress = now // fell behind just now: the deadline counts from here
	}
	moved := false
	for c.attached {
		prefix := h.pendingControl(m)
		if len(prefix) == 0 && h.log.caughtUpAt(c) {
			break
		}
		// A control frame waiting for a boundary: stop this write at the
		// end of the entry the cursor is in, so that it can go next.
		total, stop := h.log.gather(c, &h.g, prefix, m.ctrl != nil && len(prefix) == 0)
		if total == 0 && len(prefix) == 0 {
			h.advance(m, stop) // only its own frames were left
			continue
		}
		n, err := m.Conn.Writev(h.g.iov)
		h.roundCount.writes++
		h.took(m, n, now)
		moved = moved || n > 0
		took, pos := h.g.wrote(max(n, 0), stop)
		m.controlWritten(took)
		h.advance(m, pos)
		if err != nil {
			h.writeFailed(m, err)
			break
		}
		if n < total+len(prefix) {
			h.block(m, now)
			break
		}
	}
	h.g.release() // drop references to batches
	if !m.blocked {
		m.noteRoom()
	}
	if c.attached {
		h.checkFlag(m, now, moved)
	}
}

// advance moves m's cursor to pos, counting the lines it passed.
func (h *Hub) advance(m *Member, pos int64) {
	delivered, caughtUp := h.log.advance(&m.cur, pos)
	h.roundCount.deliveries += uint64(delivered)
	if caughtUp {
		m.progress = 0
	}
}

// took accounts for n bytes m's socket took at now: progress for the
// write deadline and the flags.
func (h *Hub) took(m *Member, n int, now int64) {
	if n <= 0 {
		return
	}
	h.roundCount.bytes += uint64(n)
	m.sent += uint64(n)
	m.progress, m.moved, m.unsent = now, now, -1
}

// writeFailed cuts m, whose socket refused a write.
func (h *Hub) writeFailed(m *Member, err error) {
	h.cut(m, fmt.Errorf("%w: %w", ErrWriteFailed, err))
}

// block parks m, whose socket a write found full at now, until it has
// room; the Waiter wakes it. Without a Waiter, m is simply retried at the
// next round (and its drain rate is not measured: it is never to blame).
func (h *Hub) block(m *Member, now int64) {
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
	h.noteFull(m, now)
	h.f.blockedNow.Add(1)
}

// unblock marks m as no longer waiting for room.
func (h *Hub) unblock(m *Member) {
	if m.blocked {
		m.blocked = false
		h.f.blockedNow.Add(-1)
	}
}
