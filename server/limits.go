package server

import (
	"github.com/fanout/fanout/internal/sysutil"
	"github.com/fanout/fanout/metrics"
)

// fdReserve is how many descriptors the server keeps for everything but
// its client connections, so that accept never finds the table full:
// sysutil.FDReserve for what the process opens on its own (stdio, the Go
// runtime's poller, the write waiter, /proc reads, the ready file, NATS
// and its DNS look-ups), the metrics listener and its connection cap, two
// for each connection being handed to a loop, and two per event loop
// (epoll and eventfd) and per listener (itself, and a connection being
// refused).
func fdReserve(cfg Config, listeners int) int {
	return sysutil.FDReserve + 1 + metrics.MaxConns + 2*enrollSlots + 2*cfg.Loops + 2*listeners
}

// fileRoom is how many connections the process's open-file limit leaves
// room for: the soft limit less fdReserve, or 1<<20 when the limit is
// unlimited or cannot be read. limit is the soft limit (0: unknown).
func fileRoom(cfg Config, listeners int) (room int, limit uint64) {
	limit = sysutil.FileLimit()
	if limit == 0 || limit > 1<<30 {
		return 1 << 20, limit
	}
	return int(limit) - fdReserve(cfg, listeners), limit
}

// resolveMaxConns fills MaxConns 0 with what the file limit allows, and
// refuses a MaxConns the limit cannot hold: past it accept would fail
// (EMFILE) instead of clients being told "ERR server full".
func resolveMaxConns(cfg *Config, listeners int) error {
	room, limit := fileRoom(*cfg, listeners)
	switch {
	case room < 1:
		return bad(flagMaxConns, "the open-file limit (%d) leaves no room for connections: the server keeps %d descriptors for itself; "+
			"raise the limit (ulimit -n, LimitNOFILE)", limit, fdReserve(*cfg, listeners))
	case cfg.MaxConns == 0:
		cfg.MaxConns = room
	case cfg.MaxConns > room:
		return bad(flagMaxConns, "%d connections do not fit the open-file limit of %d: the server keeps %d descriptors for itself, "+
			"so at most %d; raise the limit (ulimit -n, LimitNOFILE) or lower --max-conns",
			cfg.MaxConns, limit, fdReserve(*cfg, listeners), room)
	}
	return nil
}
