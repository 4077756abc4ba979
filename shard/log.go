package shard

// deliveryLog is what one hub's members have yet to be written: a run of
// entries, each referring to a shared, sealed batch (nothing is copied per
// hub or per member), and a cursor per member. The log has one stream per
// encoding: a batch's TCP bytes and its WebSocket bytes lie end to end in
// their own streams, so a cursor is a stream offset in its member's
// encoding. An entry counts the cursors that lie in it (holders); cursors
// at the tail ("caught up") hold none. Entries leave the front as soon as
// no cursor lies in or before them, which drops the log's reference to the
// batch.
//
// Invariants: entries[front:] are live, numbered firstSeq..nextSeq-1; an
// attached cursor either is caught up (pos == tail[enc], entry == nextSeq)
// or lies in entry c.entry (start[enc] <= pos < end[enc]) with that entry's
// holders counting it; a cursor's own frames not yet passed lie at or after
// it, oldest first. The log knows nothing of sockets, hubs or time; the
// hub composes it with the rules for who is written and who is cut.
//
// A deliveryLog is owned by one goroutine (its hub's loop).
type deliveryLog struct {
	entries  []entry          // live entries are entries[front:]
	front    int              // index of the oldest live entry
	firstSeq uint64           // sequence number of entries[front]
	nextSeq  uint64           // sequence number the next entry gets
	tail     [encodings]int64 // stream offset past the newest entry, per encoding
	caughtUp int              // attached cursors at the tail
	attached [encodings]int   // attached cursors per encoding
}

// entry is one batch in a log.
type entry struct {
	b       *batch
	start   [encodings]int64 // stream offset of the batch's bytes in each encoding
	end     [encodings]int64 // start + their length; == start for an encoding nobody here needed
	holders int32            // attached cursors lying in [start, end) of their encoding
}

// bytes returns the entry's bytes in encoding e.
func (e *entry) bytes(enc Encoding) []byte {
	if enc == WebSocket {
		if e.end[enc] == e.start[enc] {
			return nil
		}
		return e.b.ws
	}
	return e.b.buf
}

// cursor is a member's place in its hub's log.
type cursor struct {
	pos      int64      // stream offset (in enc's stream) of the next byte owed
	entry    uint64     // seq of the entry holding pos; log.nextSeq when caught up
	own      *ownFrames // the member's own frames not yet passed; nil until it sends
	enc      Encoding   // which stream it reads
	attached bool       // holds a place in the log: joined, not cut, not left
}

// ownFrames are where a sender's own frames lie in its stream, oldest
// first; spans[head:] are not yet passed by its cursor.
type ownFrames struct {
	spans []span
	head  int
}

// live returns the frames not yet passed.
func (o *ownFrames) live() []span {
	if o == nil {
		return nil
	}
	return o.spans[o.head:]
}

// span is a half-open range [start, end) of a stream holding frames of
// the member's own, end to end.
type span struct {
	start, end int64
	frames     int // how many
}

// add records a frame [start, end) of the member's own, in the entry
// starting at entry: it extends the last span not yet passed when the
// frame follows it at once in the same entry (a sender's lines sealed
// together lie end to end), so that a fast sender costs a span per batch,
// not per line, and its cursor skips them in one step. (Spans stay within
// an entry, so that passing an entry counts its own frames.)
func (o *ownFrames) add(entry, start, end int64) {
	if n := len(o.spans); n > o.head && o.spans[n-1].end == start && o.spans[n-1].start >= entry {
		o.spans[n-1].end = end
		o.spans[n-1].frames++
		return
	}
	o.spans = append(o.spans, span{start: start, end: end, frames: 1})
}

// maxKeptEntries is the largest index an emptied log keeps (800 KiB): a
// log that fills and empties many times a second under load would
// otherwise allocate its index again each time.
const maxKeptEntries = 1 << 14

// maxGather caps the bytes laid out for one write: a socket takes a few
// MiB at most, so laying out more only costs iovec building.
const maxGather = 4 << 20

// maxIovecs is the most buffers one writev takes on Linux (UIO_MAXIOV).
const maxIovecs = 1024

// at returns the live entry with the given sequence number.
func (l *deliveryLog) at(seq uint64) *entry {
	return &l.entries[l.front+int(seq-l.firstSeq)]
}

// append adds batch b at the tail. Cursors that were caught up now hold
// it. When local (b was sealed by this log's hub), each attached sender
// learns where its own frames lie. Only the encodings some attached cursor
// reads are laid out; a WebSocket encoding is made once per batch, by the
// first log that needs it.
func (l *deliveryLog) append(b *batch, local bool) {
	e := entry{b: b, start: l.tail, end: l.tail, holders: int32(l.caughtUp)}
	l.caughtUp = 0
	e.end[TCPLines] += int64(len(b.buf))
	if l.attached[WebSocket] > 0 {
		b.encodeWebSocket()
		e.end[WebSocket] += int64(len(b.ws))
	}
	if local {
		// By index, never copying a frame: another hub may be filling in
		// its WebSocket offsets (encodeWebSocket) while this one has no
		// WebSocket member and so never waited for them.
		for i := range b.frames {
			fr := &b.frames[i]
			c := &fr.sender.cur
			if !c.attached {
				continue
			}
			if c.own == nil {
				c.own = &ownFrames{}
			}
			from, to := fr.start, fr.end
			if c.enc == WebSocket {
				from, to = fr.wsStart, fr.wsEnd
			}
			c.own.add(e.start[c.enc], e.start[c.enc]+int64(from), e.start[c.enc]+int64(to))
		}
	}
	l.entries = append(l.entries, e)
	l.tail = e.end
	l.nextSeq++
}

// attach gives c a place at the tail: it is owed what is appended from now on.
func (l *deliveryLog) attach(c *cursor) {
	c.attached = true
	c.pos, c.entry = l.tail[c.enc], l.nextSeq
	l.caughtUp++
	l.attached[c.enc]++
}

// detach takes c out of the log and drops what only it still held (see
// trim). Idempotent.
func (l *deliveryLog) detach(c *cursor) {
	if !c.attached {
		return
	}
	c.attached = false
	if c.pos == l.tail[c.enc] {
		l.caughtUp--
	} else {
		l.at(c.entry).holders--
	}
	l.attached[c.enc]--
	c.own = nil
}

// behind returns how many bytes of its stream c is owed.
func (l *deliveryLog) behind(c *cursor) int64 {
	if !c.attached {
		return 0
	}
	return l.tail[c.enc] - c.pos
}

// caughtUpAt reports whether c is at the tail.
func (l *deliveryLog) caughtUpAt(c *cursor) bool { return c.pos == l.tail[c.enc] }

// atEntryStart reports whether c is at the start of an entry or at the
// tail: between two frames. (Inside an entry it may be inside a frame.)
func (l *deliveryLog) atEntryStart(c *cursor) bool {
	return c.pos == l.tail[c.enc] || c.pos == l.at(c.entry).start[c.enc]
}

// advance moves c forward to pos, passing entries (and c's own frames in
// them) on the way. It returns the lines of every entry c passed, less its
// own, and whether c is now caught up.
func (l *deliveryLog) advance(c *cursor, pos int64) (delivered int, caughtUp bool) {
	if c.entry == l.nextSeq {
		return 0, true // was caught up already (only a control frame was written)
	}
	c.pos = pos
	for c.entry < l.nextSeq {
		e := l.at(c.entry)
		end := e.end[c.enc]
		if pos < end {
			return delivered, false
		}
		own := 0
		if o := c.own; o != nil {
			for o.head < len(o.spans) && o.spans[o.head].end <= end {
				own += o.spans[o.head].frames
				o.head++
			}
		}
		delivered += e.b.lines - own
		e.holders--
		c.entry++
		if c.entry < l.nextSeq {
			l.at(c.entry).holders++
		}
	}
	if o := c.own; o != nil && o.head == len(o.spans) {
		clear(o.spans)
		o.spans, o.head = o.spans[:0], 0
		if cap(o.spans) > 1024 {
			o.spans = nil // one long backlog should not pin its index
		}
	}
	l.caughtUp++
	return delivered, true
}

// tookRound is advance for a cursor that was caught up before the entries
// from first on were appended, and was then written all of them at once.
func (l *deliveryLog) tookRound(c *cursor, first uint64) {
	l.at(first).holders--
	l.caughtUp++
	c.pos, c.entry = l.tail[c.enc], l.nextSeq
}

// trim drops entries at the front that no cursor needs, releasing their
// batches.
func (l *deliveryLog) trim() {
	for l.front < len(l.entries) && l.entries[l.front].holders == 0 {
		e := &l.entries[l.front]
		e.b.release()
		*e = entry{}
		l.front++
		l.firstSeq++
	}
	switch {
	case l.front == len(l.entries):
		l.entries, l.front = l.entries[:0], 0
		if cap(l.entries) > maxKeptEntries {
			l.entries = nil // one long backlog should not pin its index
		}
	case l.front > 64 && l.front > len(l.entries)/2:
		n := copy(l.entries, l.entries[l.front:])
		clear(l.entries[n:])
		l.entries, l.front = l.entries[:n], 0
	}
}

// span returns how many bytes of the longest stream the log still holds:
// how far behind its slowest cursor is.
func (l *deliveryLog) span() int64 {
	if l.front == len(l.entries) {
		return 0
	}
	first := &l.entries[l.front]
	return max(l.tail[TCPLines]-first.start[TCPLines], l.tail[WebSocket]-first.start[WebSocket])
}

// empty reports whether the log holds no entry.
func (l *deliveryLog) empty() bool { return l.front == len(l.entries) }

// gather lays out in g what c is owed from its place on, its own frames
// left out, up to maxIovecs pieces and about maxGather bytes, after prefix
// (which g takes first, if any). Passing stopAtEntry ends the layout at
// the end of the entry c is in, so that the next write starts between two
// frames. It returns the log bytes laid out and the stream offset where
// gathering stopped (past any own frames it skipped).
func (l *deliveryLog) gather(c *cursor, g *gathered, prefix []byte, stopAtEntry bool) (total int, stop int64) {
	g.reset(prefix)
	pos := c.pos
	own := c.own.live()
	for seq := c.entry; seq < l.nextSeq && len(g.iov) < maxIovecs && total < maxGather; seq++ {
		e := l.at(seq)
		start, end, buf := e.start[c.enc], e.end[c.enc], e.bytes(c.enc)
		for pos < end && len(g.iov) < maxIovecs {
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
			g.iov = append(g.iov, buf[pos-start:piece-start])
			g.at = append(g.at, pos)
			total += int(piece - pos)
			pos = piece
		}
		if pos < end || stopAtEntry {
			break // out of iovecs inside this entry, or asked to stop at its end
		}
	}
	return total, pos
}

// gathered is the layout of one write: the pieces, and each log piece's
// stream offset. A prefix (a control frame written ahead of the log) is
// iov[0] with no offset.
type gathered struct {
	iov    [][]byte
	at     []int64 // stream offset of iov[prefixed+i]
	prefix int     // bytes of iov[0] that are the prefix; 0: none
}

func (g *gathered) reset(prefix []byte) {
	g.iov, g.at, g.prefix = g.iov[:0], g.at[:0], len(prefix)
	if len(prefix) > 0 {
		g.iov = append(g.iov, prefix)
	}
}

// release drops the references to batches.
func (g *gathered) release() {
	clear(g.iov)
	g.iov = g.iov[:0]
}

// wrote returns how much of the prefix the first n written bytes took,
// and the stream offset the log pieces reached; stop is where gather
// stopped.
func (g *gathered) wrote(n int, stop int64) (prefix int, pos int64) {
	prefix = min(n, g.prefix)
	n -= prefix
	pieces := g.iov
	if g.prefix > 0 {
		pieces = pieces[1:]
	}
	for i, p := range pieces {
		if n < len(p) {
			return prefix, g.at[i] + int64(n)
		}
		n -= len(p)
	}
	return prefix, stop
}
