package shard

import (
	"context"
	"fmt"

	"github.com/panjf2000/gnet/v2"
)

// Walk visits the members of every hub a slice at a time, so that a
// control-plane request (listing connections) holds a loop for the time
// of one slice, never for all its members at once. Each hub's members are
// those on it when its first slice runs (a snapshot of pointers, 8 bytes a
// member, made on the loop); a member that has left by the time its slice
// runs is skipped, and one that joined since is not visited. Not safe for
// concurrent use: one caller drives a Walk.
type Walk struct {
	f    *Fanout
	hubs []*Hub
	snap [][]*Member // per hub, written and read only on that hub's loop
	next []int       // per hub: index in snap of the next member; -1 before the snapshot; loop-owned
	done []bool      // per hub: every member visited; read by the caller between slices
}

// Walk starts a walk over the hubs that exist now. Safe for concurrent use.
func (f *Fanout) Walk() *Walk {
	hubs := f.Hubs()
	w := &Walk{f: f, hubs: hubs, snap: make([][]*Member, len(hubs)), next: make([]int, len(hubs)), done: make([]bool, len(hubs))}
	for i := range w.next {
		w.next[i] = -1
	}
	return w
}

// Next runs fn on at most n more members of each hub not yet done, on that
// hub's loop (fn runs on several loops at once, one hub each), and waits
// for every hub or for ctx. It reports whether any members remain. A task
// that starts after ctx ended does nothing, so a request that is gone
// leaves no work behind on the loops. After an error the Walk must not be
// used again, and whatever fn was filling may still be written by a slice
// that had already started.
func (w *Walk) Next(ctx context.Context, n int, fn func(hub int, m *Member)) (bool, error) {
	n = max(n, 1)
	answers := make(chan int, len(w.hubs)) // buffered: a late slice never blocks its loop
	asked := 0
	for i, h := range w.hubs {
		if w.done[i] {
			continue
		}
		task := gnet.RunnableFunc(func(context.Context) error {
			if ctx.Err() != nil {
				answers <- -1
				return nil
			}
			if w.next[i] < 0 {
				w.snap[i], w.next[i] = append([]*Member(nil), h.members...), 0
			}
			snap, j := w.snap[i], w.next[i]
			for stop := min(j+n, len(snap)); j < stop; j++ {
				if m := snap[j]; !m.gone {
					fn(i, m)
				}
			}
			w.next[i] = j
			if j == len(snap) {
				w.snap[i] = nil
				answers <- i
				return nil
			}
			answers <- len(w.hubs) // more to come
			return nil
		})
		if err := h.exec.Execute(ctx, task); err != nil {
			return false, fmt.Errorf("shard: walk hub %d: %w", i, err)
		}
		asked++
	}
	more := false
	for range asked {
		select {
		case a := <-answers:
			switch {
			case a < 0:
				return false, fmt.Errorf("shard: walk: %w", ctx.Err())
			case a < len(w.hubs):
				w.done[a] = true
			default:
				more = true
			}
		case <-ctx.Done():
			return false, fmt.Errorf("shard: walk: %w", ctx.Err())
		}
	}
	return more, nil
}
