// Package server runs the fanout daemon: a gnet v2 engine whose handler
// frames each client's bytes into lines and hands them to the shard fan-out.
//
// Concurrency rule: gnet calls the handler's OnOpen, OnTraffic and OnClose
// for a connection on that connection's event loop, and every per-connection
// field (the client struct and its shard.Member) is touched only there.
// Cross-loop work goes through shard, which hands batches between loops with
// Execute. Server-wide state is atomic (counters, the draining flag), guarded
// by its own mutex (the per-IP counts, the per-loop counter map, both taken
// only on open, close and scrape), or set once before the engine starts
// (config, logger, snowflake node, cluster bridge, the shard.EpollWaiter).
// Four goroutines of its own run beside the loops: the idle sweeper, the
// PROXY header sweeper, the memory reclaimer and the EpollWaiter's; they
// reach connections only through tasks on their loops (shard.Fanout.Each,
// Backlog, Member.Writable, gnet.EventLoop.Execute for late headers) and
// gnet.Engine.Stop; the cluster bridge injects other nodes' batches
// with shard.Fanout.Inject. The control plane (/connz, /varz, kick) runs
// on net/http's goroutines and reads per-connection figures, plain fields
// of the client struct, only through tasks on the connections' loops
// (shard.Fanout.Each, Visit), each bounded by a 2 s timeout.
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
// PROXY protocol (--proxy-protocol, proxy.go): a connection to a PROXY
// listener waits, unjoined, until its header is whole; what it sent so far
// stays in gnet's inbound buffer, at most maxProxyHeader (4 KiB) bytes
// before it is refused, and sits in its loop's pending set (loop-owned)
// until the header arrives, the header sweeper closes it, or it leaves.
package server
