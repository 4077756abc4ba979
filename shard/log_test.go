package shard

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// fakeWaiter stands in for the EpollWaiter. With auto set it reports room
// at once (a socket that drains as fast as it fills); otherwise the test
// calls wakeAll.
type fakeWaiter struct {
	auto    bool
	mu      sync.Mutex
	waiting map[*Member]bool // guarded by mu
}

func (w *fakeWaiter) Wait(m *Member) error {
	if w.auto {
		m.Writable()
		return nil
	}
	w.mu.Lock()
	if w.waiting == nil {
		w.waiting = map[*Member]bool{}
	}
	w.waiting[m] = true
	w.mu.Unlock()
	return nil
}

func (w *fakeWaiter) Forget(m *Member) {
	w.mu.Lock()
	delete(w.waiting, m)
	w.mu.Unlock()
}

func (w *fakeWaiter) wakeAll() {
	w.mu.Lock()
	ms := w.waiting
	w.waiting = nil
	w.mu.Unlock()
	for m := range ms {
		m.Writable()
	}
}

// eventually waits (bounded) for cond, checked on loop l.
func eventually(t *testing.T, l *testLoop, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		var ok bool
		l.do(func() { ok = cond() })
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestShortWritesDeliverEveryByteOnce: whatever size of pieces a socket
// takes (one byte at a time, a few bytes, more than a frame), including
// cursors left in the middle of frames and the member's own frames at
// the edges of what it was written, the member gets every other frame
// exactly once, in order, and none of its own.
func TestShortWritesDeliverEveryByteOnce(t *testing.T) {
	for _, perCall := range []int{1, 3, 7, 16, 100, 4096} {
		t.Run(fmt.Sprintf("perCall=%d", perCall), func(t *testing.T) {
			l1, l2 := newTestLoop(t), newTestLoop(t)
			w := &fakeWaiter{auto: true}
			f := newFan(t, Options{Waiter: w})
			a, b := join(f, l1, 1), join(f, l2, 2)
			r := join(f, l1, 3) // on the loop of sender a; sends too
			r.conn.perCall = perCall
			var want strings.Builder
			for round := range 20 {
				l1.do(func() {
					for i := range 5 {
						switch (round + i) % 3 {
						case 0:
							a.Publish(fmt.Appendf(nil, "a%d.%d", round, i))
							fmt.Fprintf(&want, "1:a%d.%d\r\n", round, i)
						default:
							r.Publish(fmt.Appendf(nil, "mine%d.%d", round, i))
						}
					}
				})
				l2.do(func() {
					b.Publish(fmt.Appendf(nil, "b%d", round))
				})
				settle(t, l1, l2)
				fmt.Fprintf(&want, "2:b%d\r\n", round)
			}
			settle(t, l1, l2)
			got, _ := r.conn.stats()
			if strings.Contains(got, "mine") {
				t.Fatalf("the member got its own frames back: %q", got)
			}
			// Per-sender order is what the protocol promises; lines of a
			// and b may interleave either way between rounds.
			for _, sender := range []string{"1:", "2:"} {
				if g, w := only(got, sender), only(want.String(), sender); g != w {
					t.Fatalf("from %s got\n%q\nwant\n%q", sender, g, w)
				}
			}
			if len(got) != want.Len() {
				t.Fatalf("got %d bytes, want %d", len(got), want.Len())
			}
			if st := f.Stats(); st.LogBytes != 0 {
				t.Fatalf("log still holds %d bytes after everyone caught up", st.LogBytes)
			}
		})
	}
}

// only keeps the lines of s that start with prefix.
func only(s, prefix string) string {
	var b strings.Builder
	for _, line := range strings.SplitAfter(s, "\r\n") {
		if strings.HasPrefix(line, prefix) {
			b.WriteString(line)
		}
	}
	return b.String()
}

// TestFullSocketWaitsForRoom: a socket that takes nothing (EAGAIN) is
// not written again until the waiter reports room; then it gets all it
// missed, once.
func TestFullSocketWaitsForRoom(t *testing.T) {
	l := newTestLoop(t)
	w := &fakeWaiter{}
	f := newFan(t, Options{Waiter: w})
	s, r := join(f, l, 1), join(f, l, 2)
	r.conn.limit(5) // takes the first 5 bytes, then is full
	for i := range 10 {
		l.do(func() { s.Publish(fmt.Appendf(nil, "line %d", i)) })
		settle(t, l)
	}
	got, writes := r.conn.stats()
	if got != "1:lin" || writes != 1 {
		t.Fatalf("a full socket was written %d times (%q), want once", writes, got)
	}
	r.conn.unlimit()
	w.wakeAll()
	settle(t, l)
	var want strings.Builder
	for i := range 10 {
		fmt.Fprintf(&want, "1:line %d\r\n", i)
	}
	if got, _ := r.conn.stats(); got != want.String() {
		t.Fatalf("got %q, want %q", got, want.String())
	}
}

// TestOneSharedCopy: fifty members that take nothing cost the burst once,
// not fifty times; when they drain, the log is empty again.
func TestOneSharedCopy(t *testing.T) {
	l1, l2 := newTestLoop(t), newTestLoop(t)
	w := &fakeWaiter{}
	f := newFan(t, Options{Waiter: w})
	s := join(f, l1, 1)
	var stuck []testMember
	for i := range 50 {
		l := l1
		if i%2 == 1 {
			l = l2
		}
		m := join(f, l, int64(100+i))
		m.conn.limit(0)
		stuck = append(stuck, m)
	}
	line := []byte(strings.Repeat("x", 1000))
	burst := 0
	for range 4 {
		l1.do(func() {
			for range 256 {
				s.Publish(line)
				burst += len(line) + len("1:\r\n")
			}
		})
	}
	settle(t, l1, l2)
	if st := f.Stats(); st.LogBytes != int64(burst) {
		t.Fatalf("log holds %d bytes for a %d-byte burst to 50 stuck members; want it once", st.LogBytes, burst)
	}
	for _, m := range stuck {
		m.conn.unlimit()
	}
	w.wakeAll()
	settle(t, l1, l2)
	for _, m := range stuck {
		if got, _ := m.conn.stats(); len(got) != burst {
			t.Fatalf("member %d got %d bytes, want %d", m.ID, len(got), burst)
		}
	}
	if st := f.Stats(); st.LogBytes != 0 || st.BehindBytes != 0 {
		t.Fatalf("after draining: %+v, want an empty log", st)
	}
}

// TestWhoIsCutOff: only members that do not read are cut, each for its
// reason; a member that drains a burst larger than its socket is not.
func TestWhoIsCutOff(t *testing.T) {
	const maxLag = 1 << 20
	cases := []struct {
		name    string
		setup   func(c *testConn)
		burst   int           // bytes published
		drain   bool          // the waiter keeps reporting room (a reading client)
		wantErr error         // nil: not cut
		within  time.Duration // how long to watch
		patient bool          // a write deadline far longer than the test
	}{
		{name: "reads slowly through a big burst", setup: func(c *testConn) { c.perCall = 4096 }, burst: maxLag * 3 / 4, drain: true},
		{name: "never reads", setup: func(c *testConn) { c.limit(0) }, burst: 1000, wantErr: ErrSlowConsumer, within: 5 * time.Second},
		{name: "falls too far behind", setup: func(c *testConn) { c.limit(0) }, burst: maxLag + 64<<10, wantErr: ErrTooFarBehind, within: time.Second, patient: true},
		{name: "write fails", setup: func(c *testConn) { c.fail = syscall.EPIPE }, burst: 100, wantErr: ErrWriteFailed, within: time.Second},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			l := newTestLoop(t)
			w := &fakeWaiter{auto: tc.drain}
			clock := newManualClock()
			var cut []error // written on the loop
			deadline := 200 * time.Millisecond
			if tc.patient {
				deadline = time.Hour
			}
			f := newFan(t, Options{Waiter: w, MaxLag: maxLag, WriteDeadline: deadline, Clock: clock,
				OnEvict: func(m *Member, err error) { cut = append(cut, fmt.Errorf("member %d: %w", m.ID, err)) }})
			s, ok, r := join(f, l, 1), join(f, l, 2), join(f, l, 3)
			tc.setup(r.conn)
			line := []byte(strings.Repeat("y", 997)) // 1 000-byte frames with "1:" and CRLF... plus 3
			for sent := 0; sent < tc.burst; {
				l.do(func() {
					for range 64 {
						s.Publish(line)
					}
				})
				sent += 64 * (len(line) + 4)
			}
			settle(t, l)
			if tc.wantErr != nil {
				for range tc.within / (10 * time.Millisecond) {
					if l.do(func() {}); len(cut) > 0 {
						break
					}
					clock.advance(10 * time.Millisecond) // the sweep runs on the way
					settle(t, l)
				}
				eventually(t, l, "the cut", func() bool { return len(cut) > 0 })
				l.do(func() {
					if len(cut) != 1 || !errors.Is(cut[0], tc.wantErr) || !strings.Contains(cut[0].Error(), "member 3") {
						t.Errorf("cut %v, want member 3 for %v", cut, tc.wantErr)
					}
				})
			} else {
				eventually(t, l, "the slow reader to catch up", func() bool { return r.Lag() == 0 })
				clock.advance(300 * time.Millisecond) // past the write deadline: still not cut
				settle(t, l)
				l.do(func() {
					if len(cut) != 0 {
						t.Errorf("a member that reads was cut: %v", cut)
					}
				})
			}
			okGot, _ := ok.conn.stats()
			if want := strings.Count(okGot, "\r\n"); want == 0 {
				t.Fatal("the healthy member got nothing")
			}
		})
	}
}

// TestBackPressure: a member that reads but falls far behind congests the
// fan-out; a held sender is resumed once it catches up. A member that
// stops reading drops its flag after the stall grace, so it cannot hold
// senders back for long.
func TestBackPressure(t *testing.T) {
	const maxLag = 1 << 20 // flags above 512 KiB, unflags below 256 KiB
	for _, tc := range []struct {
		name      string
		catchUp   bool // the slow member then reads everything
		wantFlags bool // congestion still on after the stall grace
	}{
		{name: "reader catches up", catchUp: true},
		{name: "reader stops reading"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := newTestLoop(t)
			w := &fakeWaiter{}
			clock := newManualClock()
			var resumed []int64 // written on the loop
			f := newFan(t, Options{Waiter: w, MaxLag: maxLag, WriteDeadline: 2 * time.Second, HoldSenders: true, Clock: clock,
				OnResume: func(m *Member) { resumed = append(resumed, m.ID) },
				OnEvict:  func(*Member, error) {}})
			s, r := join(f, l, 1), join(f, l, 2)
			r.conn.limit(0)
			line := []byte(strings.Repeat("z", 1020))
			l.do(func() {
				for range 600 { // ~600 KiB: more than MaxLag/2
					s.Publish(line)
				}
			})
			settle(t, l)
			if f.Congested() {
				t.Fatal("congested before the member made any progress")
			}
			r.conn.limit(10 << 10) // reads 10 KiB: progress, still > 512 KiB behind
			w.wakeAll()
			settle(t, l)
			if !f.Congested() {
				t.Fatal("a reading member far behind did not congest the fan-out")
			}
			l.do(func() { s.Hold() })
			if tc.catchUp {
				r.conn.unlimit()
				w.wakeAll()
			}
			for range 100 { // a second of the manual clock: past the stall grace
				if settle(t, l); !f.Congested() {
					break
				}
				clock.advance(10 * time.Millisecond)
			}
			eventually(t, l, "congestion to lift", func() bool { return !f.Congested() })
			eventually(t, l, "the held sender to resume", func() bool { return len(resumed) == 1 && resumed[0] == 1 })
			if st := f.Stats(); st.Held != 0 || st.Congestions == 0 {
				t.Fatalf("stats %+v: want nobody held, after a congestion", st)
			}
		})
	}
}

// TestSlowLoopHoldsSenders: a loop that does not take its batches (busy,
// or starved of CPU) lets them pile up in its inbox, where no reader's
// flag sees them; past a quarter of MaxLag the fan-out is congested, so
// senders are held, and it lifts once the loop takes them.
func TestSlowLoopHoldsSenders(t *testing.T) {
	const maxLag = 4 << 20 // the inbox limit is 1 MiB
	senderLoop, slowLoop := newTestLoop(t), newTestLoop(t)
	f := newFan(t, Options{MaxLag: maxLag, HoldSenders: true, OnResume: func(*Member) {}})
	s := join(f, senderLoop, 1)
	join(f, slowLoop, 2)
	stall := make(chan struct{})
	var unstall sync.Once
	t.Cleanup(func() { unstall.Do(func() { close(stall) }) }) // before the loops' own cleanup
	stalled := make(chan struct{})
	go slowLoop.do(func() { close(stalled); <-stall }) // the slow loop runs nothing until stall closes
	<-stalled
	line := []byte(strings.Repeat("w", 1020))
	for range 3 {
		senderLoop.do(func() {
			for range 400 { // ~400 KiB a turn
				s.Publish(line)
			}
		})
		settle(t, senderLoop)
	}
	if !f.Congested() {
		t.Fatalf("1.2 MiB wait in a stalled loop's inbox and the fan-out is not congested: %+v", f.Stats())
	}
	unstall.Do(func() { close(stall) })
	settle(t, senderLoop, slowLoop)
	if f.Congested() {
		t.Fatalf("still congested once the loop took its batches: %+v", f.Stats())
	}
}
