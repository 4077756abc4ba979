package shard

import (
	"errors"

	"github.com/panjf2000/gnet/v2"
)

// errGnetOwnsOutput: gnet has bytes of its own queued for the connection
// (a last "ERR …" line before a close), so writing past them would reorder
// the stream.
var errGnetOwnsOutput = errors.New("shard: connection is closing (gnet holds its output)")

// A connection's Sink writes to its socket directly, so that what the
// socket does not take stays in the shared log, once, instead of being
// copied into gnet's per-connection outbound buffer. A server gives its
// per-connection struct the Sink methods with WriteConn (and Fd and
// UnsentConn for the waiter and the sweep), with no allocation of their
// own; they run only on the connection's own loop. How the bytes reach the
// socket is the platform's (sink_linux.go: one writev; sink_portable.go:
// a write per buffer).

// WriteConn writes bs to c's socket, without blocking, as much as it takes
// now. Runs on c's loop.
func WriteConn(c gnet.Conn, bs [][]byte) (int, error) {
	if c.OutboundBuffered() > 0 {
		return 0, errGnetOwnsOutput
	}
	return writeSocket(c.Fd(), bs)
}
