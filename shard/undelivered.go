package shard

import (
	"context"
	"fmt"

	"github.com/panjf2000/gnet/v2"
)

// Undelivered is what the fan-out still holds for its members.
type Undelivered struct {
	// Bytes is what is left to write, each byte once however many members
	// are owed it: the sealed batches still held (inboxes and logs, see
	// Stats.LogBytes) and the outboxes not yet sealed.
	Bytes int64
	// Members is how many members are owed any of it.
	Members int
}

// Undelivered asks every hub, on its loop, what it still holds and for how
// many members, and waits for the answers or ctx. Unlike Backlog, which
// adds up what each member is owed (a byte owed to a thousand members
// counts a thousand times), it counts each byte once. Safe for concurrent use.
func (f *Fanout) Undelivered(ctx context.Context) (Undelivered, error) {
	hubs := f.Hubs()
	type answer struct{ outbox, owed int }
	answers := make(chan answer, len(hubs)) // buffered: a late answer never blocks its loop
	for i, h := range hubs {
		task := gnet.RunnableFunc(func(context.Context) error {
			a := answer{}
			if h.out != nil {
				a.outbox = len(h.out.buf)
			}
			pending := a.outbox > 0 || h.queued() > 0 // not in the log yet: every member is owed it
			for _, m := range h.members {
				if m.cur.attached && (pending || !h.log.caughtUpAt(&m.cur)) {
					a.owed++
				}
			}
			answers <- a
			return nil
		})
		if err := h.exec.Execute(ctx, task); err != nil {
			return Undelivered{}, fmt.Errorf("shard: undelivered on hub %d: %w", i, err)
		}
	}
	var u Undelivered
	for range hubs {
		select {
		case a := <-answers:
			u.Bytes += int64(a.outbox)
			u.Members += a.owed
		case <-ctx.Done():
			return Undelivered{}, fmt.Errorf("shard: undelivered: %w", ctx.Err())
		}
	}
	u.Bytes += f.liveBytes.Load()
	return u, nil
}
