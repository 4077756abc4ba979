package shard

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/panjf2000/gnet/v2"
)

type testMember struct {
	*Member
	conn *testConn
	loop *testLoop
}

// newFan returns a fan-out whose timers stop when the test ends.
func newFan(t testing.TB, opts Options) *Fanout {
	f := New(NewRegistry(4), opts)
	t.Cleanup(f.Close)
	return f
}

func join(f *Fanout, l *testLoop, id int64) testMember {
	c := &testConn{}
	m := NewMember(id, c)
	l.do(func() { f.Hub(l).Join(m) })
	return testMember{Member: m, conn: c, loop: l}
}

// TestBatchingOneWritePerRecipient: K lines queued in one loop cycle cost
// each recipient exactly one write, with every frame in order, and the
// senders never get their own frames back.
func TestBatchingOneWritePerRecipient(t *testing.T) {
	const k = 50
	cases := []struct {
		name        string
		sameLoop    bool // recipients on the senders' loop or another one
		senders     int
		wantSenderW int // writes each sender gets
	}{
		{name: "one sender, recipients on same loop", sameLoop: true, senders: 1, wantSenderW: 0},
		{name: "one sender, recipients on other loop", sameLoop: false, senders: 1, wantSenderW: 0},
		{name: "two senders interleaved", sameLoop: true, senders: 2, wantSenderW: 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			l1, l2 := newTestLoop(t), newTestLoop(t)
			f := New(NewRegistry(4), Options{})
			recvLoop := l2
			if tc.sameLoop {
				recvLoop = l1
			}
			var senders, recipients []testMember
			for i := range tc.senders {
				senders = append(senders, join(f, l1, int64(100+i)))
			}
			for i := range 3 {
				recipients = append(recipients, join(f, recvLoop, int64(200+i)))
			}
			var want strings.Builder
			l1.do(func() { // one loop cycle
				for i := range k {
					s := senders[i%len(senders)]
					line := fmt.Sprintf("line %d", i)
					s.Publish([]byte(line))
					fmt.Fprintf(&want, "%d:%s\r\n", s.ID, line)
				}
			})
			settle(t, l1, l2)
			for _, r := range recipients {
				got, writes := r.conn.stats()
				if writes != 1 {
					t.Errorf("recipient %d: %d writes for %d lines, want 1", r.ID, writes, k)
				}
				if got != want.String() {
					t.Errorf("recipient %d got\n%q\nwant\n%q", r.ID, got, want.String())
				}
			}
			for _, s := range senders {
				got, writes := s.conn.stats()
				if writes != tc.wantSenderW {
					t.Errorf("sender %d: %d writes, want %d", s.ID, writes, tc.wantSenderW)
				}
				if strings.Contains(got, fmt.Sprintf("%d:", s.ID)) {
					t.Errorf("sender %d got its own line back: %q", s.ID, got)
				}
			}
			if st := f.Stats(); st.Batches != 1 || st.Frames != k {
				t.Errorf("stats %+v: want 1 batch of %d frames", st, k)
			}
		})
	}
}

// TestConcurrentOpenCloseBroadcast churns members on four loops while
// steady members publish; under -race it proves the ownership rules, and
// the steady members must each get every other steady line once, in order.
func TestConcurrentOpenCloseBroadcast(t *testing.T) {
	const loops, perSender = 4, 300
	ls := make([]*testLoop, loops)
	for i := range ls {
		ls[i] = newTestLoop(t)
	}
	f := New(NewRegistry(8), Options{})
	steady := make([]testMember, loops)
	for i := range steady {
		steady[i] = join(f, ls[i], int64(i+1))
	}

	var wg, senders sync.WaitGroup
	stop := make(chan struct{})
	wg.Add(1)
	go func() { // churn: join, publish, leave, on random loops, until the senders are done
		defer wg.Done()
		for id := int64(1000); ; id++ {
			select {
			case <-stop:
				if id >= 1100 {
					return
				}
			default:
			}
			l := ls[rand.IntN(loops)]
			m := join(f, l, id)
			l.do(func() { m.Publish([]byte("churn")) })
			_ = f.Registry().Get(id) // an off-loop reader
			l.do(func() { m.Leave() })
		}
	}()
	for i, s := range steady {
		senders.Add(1)
		go func() {
			defer senders.Done()
			for n := range perSender {
				s.loop.do(func() { s.Publish(fmt.Appendf(nil, "s%d %d", i, n)) })
			}
		}()
	}
	senders.Wait()
	close(stop) // churn goes on until at least 100 members came and went
	wg.Wait()
	settle(t, ls...)
	if n, err := f.Backlog(context.Background()); err != nil || n != 0 {
		t.Fatalf("backlog %d, %v", n, err)
	}

	for i, r := range steady {
		got, _ := r.conn.stats()
		next := make([]int, loops)
		for _, line := range strings.Split(strings.TrimSuffix(got, "\r\n"), "\r\n") {
			_, body, _ := strings.Cut(line, ":")
			if body == "churn" {
				continue
			}
			var from, n int
			if _, err := fmt.Sscanf(body, "s%d %d", &from, &n); err != nil {
				t.Fatalf("member %d: bad line %q", i, line)
			}
			if from == i {
				t.Fatalf("member %d got its own line %q", i, line)
			}
			if n != next[from] {
				t.Fatalf("member %d: line %d from %d, want %d", i, n, from, next[from])
			}
			next[from]++
		}
		for from, n := range next {
			if from != i && n != perSender {
				t.Errorf("member %d got %d lines from %d, want %d", i, n, from, perSender)
			}
		}
	}
	if got := f.Registry().Len(); got != loops {
		t.Errorf("registry holds %d members, want %d", got, loops)
	}
}

// TestLeaveDuringRound: gnet closes a connection synchronously when a write
// fails, so OnClose (and Leave) can run in the middle of a round.
func TestLeaveDuringRound(t *testing.T) {
	l := newTestLoop(t)
	f := New(NewRegistry(2), Options{})
	ms := make([]testMember, 6)
	for i := range ms {
		ms[i] = join(f, l, int64(i+1))
	}
	ms[2].conn.onWrite = func() { ms[2].Leave(); ms[3].Leave() }
	l.do(func() { ms[0].Publish([]byte("x")) })
	settle(t, l)
	for i, m := range ms[1:] {
		got, _ := m.conn.stats()
		want := "1:x\r\n"
		if i+1 == 3 && got != "" && got != want { // left before or after its write
			t.Errorf("member 4 got %q", got)
		}
		if i+1 != 3 && got != want {
			t.Errorf("member %d got %q, want %q", i+2, got, want)
		}
	}
	l.do(func() {
		if n := f.Hub(l).Members(); n != 4 {
			t.Errorf("hub has %d members, want 4", n)
		}
	})
	l.do(func() { ms[0].Publish([]byte("y")) })
	settle(t, l)
	if got, _ := ms[2].conn.stats(); got != "1:x\r\n" {
		t.Errorf("a member that left got more: %q", got)
	}
}

// TestCoalesceHoldsOnlyBackToBackRounds: with a window far longer than the
// test (a duty so small that any round's cost makes it hit the one-hour
// cap), the first line after a quiet spell is delivered at once, and a
// line right behind it is held.
func TestCoalesceHoldsOnlyBackToBackRounds(t *testing.T) {
	l := newTestLoop(t)
	f := New(NewRegistry(1), Options{Coalesce: time.Hour})
	f.pacer.duty.Store(math.Float64bits(1e-15))
	t.Cleanup(f.Close)
	a, b := join(f, l, 1), join(f, l, 2)
	l.do(func() { a.Publish([]byte("first")) })
	settle(t, l)
	if got, _ := b.conn.stats(); got != "1:first\r\n" {
		t.Fatalf("the first line waited: got %q", got)
	}
	l.do(func() { a.Publish([]byte("second")) })
	settle(t, l)
	if got, _ := b.conn.stats(); got != "1:first\r\n" {
		t.Fatalf("a back-to-back round was not held: got %q", got)
	}
	if n, _ := f.Backlog(context.Background()); n == 0 {
		t.Fatalf("held line not counted in the backlog")
	}
}

// TestInjectIsBounded: batches from elsewhere are refused while a hub has
// too much waiting, and accepted again once it has caught up.
func TestInjectIsBounded(t *testing.T) {
	l := newTestLoop(t)
	f := New(NewRegistry(1), Options{MaxInjectBacklog: 10})
	r := join(f, l, 1)
	stall := make(chan struct{})
	l.do(func() {})
	_ = l.Execute(context.Background(), gnet.RunnableFunc(func(context.Context) error { <-stall; return nil }))
	if !f.Inject([]byte("9:0123456789\r\n"), 1) { // 14 bytes: the first fits
		t.Fatal("first batch refused")
	}
	if f.Inject([]byte("9:x\r\n"), 1) {
		t.Fatal("a batch was accepted past the backlog bound")
	}
	close(stall)
	settle(t, l)
	if !f.Inject([]byte("9:y\r\n"), 1) {
		t.Fatal("refused after the hub caught up")
	}
	settle(t, l)
	if got, _ := r.conn.stats(); got != "9:0123456789\r\n9:y\r\n" {
		t.Fatalf("member got %q", got)
	}
}
