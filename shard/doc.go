// Package shard owns the connection registry and the batched fan-out.
//
// # Registry
//
// Every open connection is a [Member] registered in a [Registry]: N shards,
// each a map keyed by the member's snowflake ID and guarded by its own
// sync.RWMutex, so opens and closes on different shards never contend and
// off-loop readers (metrics, shutdown, lookups) take only a read lock. No
// lock of the registry is ever held across a write to a socket.
//
// # Fan-out
//
// A [Fanout] has one [Hub] per event loop. A hub owns, without any lock, the
// state its loop alone touches: the list of members living on that loop, the
// outbox of frames read on that loop and not yet sealed, and scratch buffers.
// Only a hub's inbox (sealed batches handed over by other loops) is shared,
// guarded by the hub's mutex, which is never held across I/O.
//
// A line becomes a frame "<id>:<line>\r\n" encoded once into the outbox of
// its sender's loop. Once per event-loop cycle the outbox is sealed into a
// read-only batch and handed to every hub's inbox (one task per hub, not one
// per recipient). A hub drains its whole inbox in one round: the batches are
// laid end to end and each member gets them with one write, its own frames
// left out. Batches therefore grow by themselves with load: whatever queues
// up while a round is being written goes out in the next round. A lone line
// is never held back by a timer. Under load an optional coalescing window
// opens: a hub starts its next round no sooner than CoalesceDuty times what
// the last one took to write (capped by Options.Coalesce), so writing takes
// a bounded share of the loop and each write carries more lines.
//
// Frames from other nodes of a cluster enter through [Fanout.Inject] as a
// batch with no local sender, and batches of local lines leave through
// Options.OnBatch; the shard package itself knows nothing of NATS.
//
// Concurrency rule: a Member's fields and a Hub's loop-owned fields are read
// and written only on that hub's event loop (the methods say "Runs on the
// member's loop"). Batches are immutable once sealed and are recycled when
// the last hub has written them (reference count).
//
// Lock order: Registry shard locks and Hub.mu are never held together.
package shard
