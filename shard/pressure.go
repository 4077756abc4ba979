package shard

import (
	"fmt"
	"time"
)

// Slow readers and back-pressure: who holds senders back, and who is cut.
//
// A member is behind when it is owed bytes of its hub's log. It makes
// progress when its socket takes bytes: a write takes some, or the bytes
// its full socket holds unsent go down (a probe, see probe). The rules:
//
//   - Not reading. A member owed bytes that makes no progress for
//     WriteDeadline is cut (ErrSlowConsumer).
//   - Flagged. A member that is reading (progress within stallGrace) and
//     falls more than MaxLag/2 behind is flagged: while any member is
//     flagged the fan-out is congested, and the server stops reading
//     senders' sockets (Member.Hold; their bytes wait in the kernel and
//     TCP slows them). The flag drops when the member is back within
//     MaxLag/4, or when it stops making progress for stallGrace while
//     within MaxLag (a client that stops reading must not hold everyone).
//   - Past MaxLag. A member more than MaxLag behind is cut
//     (ErrTooFarBehind) unless it made progress within cutGrace: then it
//     is flagged instead, so the log stops growing while it reads
//     (cutGrace: WriteDeadline/4, at most 2.5 s). With
//     Options.HoldSenders off (the server cannot pause reading;
//     see StopHoldingSenders too) it is cut at once: memory must stay bounded.
//   - The outlier. A flagged member whose socket is full is to blame for
//     the senders' wait when it reads slower than the rest: at least four
//     times as many members read four times as fast as it (drain rates:
//     what a full socket passes on per second, drain.go; a member with no
//     rate measured counts as fast) as members that do not, itself apart.
//     It accrues blame for as long as that holds, and sheds a tenth of
//     that rate otherwise. Past WriteDeadline of blame it is cut
//     (ErrSlowConsumer), and the senders go back to full speed. When
//     readers are slow alike, it is overload, not one reader: nobody
//     accrues blame and senders simply slow down, however different the
//     readers' lags (their kernel buffers differ). A member
//     behind only because the server has not written it yet (its socket
//     is not full) is never to blame. With Options.SlowReader PaceAll
//     nobody is cut for blame.
//
// Everything here runs on the hub's loop unless it says otherwise.

// blameShed is how much slower blame drains than it accrues: a member
// that holds senders back for more than about one part in blameShed+1 of
// the time, while the others keep up, is eventually cut.
const blameShed = 10

// checkFlag flags or unflags m from how far behind it is after a write;
// moved says the write took bytes (only a member that reads is flagged).
func (h *Hub) checkFlag(m *Member, now int64, moved bool) {
	lag := h.log.behind(&m.cur)
	switch {
	case !m.flagged && lag > h.f.flagAbove && moved:
		h.flag(m, now)
	case m.flagged && lag < h.f.unflagBelow:
		h.unflag(m, now)
	}
}

// flag marks m as holding senders back; the first flag congests the
// fan-out. Without HoldSenders nobody is flagged: readers cannot hold
// senders that the server cannot stop reading.
func (h *Hub) flag(m *Member, now int64) {
	if m.flagged || !h.f.holding() {
		return
	}
	m.shedBlame(now)
	m.flagged = true
	h.flags++
	h.f.flaggedNow.Add(1)
	if h.flags == 1 {
		h.f.congest()
	}
}

// unflag drops m's flag; the last flag of the last hub lifts congestion.
func (h *Hub) unflag(m *Member, now int64) {
	if !m.flagged {
		return
	}
	h.accrueBlame(m, now)
	m.flagged = false
	h.flags--
	h.f.flaggedNow.Add(-1)
	if h.flags == 0 {
		h.f.decongest()
	}
}

// shedBlame drains m's blame for the time since it was last accounted,
// during which it was not to blame.
func (m *Member) shedBlame(now int64) {
	if m.blame > 0 && now > m.blameAt {
		m.blame = max(m.blame-(now-m.blameAt)/blameShed, 0)
	}
	m.blameAt = now
}

// accrueBlame accounts the time since m's blame was last accounted: to
// m's blame if it is the outlier holding senders back (its socket is full
// and it reads slower than the rest, see rateView.outlier), shed
// otherwise. m is flagged. The rates are the ones summed at this hub's
// last sweep.
func (h *Hub) accrueBlame(m *Member, now int64) {
	if !m.blocked || !h.hasRate(m, now) || !h.view.outlier(m.drain, m.pubBucket) {
		m.shedBlame(now)
		return
	}
	if now > m.blameAt {
		m.blame += now - m.blameAt
	}
	m.blameAt = now
}

// outlierShare: a reader is slower than the rest when at least this many
// times as many members read this many times as fast as it does.
const outlierShare = 4

// cutLaggards deals with every member more than MaxLag behind: one that
// read within cutGrace holds senders back (flagged) so that the log stops
// growing while it catches up; any other is cut. Cheap when nobody is that
// far behind: the log is shorter.
func (h *Hub) cutLaggards(now int64) {
	maxLag := int64(h.f.opts.MaxLag)
	if h.log.span() <= maxLag {
		return
	}
	for _, m := range h.members {
		lag := h.log.behind(&m.cur) // 0 for a member no longer attached
		if lag <= maxLag {
			continue
		}
		if h.f.holding() && now-m.moved < int64(h.f.cutGrace) {
			h.flag(m, now)
			continue
		}
		idle := "has taken nothing"
		if m.moved > 0 {
			idle = "took nothing for " + time.Duration(now-m.moved).Round(time.Millisecond).String()
		}
		h.cut(m, fmt.Errorf("%w: %d bytes behind, more than the %d allowed, and its socket %s",
			ErrTooFarBehind, lag, maxLag, idle))
	}
}

// sweep enforces the write deadline and the outlier rule, drops the flags
// of members that stopped reading, and counts who keeps up. It runs every
// sweepEvery while the log holds anything.
func (h *Hub) sweep() {
	h.sweeping = false
	now := h.f.now()
	deadline := int64(h.f.opts.WriteDeadline)
	h.view.gather(h.f)
	h.delivering = true // members cut here may leave at once: keep the list still
	for _, m := range h.members {
		if !m.cur.attached || h.log.caughtUpAt(&m.cur) {
			continue
		}
		if m.blocked && now-m.moved >= int64(h.f.sweepEvery) {
			h.probe(m, now) // no write took bytes since the last sweep: look at the socket
		}
		if m.flagged {
			h.accrueBlame(m, now)
		}
		switch {
		case m.progress != 0 && now-m.progress > deadline:
			h.cut(m, fmt.Errorf("%w: no progress for %s, %d bytes behind", ErrSlowConsumer,
				time.Duration(now-m.progress).Round(time.Millisecond), h.log.behind(&m.cur)))
		case m.flagged && m.blame > deadline && h.f.opts.SlowReader == CutOutliers:
			h.cut(m, fmt.Errorf("%w: reads slower than the others (about %.0f bytes/s): held senders back for %s while at least %d times as many read %dx as fast or kept up, %d bytes behind",
				ErrSlowConsumer, rateOf(m.drain), time.Duration(m.blame).Round(time.Millisecond), outlierShare, outlierShare, h.log.behind(&m.cur)))
		case m.flagged && now-m.moved > int64(h.f.stallGrace) && h.log.behind(&m.cur) <= int64(h.f.opts.MaxLag):
			h.unflag(m, now)
		case !m.blocked && h.f.opts.Waiter == nil:
			h.writeTo(m, now) // no Waiter: retry here
		}
	}
	h.cutLaggards(now) // members unflagged above may be past MaxLag
	h.delivering = false
	h.publishRates(now)
	h.afterWrites() // and it re-arms the sweep while the log holds anything
}

// probe looks for progress a full socket does not report: a kernel
// reports room only once a good part of its send buffer is free, and a
// client that reads slowly through a small window may take long to free
// it (its acknowledgements free the buffer in steps of its window, tens
// of milliseconds apart). Bytes the socket sent since the last look count
// as progress. The first look is taken when the member blocks (see
// Hub.block), and the sweep looks again every sweepEvery, so a reader
// that reads is seen to within a sweep or two of its window's steps.
func (h *Hub) probe(m *Member, now int64) {
	q := unsentOf(m)
	if q >= 0 && m.unsent >= 0 && q < m.unsent {
		m.progress, m.moved = now, now
	}
	m.unsent = q
	switch {
	case q > 0:
		h.noteFull(m, now) // still waiting for room: a measure of its drain rate
	case q == 0:
		m.noteRoom() // it emptied while the wake-up waited: the window says nothing more
	}
}

// unsentOf returns what m's socket holds unsent, or -1 when it cannot say.
func unsentOf(m *Member) int32 {
	s, ok := m.Conn.(unsentSink)
	if !ok {
		return -1
	}
	return int32(min(s.Unsent(), 1<<31-1))
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
// sockets should not be read for now. Safe for concurrent use; one atomic
// load.
func (f *Fanout) Congested() bool { return f.congested.Load() > 0 }
