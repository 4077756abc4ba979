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
// # Fan-out: one shared copy, a cursor per member
//
// A [Fanout] has one [Hub] per event loop. A line becomes a frame
// "<id>:<line>\r\n" encoded once into the outbox of its sender's loop. Once
// per event-loop cycle (or at Options.SealBytes) the outbox is sealed into
// a read-only batch and handed to every hub's inbox (one task per hub, not
// one per recipient). A round appends the inbox to the hub's delivery log
// (log.go, a type of its own: entries and a cursor per member, tested
// alone): the log's entries point at the shared batches, so a batch's
// bytes exist once in the process however many members on however many
// loops have yet to be written them (reference-counted; the last hub to
// drop it recycles it). Each member has a cursor, a stream offset in its
// hub's log, and is written from it with one writev, its own frames left
// out, straight to its socket ([WriteConn]; write.go): what the socket does
// not take stays in the log, not in a per-connection buffer. A member
// whose socket was full waits, skipped by rounds, until the [Waiter]
// ([EpollWaiter]: one epoll instance and one goroutine for the process)
// reports room; it is then written from its cursor again. Entries leave the
// log once no cursor lies in or before them.
//
// Members read one of two encodings ([Encoding]): TCP lines, or WebSocket
// messages (one unmasked message "<id>:<line>" per line). A batch's
// WebSocket encoding is made once, by the first hub with WebSocket members
// to append it, and the log keeps one stream per encoding, so each member
// still gets one write per round from its own stream; batches no
// WebSocket member receives are never encoded for it. A WebSocket member
// may also have one control frame waiting ([Member.SendControl]): it is
// written ahead of the log, whole, between two of the log's frames.
//
// Batches grow by themselves with load: whatever queues up while a round is
// being written goes out in the next round. A lone line is never held back
// by a timer. Under load an optional coalescing window opens: a hub starts
// its next round no sooner than what its rounds cost to write divided by
// the duty, the share of a loop's time rounds may take, which one pacer
// for the Fanout revises every PacerPeriod from how idle the process's
// CPUs were (Options.Meter): it falls while they are saturated and rises
// while they have room. Options.Coalesce caps the window.
//
// # Who is cut off, and back-pressure
//
// A member is cut off (Options.OnEvict) only when it does not read (no
// progress for WriteDeadline, or more than MaxLag behind with no progress
// for WriteDeadline/4, 2.5 s at most), or when it is the one reader that
// cannot keep up: the
// rules are in pressure.go. A member that reads but falls MaxLag/2 behind
// is flagged: while any member is flagged, [Fanout.Congested] is true and
// the server stops reading senders' sockets ([Member.Hold]); when the last
// flag drops (the member is back within MaxLag/4, stopped reading for the
// stall grace, or left) every held sender is resumed through
// Options.OnResume. A flagged member whose socket is full accrues blame
// while it reads slower than the rest: four times as many members read
// four times as fast as it (its drain rate: what its full socket passes
// on per second, drain.go) as members that do not; WriteDeadline of blame
// cuts it (unless Options.SlowReader is PaceAll). Without
// Options.HoldSenders nobody is flagged and members past MaxLag are cut.
//
// Time is read from Options.Clock (the system clock by default), so the
// deadlines, the outlier rule and the pacer are tested on a manual clock.
//
// Off-loop readers that must see every member (the control plane) use a
// [Walk]: a slice of members per loop per task, from a snapshot of the
// loop's member pointers, so a loop is never held for all its members at
// once; [Fanout.Undelivered] reports what is left to write, each byte once.
//
// Frames from other nodes of a cluster enter through [Fanout.Inject] as a
// batch with no local sender, and batches of local lines leave through
// Options.OnBatch; the shard package itself knows nothing of NATS.
//
// # Concurrency rule
//
// A Member's fields and a Hub's loop-owned fields (members, outbox, log,
// cursors, held senders) are read and written only on that hub's event
// loop (the methods say "Runs on the member's loop"). A hub's inbox and
// its list of members whose sockets have room again are guarded by the
// hub's mutex, which is never held across I/O. Batches are immutable once
// sealed. The EpollWaiter's goroutine only looks up members by descriptor
// (under its own mutex) and calls [Member.Writable], which queues a task.
// Counters and gauges are atomics written by one loop each, summed by Stats;
// the count of flagged members and each hub's members per drain-rate
// bucket are atomics too, summed by every hub's sweep for its outlier check.
// The Fanout's pacer keeps its duty in an atomic read by every hub; whichever
// loop starts a round after the period revises it, under the pacer's mutex
// taken with TryLock, so no loop ever waits for another (the Meter is only
// called there, one caller at a time).
//
// Lock order: Registry shard locks, Hub.mu, the pacer's mutex and
// EpollWaiter.mu are never held together.
//
// # Bounds on memory
//
//   - Sealed batches: each held once; a hub's log holds what its slowest
//     attached member is owed, at most MaxLag (plus one round) for members
//     that do not read, and for a reading member MaxLag/2 plus what was in
//     flight when senders were held back: at most one read per sender, as
//     the server stops reading them (Stats.LogBytes, Stats.BehindBytes).
//   - Per member: a cursor, its own not-yet-passed frame offsets (bounded
//     by its frames in the log), no buffer of its own but, for a WebSocket
//     member with a control frame waiting, that one frame (127 bytes).
//   - A batch's WebSocket encoding, only once a hub with WebSocket members
//     needed it: about the size of its TCP encoding.
//   - Per hub, for the outlier rule: its members per drain-rate bucket and
//     the sum over every hub, fixed arrays of 162 counters (about 2 KiB),
//     whatever the number of members (drain.go).
//   - Inject refuses batches while a hub's inbox holds MaxInjectBacklog.
//   - Recycled batch buffers above 1 MiB are dropped, not pooled; a log
//     index that grew past 1 024 entries is dropped when the log empties.
package shard
