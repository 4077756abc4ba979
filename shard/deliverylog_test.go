package shard

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
)

// The delivery log alone: no event loop, no hub, no socket. Cursors of
// both encodings are attached, moved by random amounts through gather and
// wrote (as writes that take part of what was laid out would), detached
// and attached again while batches are appended; after every step the
// holders of each entry are the cursors in it, the caught-up count is
// right and every cursor lies in its entry. When every cursor catches up,
// trim releases every batch, WebSocket encodings included. (What a cursor
// is laid out, own frames left out, is checked through the hub by
// TestShortWritesDeliverEveryByteOnce and TestEncodingsDeliverEveryLineOnce.)
func TestDeliveryLogAlone(t *testing.T) {
	for seed := range uint64(20) {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 7))
			f := New(NewRegistry(1), Options{})
			var l deliveryLog
			members := make([]*Member, 6)
			for i := range members {
				if i%2 == 0 {
					members[i] = NewMember(int64(i+1), nil)
				} else {
					members[i] = NewWebSocketMember(int64(i+1), nil)
				}
				members[i].cur.enc = members[i].enc
				l.attach(&members[i].cur)
			}
			var g gathered
			check := func(step string) {
				t.Helper()
				holders := map[uint64]int32{}
				caught := 0
				for _, m := range members {
					c := &m.cur
					if !c.attached {
						continue
					}
					if c.pos == l.tail[c.enc] {
						caught++
						if c.entry != l.nextSeq {
							t.Fatalf("%s: member %d caught up but in entry %d of %d", step, m.ID, c.entry, l.nextSeq)
						}
						continue
					}
					e := l.at(c.entry)
					if c.pos < e.start[c.enc] || c.pos >= e.end[c.enc] {
						t.Fatalf("%s: member %d at %d outside its entry [%d,%d)", step, m.ID, c.pos, e.start[c.enc], e.end[c.enc])
					}
					holders[c.entry]++
				}
				if caught != l.caughtUp {
					t.Fatalf("%s: %d cursors caught up, the log counts %d", step, caught, l.caughtUp)
				}
				for seq := l.firstSeq; seq < l.nextSeq; seq++ {
					if l.at(seq).holders != holders[seq] {
						t.Fatalf("%s: entry %d holds %d, %d cursors lie in it", step, seq, l.at(seq).holders, holders[seq])
					}
				}
			}
			for step := range 300 {
				switch op := rng.IntN(10); {
				case op < 4: // a batch, with frames from some of the members
					b := getBatch(f, nil)
					for k := range rng.IntN(4) + 1 {
						m := members[rng.IntN(len(members))]
						line := fmt.Sprintf("%d.%d%s", step, k, strings.Repeat("y", rng.IntN(300)))
						start := len(b.buf)
						b.buf = appendFrame(b.buf, m.prefix[:m.prefixLen], []byte(line))
						b.frames = append(b.frames, frame{sender: m, start: start, end: len(b.buf)})
					}
					b.lines = len(b.frames)
					b.refs.Store(1)
					f.liveBytes.Add(int64(len(b.buf)))
					l.append(b, true)
				case op < 8: // a member's socket takes part of what it is owed
					m := members[rng.IntN(len(members))]
					if !m.cur.attached || l.caughtUpAt(&m.cur) {
						break
					}
					total, stop := l.gather(&m.cur, &g, nil, rng.IntN(2) == 0)
					_, pos := g.wrote(rng.IntN(total+1), stop)
					l.advance(&m.cur, pos)
					g.release()
				case op < 9: // one leaves, and comes back at the tail
					m := members[rng.IntN(len(members))]
					l.detach(&m.cur)
					check("detach")
					l.attach(&m.cur)
				default:
					l.trim()
				}
				check(fmt.Sprintf("step %d", step))
			}
			for _, m := range members { // everyone catches up
				for !l.caughtUpAt(&m.cur) {
					_, stop := l.gather(&m.cur, &g, nil, false)
					l.advance(&m.cur, stop)
					g.release()
				}
			}
			check("caught up")
			l.trim()
			if !l.empty() || l.span() != 0 || f.liveBytes.Load() != 0 {
				t.Fatalf("after everyone caught up: %d entries, span %d, %d live bytes", len(l.entries)-l.front, l.span(), f.liveBytes.Load())
			}
		})
	}
}
