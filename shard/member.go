package shard

import (
	"context"
	"strconv"

	"github.com/panjf2000/gnet/v2"
)

// Sink is the write side of one connection. Its methods are called only on
// the connection's own event loop.
type Sink interface {
	// Writev writes, without blocking, as much of bs (in order) as the
	// connection takes now and returns how many bytes it took. A short
	// count with a nil error means the connection is full for now; an
	// error means it is broken or closing and takes nothing more.
	Writev(bs [][]byte) (int, error)
}

// unsentSink is a Sink that can tell how much its socket has not yet sent
// (with UnsentConn).
type unsentSink interface{ Unsent() int }

// fdSink is a Sink with a socket the EpollWaiter can watch.
type fdSink interface{ Fd() int }

// Waiter tells the fan-out when a full connection can take more bytes.
type Waiter interface {
	// Wait arranges for m.Writable to be called, once, from any
	// goroutine, when m's connection can take more bytes (or has failed).
	// Runs on m's loop.
	Wait(m *Member) error
	// Forget drops what Wait arranged for m; m is leaving. Runs on m's
	// loop, before the connection's descriptor is closed.
	Forget(m *Member)
}

// Executor runs tasks on one event loop; gnet.EventLoop satisfies it.
// Execute must be safe for concurrent use and must run tasks one at a time,
// in order, on the loop.
type Executor interface {
	Execute(ctx context.Context, r gnet.Runnable) error
}

// Member is one connection as the fan-out sees it. All fields but ID, Conn
// and Value are owned by the member's event loop.
type Member struct {
	ID    int64 // snowflake ID, also the frame prefix
	Conn  Sink  // written only on the member's loop
	Value any   // the server's per-connection state; never touched here

	// Laid out to keep an idle connection small: one allocation, the
	// prefix inline, 32-bit fields where they suffice.
	hub       *Hub     // the hub of the member's event loop
	cur       cursor   // its place in the hub's log (log.go)
	ctrl      *control // a WebSocket control frame waiting to be written (write.go); nil: none
	prefix    [21]byte // "<ID>:" encoded once (19 digits, a sign, ':')
	prefixLen uint8    // bytes of prefix in use
	enc       Encoding // how its stream is framed; fixed before it joins
	gone      bool     // set once the member has left
	blocked   bool     // the socket was full; waiting for the Waiter
	flagged   bool     // a reader this far behind that it holds senders back
	held      bool     // on hub.held: a sender whose socket is not read while back-pressure lasts
	drain     uint8    // the rate bucket its reader reads at, as measured at drainAt (drain.go)
	pubBucket uint8    // the rate bucket publishRates last counted it in; notCounted: none
	fullKnown bool     // the unsent count was known at fullSince
	pos       int32    // index in hub.members; -1 once the member has left
	waitFD    int32    // the descriptor the EpollWaiter watches for it; -1 if none
	unsent    int32    // what the socket held unsent at the last look (probe); -1 when not looked at

	progress int64  // Unix nanos of the last write that took bytes (or of falling behind); 0 when caught up
	moved    int64  // Unix nanos when its socket last took bytes (writes or probes); flags need it recent
	blame    int64  // nanoseconds of holding senders back while the others kept up, shed over time (pressure.go)
	blameAt  int64  // Unix nanos blame was last accounted to
	sent     uint64 // bytes its socket took from the fan-out

	fullSince  int64 // Unix nanos a write found its socket full, with no room found since; 0: none (drain.go)
	fullPassed int64 // what the socket had passed on at fullSince: sent less unsent
	drainAt    int64 // Unix nanos drain was last measured; 0: never
}

// NewMember returns a member for the connection with the given ID. It
// receives nothing until it joins a hub.
func NewMember(id int64, conn Sink) *Member {
	m := &Member{ID: id, Conn: conn, pos: -1, waitFD: -1, unsent: -1, pubBucket: notCounted}
	m.prefixLen = uint8(len(append(strconv.AppendInt(m.prefix[:0], id, 10), ':')))
	return m
}

// Publish queues line for every other member of the fan-out, as
// "<ID>:<line>\r\n". line is copied; it may be reused when Publish returns.
// Runs on the member's loop.
func (m *Member) Publish(line []byte) {
	if m.hub == nil || m.gone {
		return
	}
	m.hub.publish(m, line)
}

// Leave removes the member from its hub and the registry; it receives
// nothing more. Leaving twice is a no-op. Runs on the member's loop.
func (m *Member) Leave() {
	if m.hub == nil {
		return
	}
	m.hub.leave(m)
}

// Writable tells the member's hub that its connection can take more bytes.
// Safe for concurrent use; the Waiter calls it.
func (m *Member) Writable() {
	if h := m.hub; h != nil {
		h.wake(m)
	}
}

// Hold parks a sender whose socket the server stopped reading because the
// fan-out is congested ([Fanout.Congested]); Options.OnResume is called
// for it, on its loop, once the congestion lifts. Runs on the member's loop.
func (m *Member) Hold() {
	h := m.hub
	if h == nil || m.gone || m.held {
		return
	}
	m.held = true
	h.held = append(h.held, m)
	h.f.heldNow.Add(1)
	if !h.f.Congested() {
		h.releaseHeld() // lifted between the caller's check and now
	}
}

// BytesOut returns the bytes the fan-out has written to the member's
// socket. Runs on the member's loop.
func (m *Member) BytesOut() uint64 { return m.sent }

// Lag returns how many bytes of the stream the member has yet to be
// written: how far behind the head of its hub's log it is.
// Runs on the member's loop.
func (m *Member) Lag() int64 {
	if m.hub == nil {
		return 0
	}
	return m.hub.log.behind(&m.cur)
}
