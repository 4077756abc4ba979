// Package server runs the fanout daemon: gnet v2 event loops whose handler
// frames each client's bytes into lines and hands them to the shard
// fan-out, fed by listeners of its own (listen.go, accept.go).
//
// It owns its configuration: Config, its defaults, the `fanout serve`
// flags that fill it (RegisterFlags, flags.go: every flag name is spelt
// once, as a flagName constant) and Validate, one check per area
// (listeners, PROXY, WebSocket, limits, the control listener, cluster),
// whose ConfigErrors name flags only through those constants. main adds
// its own flags (logging, --ready-file) and the FANOUT_* variables. The
// node-number limit and the --cluster URL check belong to cluster
// (MaxNode, CheckURLs).
//
// Concurrency rule: gnet calls the handler's OnOpen, OnTraffic and OnClose
// for a connection on that connection's event loop, and every per-connection
// field (the client struct and its shard.Member) is touched only there.
// Cross-loop work goes through shard, which hands batches between loops with
// Execute. Server-wide state is atomic (counters, the draining and failed
// flags), guarded by its own mutex (the per-IP counts, the per-loop counter
// map, both taken only on open, close and scrape; each log limiter's
// bucket), or set once before the loops start (config, logger, snowflake
// node, cluster bridge, the shard.EpollWaiter, the listeners). Goroutines
// of its own run beside the loops: one acceptor per listener, one per
// connection being handed to a loop (at most enrollSlots, 32), the idle
// sweeper, the PROXY header and WebSocket handshake sweeper, the WebSocket
// pinger, the memory reclaimer (which also reports suppressed log lines)
// and the EpollWaiter's; they reach
// connections only through tasks on their loops (gnet.Client.EnrollContext,
// shard.Fanout.Each, Backlog, Undelivered, Member.Writable,
// gnet.EventLoop.Execute for late headers) and gnet.Client.Stop; the
// cluster bridge injects other nodes' batches with shard.Fanout.Inject.
// The control plane (/connz, /varz, kick) runs on net/http's goroutines
// and reads per-connection figures, plain fields of the client struct,
// only through tasks on the connections' loops (shard.Walk, a slice of
// 1 024 connections per task, and shard.Fanout.Visit), at most 4 requests
// at once and one /connz gathering at a time (connz.go says every bound).
//
// Descriptors: a connection's --max-conns slot is taken at accept, and
// MaxConns is at most the open-file limit less fdReserve, so accept never
// runs out of descriptors because of clients (limits.go, accept.go). A
// listener that breaks or a loop that dies fails the server (Died).
//
// Back-pressure (readpause_linux.go): OnTraffic always consumes what a
// read brought, so a sender's input never piles up in gnet's inbound
// buffer beyond one partial line. While shard.Fanout.Congested, it then
// takes the sender's socket out of its loop's epoll read interest and
// parks the sender (Member.Hold); shard's OnResume puts the socket back.
// Both run on the connection's loop, where gnet itself changes that
// registration, and both use the loop's epoll descriptor, found once per
// loop (loopStats.poller, written before the loop's first connection is
// published and read only on that loop). Whole lines still buffered when a
// client closes, resets or is kicked are relayed like any other. Without a
// read pause (other systems, or a gnet that registers sockets otherwise)
// the fan-out is told not to hold senders: readers past --max-lag are cut.
//
// Kernel memory per reader (notsent_linux.go): every TCP client socket's
// unsent bytes are capped at --tcp-notsent-lowat (TCP_NOTSENT_LOWAT, set
// in OnOpen), so a reader behind holds what is in flight plus that much
// in the kernel, not a send buffer's worth of copies of the log.
//
// PROXY protocol (--proxy-protocol, proxy.go): a connection to a PROXY
// listener waits, unjoined, until its header is whole; what it sent so far
// stays in gnet's inbound buffer, at most maxProxyHeader (4 KiB) bytes
// before it is refused, and sits in its loop's pending set (loop-owned)
// until the header arrives, the header sweeper closes it, or it leaves.
//
// WebSocket (--ws-addr, ws.go, config_ws.go): the WebSocket listener's
// connections come through the same acceptor, the same descriptor budget
// and per-IP limit, to the same loops and handler; a client of it carries
// a wsConn (its handshake state, then its frame parser), reads its HTTP
// request unjoined (at most --ws-max-header bytes stay buffered; its
// loop's handshakes set, loop-owned, lets the header sweeper close it
// after --ws-handshake-timeout), then joins as a shard.WebSocket member.
// The pinger goroutine reaches members only through shard.Fanout.Each;
// control frames go out through shard.Member.SendControl, on the loop.
package server
