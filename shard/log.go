package shard

// The delivery log of one hub. Every batch a hub is handed becomes an entry
// at the tail of its log; the entry refers to the shared batch, so nothing
// is copied per hub or per member. Each attached member has a cursor, a
// stream offset: the bytes before it were written to its socket (or were
// its own frames, skipped). An entry counts the members whose cursor lies
// in it (holders); members at the tail ("caught up") hold no entry. Entries
// leave the front of the log as soon as no cursor lies in or before them,
// which drops the hub's reference to the batch.
//
// Everything here runs on the hub's loop.

// entry is one batch in a hub's log.
type entry struct {
	b       *batch
	start   int64 // stream offset of b.buf[0]
	holders int32 // attached members whose cursor lies in [start, start+len(b.buf))
}

func (e *entry) end() int64 { return e.start + int64(len(e.b.buf)) }

// maxGather caps the bytes laid out for one write: a socket takes a few
// MiB at most, so laying out more only costs iovec building.
const maxGather = 4 << 20

// entryAt returns the live entry with the given sequence number.
func (h *Hub) entryAt(seq uint64) *entry {
	return &h.log[h.front+int(seq-h.firstSeq)]
}

// appendLog adds the batches of one round at the tail of the log. Members
// that were caught up now hold the first new entry; each local sender
// learns where its own frames lie.
func (h *Hub) appendLog(round []*batch) {
	for i, b := range round {
		e := entry{b: b, start: h.tail}
		if i == 0 {
			e.holders = int32(h.caughtUp)
			h.caughtUp = 0
		}
		if b.origin == h { // only this loop's members can be senders here
			for _, fr := range b.frames {
				if m := fr.sender; m.attached {
					if m.own == nil {
						m.own = &ownFrames{}
					}
					m.own.spans = append(m.own.spans, span{e.start + int64(fr.start), e.start + int64(fr.end)})
				}
			}
		}
		h.log = append(h.log, e)
		h.tail += int64(len(b.buf))
		h.nextSeq++
	}
}

// attach gives m a cursor at the tail: it receives what is sealed from now on.
func (h *Hub) attach(m *Member) {
	m.attached = true
	m.cursor, m.entry, m.progress = h.tail, h.nextSeq, 0
	h.caughtUp++
}

// detach takes m's cursor out of the log (m was cut or left) and drops
// what only it still held. Idempotent.
func (h *Hub) detach(m *Member) {
	if !m.attached {
		return
	}
	m.attached = false
	if m.cursor == h.tail {
		h.caughtUp--
	} else {
		h.entryAt(m.entry).holders--
	}
	m.own = nil
	h.unflag(m, h.f.now())
	h.unblock(m)
	if w := h.f.opts.Waiter; w != nil {
		w.Forget(m)
	}
	h.trim()
}

// moveCursor moves m's cursor forward to pos, passing entries (and the
// member's own frames in them) on the way; deliveries counts the lines of
// every entry m passed, less its own.
func (h *Hub) moveCursor(m *Member, pos int64) {
	m.cursor = pos
	for m.entry < h.nextSeq {
		e := h.entryAt(m.entry)
		end := e.end()
		if pos < end {
			return
		}
		own := 0
		if o := m.own; o != nil {
			for o.head < len(o.spans) && o.spans[o.head].end <= end {
				o.head++
				own++
			}
		}
		h.roundCount.deliveries += uint64(e.b.lines - own)
		e.holders--
		m.entry++
		if m.entry < h.nextSeq {
			h.entryAt(m.entry).holders++
		}
	}
	// Caught up.
	if o := m.own; o != nil && o.head == len(o.spans) {
		clear(o.spans)
		o.spans, o.head = o.spans[:0], 0
		if cap(o.spans) > 1024 {
			o.spans = nil // one long backlog should not pin its index
		}
	}
	h.caughtUp++
	m.progress = 0
}

// trim drops entries at the front of the log that no cursor needs, and
// publishes the log's size for Stats.
func (h *Hub) trim() {
	for h.front < len(h.log) && h.log[h.front].holders == 0 {
		e := &h.log[h.front]
		e.b.release()
		*e = entry{}
		h.front++
		h.firstSeq++
	}
	switch {
	case h.front == len(h.log):
		h.log, h.front = h.log[:0], 0
		if cap(h.log) > 1024 {
			h.log = nil // one long backlog should not pin its index
		}
	case h.front > 64 && h.front > len(h.log)/2:
		n := copy(h.log, h.log[h.front:])
		clear(h.log[n:])
		h.log, h.front = h.log[:n], 0
	}
	h.logSize.Store(h.logBytes())
}

// logBytes is the stream the log still holds: how far behind its slowest
// attached member is.
func (h *Hub) logBytes() int64 {
	if h.front == len(h.log) {
		return 0
	}
	return h.tail - h.log[h.front].start
}

// gather lays out, in h.iov, what m is owed from its cursor on, its own
// frames left out, up to maxIovecs pieces and about maxGather bytes; h.at
// gets each piece's stream offset. It returns the bytes laid out and the
// stream offset where gathering stopped (past any own frames it skipped).
func (h *Hub) gather(m *Member) (total int, stop int64) {
	iov, at := h.iov[:0], h.at[:0]
	pos := m.cursor
	own := m.own.live()
	for seq := m.entry; seq < h.nextSeq && len(iov) < maxIovecs && total < maxGather; seq++ {
		e := h.entryAt(seq)
		end := e.end()
		for pos < end && len(iov) < maxIovecs {
			for len(own) > 0 && own[0].end <= pos {
				own = own[1:]
			}
			piece := end
			if len(own) > 0 && own[0].start < end {
				if own[0].start <= pos {
					pos = own[0].end // the member's own frame: skipped
					own = own[1:]
					continue
				}
				piece = own[0].start
			}
			iov = append(iov, e.b.buf[pos-e.start:piece-e.start])
			at = append(at, pos)
			total += int(piece - pos)
			pos = piece
		}
		if pos < end {
			break // out of iovecs inside this entry
		}
	}
	h.iov, h.at = iov, at
	return total, pos
}

// wrote returns the stream offset reached when n bytes of the gathered
// pieces were written.
func (h *Hub) wrote(n int, stop int64) int64 {
	for i, p := range h.iov {
		if n < len(p) {
			return h.at[i] + int64(n)
		}
		n -= len(p)
	}
	return stop
}
