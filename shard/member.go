package shard

import (
	"context"
	"strconv"

	"github.com/panjf2000/gnet/v2"
)

// Sink is the write side of one connection; gnet.Conn satisfies it.
// Its methods are called only on the connection's own event loop.
type Sink interface {
	Write(p []byte) (int, error)
	Writev(bs [][]byte) (int, error)
	OutboundBuffered() int
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

	hub     *Hub   // the hub of the member's event loop
	prefix  []byte // "<ID>:" encoded once at join
	pos     int    // index in hub.members; -1 once the member has left
	evicted bool   // set once the member is cut off; no more writes
	gone    bool   // set once the member has left
	mark    uint64 // the delivery round in which skips is valid
	skips   []span // this member's own frames in round mark
}

// span is a half-open byte range [start, end).
type span struct{ start, end int }

// NewMember returns a member for the connection with the given ID. It
// receives nothing until it joins a hub.
func NewMember(id int64, conn Sink) *Member {
	m := &Member{ID: id, Conn: conn, pos: -1}
	m.prefix = append(strconv.AppendInt(make([]byte, 0, 21), id, 10), ':')
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
