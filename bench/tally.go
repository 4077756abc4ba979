package bench

// Tally is one receiving connection's account of what it got from each
// sender. Owned by the connection's reader goroutine.
type Tally struct {
	next       []uint64 // per sender: the sequence number expected next
	Received   uint64   // payload lines received, duplicates included
	Duplicates uint64   // lines at or below one already seen (resent or reordered)
	Gaps       uint64   // sequence numbers skipped over (lost, unless they turn up late)
	Foreign    uint64   // lines that were not harness payloads or named no known sender
}

// NewTally returns a tally for senders senders.
func NewTally(senders int) *Tally { return &Tally{next: make([]uint64, senders)} }

// Observe accounts for one payload from sender with sequence number seq.
// TCP and the protocol promise per-sender order, so a lower number than
// expected is a duplicate (or a reorder) and a higher one leaves a gap.
func (t *Tally) Observe(sender uint32, seq uint64) {
	if int(sender) >= len(t.next) {
		t.Foreign++
		return
	}
	t.Received++
	next := t.next[sender]
	switch {
	case seq == next:
		t.next[sender] = seq + 1
	case seq > next:
		t.Gaps += seq - next
		t.next[sender] = seq + 1
	default:
		t.Duplicates++
	}
}

// Missing returns how many lines were not received at all, given how many
// each sender sent: the final gap per sender plus gaps seen on the way.
// self is the index of this connection's own sender slot (-1 if it sends
// nothing); it never receives its own lines.
func (t *Tally) Missing(sent []uint64, self int) uint64 {
	missing := t.Gaps
	for s, n := range sent {
		if s == self || s >= len(t.next) {
			continue
		}
		if n > t.next[s] {
			missing += n - t.next[s]
		}
	}
	return missing
}
