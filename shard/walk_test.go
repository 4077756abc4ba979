package shard

import (
	"context"
	"errors"
	"slices"
	"testing"
)

// TestWalkVisitsEveryMemberOnceInSlices: members spread over two loops
// are each visited exactly once, on their own loop, at most n per loop
// per Next; members that leave mid-walk are skipped and the others are
// not shuffled out (removal swaps the last member into the gap, which a
// walk over the live list would skip or repeat).
func TestWalkVisitsEveryMemberOnceInSlices(t *testing.T) {
	f := newFan(t, Options{})
	loops := []*testLoop{newTestLoop(t), newTestLoop(t)}
	var ms []testMember
	for i := range 50 {
		ms = append(ms, join(f, loops[i%2], int64(i+1)))
	}
	w := f.Walk()
	var seen []int64
	perLoop := make([]int, 2)
	got := make([][]int64, 2) // per hub: written on that hub's loop only
	calls := 0
	for more := true; more; calls++ {
		var err error
		more, err = w.Next(context.Background(), 4, func(hub int, m *Member) {
			perLoop[hub]++ // each hub's slice runs on its own loop: a data race here would show under -race
			got[hub] = append(got[hub], m.ID)
		})
		if err != nil {
			t.Fatal(err)
		}
		for hub := range got {
			seen = append(seen, got[hub]...)
			got[hub] = got[hub][:0]
		}
		for hub, n := range perLoop {
			if n > 4 {
				t.Fatalf("call %d: hub %d visited %d members, more than the slice of 4", calls, hub, n)
			}
			perLoop[hub] = 0
		}
		if calls == 1 { // mid-walk, members leave from the front of each loop's list
			for _, m := range ms[:6] {
				m.loop.do(m.Leave)
			}
		}
	}
	slices.Sort(seen)
	if len(seen) != len(slices.Compact(slices.Clone(seen))) {
		t.Fatalf("a member was visited twice: %v", seen)
	}
	for _, m := range ms[6:] {
		if _, ok := slices.BinarySearch(seen, m.ID); !ok {
			t.Errorf("member %d, there all along, was not visited", m.ID)
		}
	}
	if calls < 50/2/4 {
		t.Errorf("%d calls for 25 members per loop in slices of 4", calls)
	}
}

// TestWalkAfterCancelDoesNothing: a slice whose context ended before it
// ran visits nobody; Next says why.
func TestWalkAfterCancelDoesNothing(t *testing.T) {
	f := newFan(t, Options{})
	l := newTestLoop(t)
	for i := range 10 {
		join(f, l, int64(i+1))
	}
	ctx, cancel := context.WithCancel(context.Background())
	block := make(chan struct{})
	l.do(func() {}) // the loop is idle
	_ = l.Execute(context.Background(), runnable(func() { <-block }))
	visited := 0
	errc := make(chan error, 1)
	go func() {
		_, err := f.Walk().Next(ctx, 100, func(int, *Member) { visited++ })
		errc <- err
	}()
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("Next: %v, want context.Canceled", err)
	}
	close(block)
	l.do(func() {}) // the walk's task has run by now
	l.do(func() {
		if visited != 0 {
			t.Errorf("a cancelled walk visited %d members", visited)
		}
	})
}

func runnable(fn func()) gnetRunnable { return gnetRunnable(fn) }

type gnetRunnable func()

func (r gnetRunnable) Run(context.Context) error { r(); return nil }
