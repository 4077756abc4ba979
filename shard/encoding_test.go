package shard

import (
	"encoding/binary"
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"

	wsproto "github.com/fanout/fanout/internal/ws"
)

// wsMessage is one server frame read back from a WebSocket member's stream.
type wsMessage struct {
	op      wsproto.Opcode
	payload string
}

// readFrames splits a server-to-client stream (unmasked, final frames)
// into its frames; it fails on a frame cut short or with a mask.
func readFrames(t *testing.T, stream string) []wsMessage {
	t.Helper()
	var out []wsMessage
	b := []byte(stream)
	for len(b) > 0 {
		if len(b) < 2 || b[0]&0x80 == 0 || b[1]&0x80 != 0 {
			t.Fatalf("bad frame header at %q", b[:min(len(b), 8)])
		}
		n, h := int(b[1]&0x7f), 2
		switch n {
		case 126:
			n, h = int(binary.BigEndian.Uint16(b[2:])), 4
		case 127:
			n, h = int(binary.BigEndian.Uint64(b[2:])), 10
		}
		if len(b) < h+n {
			t.Fatalf("frame cut short: %d of %d bytes", len(b)-h, n)
		}
		out = append(out, wsMessage{op: wsproto.Opcode(b[0] & 0x0f), payload: string(b[h : h+n])})
		b = b[h+n:]
	}
	return out
}

func joinWS(f *Fanout, l *testLoop, id int64) testMember {
	c := &testConn{}
	m := NewWebSocketMember(id, c)
	l.do(func() { f.Hub(l).Join(m) })
	return testMember{Member: m, conn: c, loop: l}
}

// TestEncodingsDeliverEveryLineOnce: TCP and WebSocket members, senders
// and readers of both kinds on two loops, sockets that take a few bytes
// at a time: each member gets every other member's lines once, in order,
// in its own encoding (a WebSocket message per line, text or binary by the
// line's UTF-8), and never its own; lines injected from another node too.
func TestEncodingsDeliverEveryLineOnce(t *testing.T) {
	for _, perCall := range []int{1, 5, 64, 4096} {
		t.Run(fmt.Sprintf("perCall=%d", perCall), func(t *testing.T) {
			l1, l2 := newTestLoop(t), newTestLoop(t)
			f := newFan(t, Options{Waiter: &fakeWaiter{auto: true}})
			tcpA, wsB := join(f, l1, 1), joinWS(f, l2, 2)
			tcpR, wsR := join(f, l1, 3), joinWS(f, l1, 4) // readers that send too
			for _, m := range []testMember{tcpR, wsR} {
				m.conn.perCall = perCall
			}
			lines := map[int64][]string{} // what each sender sent, in order
			for round := range 15 {
				l1.do(func() {
					for i := range 3 {
						for _, m := range []testMember{tcpA, tcpR, wsR} {
							line := fmt.Sprintf("m%d r%d.%d", m.ID, round, i)
							switch i {
							case 1:
								// Past 125 bytes a message's header is longer than
								// the CRLF it replaces: the streams' offsets differ.
								line += " " + strings.Repeat("x", 200)
							case 2:
								line += "\xff" // not UTF-8: a binary message for WebSocket readers
							}
							m.Publish([]byte(line))
							lines[m.ID] = append(lines[m.ID], line)
						}
					}
				})
				l2.do(func() {
					line := fmt.Sprintf("m2 r%d ünïcode", round)
					wsB.Publish([]byte(line))
					lines[2] = append(lines[2], line)
				})
				if round%5 == 4 {
					line := fmt.Sprintf("from afar %d", round)
					f.Inject([]byte("77:"+line+"\r\n"), 1)
					lines[77] = append(lines[77], line)
				}
				settle(t, l1, l2)
			}
			settle(t, l1, l2)

			for _, r := range []testMember{tcpR, wsR} {
				got, _ := r.conn.stats()
				bySender := map[int64][]string{}
				if r.Encoding() == WebSocket {
					for _, msg := range readFrames(t, got) {
						id, line, _ := strings.Cut(msg.payload, ":")
						want := wsproto.OpText
						if !utf8.ValidString(line) {
							want = wsproto.OpBinary
						}
						if msg.op != want {
							t.Fatalf("member %d: %q came as opcode %d, want %d", r.ID, msg.payload, msg.op, want)
						}
						var sender int64
						fmt.Sscan(id, &sender)
						bySender[sender] = append(bySender[sender], line)
					}
				} else {
					for _, frame := range strings.SplitAfter(got, "\r\n") {
						if frame == "" {
							continue
						}
						id, line, _ := strings.Cut(strings.TrimSuffix(frame, "\r\n"), ":")
						var sender int64
						fmt.Sscan(id, &sender)
						bySender[sender] = append(bySender[sender], line)
					}
				}
				for sender, want := range lines {
					if sender == r.ID {
						want = nil // never its own
					}
					if g := bySender[sender]; strings.Join(g, "|") != strings.Join(want, "|") {
						t.Fatalf("member %d (%s) got from %d\n%q\nwant\n%q", r.ID, r.Encoding(), sender, g, want)
					}
				}
			}
			if st := f.Stats(); st.LogBytes != 0 {
				t.Fatalf("the logs still hold %d bytes after everyone caught up", st.LogBytes)
			}
		})
	}
}

// TestTCPOnlyBatchesHaveNoWebSocketEncoding: with no WebSocket member a
// batch pays nothing for the encoding.
func TestTCPOnlyBatchesHaveNoWebSocketEncoding(t *testing.T) {
	l := newTestLoop(t)
	f := newFan(t, Options{})
	s, r := join(f, l, 1), join(f, l, 2)
	r.conn.limit(0) // keeps the batch in the log
	l.do(func() { s.Publish([]byte("hello")) })
	settle(t, l)
	var ws []byte
	empty := true
	l.do(func() {
		h := f.Hub(l)
		if empty = h.log.empty(); !empty {
			ws = h.log.at(h.log.firstSeq).b.ws
		}
	})
	if empty || len(ws) != 0 {
		t.Fatalf("log empty %t; a TCP-only batch's WebSocket encoding %q, want none", empty, ws)
	}
}

// TestControlFrames: a WebSocket member's control frame goes out at once
// when it is caught up; when its socket stopped in the middle of an entry
// it goes out whole between two frames, never inside one; a later one
// replaces one not yet begun.
func TestControlFrames(t *testing.T) {
	pong := func(p string) []byte { return wsproto.AppendPong(nil, []byte(p)) }
	t.Run("caught up: at once", func(t *testing.T) {
		l := newTestLoop(t)
		f := newFan(t, Options{Waiter: &fakeWaiter{auto: true}})
		r := joinWS(f, l, 2)
		var ok bool
		l.do(func() { ok = r.SendControl(pong("p1")) })
		if got, _ := r.conn.stats(); !ok || got != string(pong("p1")) {
			t.Fatalf("queued %t, wrote %q", ok, got)
		}
	})
	t.Run("mid-entry: after the entry, whole", func(t *testing.T) {
		l := newTestLoop(t)
		w := &fakeWaiter{}
		f := newFan(t, Options{Waiter: w})
		s, r := join(f, l, 1), joinWS(f, l, 2)
		r.conn.limit(7) // stops inside the first message
		l.do(func() {
			for i := range 4 {
				s.Publish(fmt.Appendf(nil, "line %d", i))
			}
		})
		settle(t, l)
		var boundary bool
		l.do(func() {
			boundary = r.AtFrameBoundary()
			r.SendControl(pong("old"))
			r.SendControl(pong("new")) // replaces "old", not begun
		})
		if boundary {
			t.Fatal("AtFrameBoundary inside a message")
		}
		l.do(func() { s.Publish([]byte("after")) })
		r.conn.unlimit()
		w.wakeAll()
		settle(t, l)
		got, _ := r.conn.stats()
		var seq []string
		for _, m := range readFrames(t, got) {
			seq = append(seq, fmt.Sprintf("%d:%s", m.op, m.payload))
		}
		want := []string{"1:1:line 0", "1:1:line 1", "1:1:line 2", "1:1:line 3", "10:new", "1:1:after"}
		if strings.Join(seq, "|") != strings.Join(want, "|") {
			t.Fatalf("frames %q, want %q", seq, want)
		}
		l.do(func() { boundary = r.AtFrameBoundary() })
		if !boundary {
			t.Fatal("not at a frame boundary once caught up")
		}
	})
	t.Run("partly written: finished, the next dropped", func(t *testing.T) {
		l := newTestLoop(t)
		w := &fakeWaiter{}
		f := newFan(t, Options{Waiter: w})
		r := joinWS(f, l, 2)
		r.conn.limit(3)
		var second bool
		l.do(func() {
			r.SendControl(pong("first"))
			second = r.SendControl(pong("second"))
		})
		if second {
			t.Fatal("a control frame replaced one partly written")
		}
		r.conn.unlimit()
		w.wakeAll()
		settle(t, l)
		got, _ := r.conn.stats()
		if msgs := readFrames(t, got); len(msgs) != 1 || msgs[0].payload != "first" {
			t.Fatalf("frames %v", msgs)
		}
	})
}
