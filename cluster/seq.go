package cluster

// Every message carries its origin's sequence (seqHeader): which run of
// the origin published it (its start time, so a restart starts a new
// count), the message's number in that run from 0, and how many lines the
// run published before it. A receiver uses it to drop a message it has
// already delivered (NATS may hand one over twice across a reconnect or a
// re-route) and to count the lines of those it never got.
//
// The sequence comes from whoever can publish on the subject, so it is
// hostile input like the rest: a forged message must not make the receiver
// drop the real origin's lines, nor claim any number of missed lines.
// Hence:
//   - A message is a duplicate only if the receiver delivered one with the
//     same run, number and payload hash, among the origin's last `window`
//     numbers. A forged message with a real message's number therefore
//     never hides the real one (their payloads differ), and a message that
//     arrives behind a later one of its origin is delivered if it was not
//     before: a forged jump a few numbers ahead hides nothing. With a
//     cluster key there are no forgeries, and order comes first: a message
//     behind one already delivered is dropped as before (core NATS keeps
//     one publisher's messages in order; this is for a failover's edge).
//   - A message far below what the receiver expects (more than `window`
//     behind) restarts the count there (a "rewind") rather than being
//     dropped, so a forged jump to 2^64 lasts until the origin's next real
//     message. With a cluster key, messages are authentic and such a
//     message is a replay: it is dropped instead.
//   - A jump forward counts its lines as missed only when it is consistent:
//     at most maxSkip messages skipped, each of at least one and at most
//     maxFrames lines; otherwise the count restarts at the message and
//     nothing is counted. One message can add at most maxSkip × maxFrames.
//   - A new run restarts the count without counting anything missed. With a
//     cluster key, a run older than the one seen last is a replay of an
//     old run and is dropped.
//
// The table has one fixed slot per node number (0..1023) and nothing else:
// at most 1024 entries, whatever arrives.

// window is how many of an origin's latest message numbers are remembered
// for spotting a duplicate: NATS hands a message over twice only right
// after the first time.
const window = 64

// maxSkip is the largest gap, in messages, counted as missed lines: about
// three minutes of an origin publishing 100 000 messages/s into an outage.
const maxSkip = 1 << 24

// outSeq numbers what one node publishes. Owned by the publisher goroutine.
type outSeq struct {
	run   uint64 // this run of the node: its start time, Unix ns
	next  uint64 // number of the next message
	lines uint64 // lines in the messages numbered so far
}

// stamp returns the header value for a message of lines lines and counts it.
// A message that then fails to publish keeps its number: receivers count
// its lines as missed, which they are.
func (o *outSeq) stamp(lines int) string {
	v := formatSeq(o.run, o.next, o.lines)
	o.next++
	o.lines += uint64(lines)
	return v
}

// verdict is what a receiver does with a message.
type verdict int

const (
	deliver   verdict = iota // in order, late, the first of a run, or a restart of the count
	duplicate                // delivered before: drop it
	stale                    // with a key: from an older run, or far behind (a replay): drop it
)

// originState is what a receiver knows of one origin's run.
type originState struct {
	run   uint64
	next  uint64         // one past the highest message number delivered
	lines uint64         // lines before next, as the highest message delivered says
	seen  uint64         // bit i: message next-1-i was delivered
	sums  [window]uint64 // payload hash of message n at n%window, where seen says
}

func (s *originState) restart(seq seqFields, lines int, sum uint64) {
	*s = originState{run: seq.run, next: seq.num + 1, lines: seq.before + uint64(lines), seen: 1}
	s.sums[seq.num%window] = sum
}

// originTable holds every origin's state. Owned by the subscription
// goroutine.
type originTable struct {
	slots     [MaxNode + 1]*originState
	used      int    // slots taken
	trusted   bool   // with a cluster key: every message observed is authentic
	maxFrames uint64 // the most lines one message can hold
}

// observe checks a message from origin node with sequence seq, lines
// lines and payload hash sum; it returns what to do and how many lines
// were missed just before it.
func (t *originTable) observe(node int, seq seqFields, lines int, sum uint64) (verdict, uint64) {
	s := t.slots[node]
	if s == nil {
		s = &originState{}
		t.slots[node] = s
		t.used++
		s.restart(seq, lines, sum)
		return deliver, 0 // we cannot know what it sent before we listened
	}
	if seq.run != s.run {
		if t.trusted && seq.run < s.run {
			return stale, 0
		}
		s.restart(seq, lines, sum)
		return deliver, 0
	}
	if seq.num >= s.next {
		var missed uint64
		k := seq.num - s.next // messages skipped
		switch {
		case k == 0 && seq.before == s.lines:
		case k > 0 && k <= maxSkip && seq.before >= s.lines && seq.before-s.lines >= k && (seq.before-s.lines)/k <= t.maxFrames:
			missed = seq.before - s.lines
		default: // inconsistent with what we know: believe neither, count nothing
			s.restart(seq, lines, sum)
			return deliver, 0
		}
		if k+1 >= window {
			s.seen = 0
		} else {
			s.seen <<= k + 1
		}
		s.seen |= 1
		s.sums[seq.num%window] = sum
		s.next, s.lines = seq.num+1, seq.before+uint64(lines)
		return deliver, missed
	}
	if back := s.next - 1 - seq.num; back < window {
		bit := uint64(1) << back
		if t.trusted || (s.seen&bit != 0 && s.sums[seq.num%window] == sum) {
			return duplicate, 0 // with a key, behind a later message is too late: order first
		}
		// Late, or a different message under a number already seen: one
		// of the two is forged, and it is not ours to tell which.
		s.seen |= bit
		s.sums[seq.num%window] = sum
		return deliver, 0
	}
	if t.trusted {
		return stale, 0
	}
	s.restart(seq, lines, sum)
	return deliver, 0
}
