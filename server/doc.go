// Package server runs the fanout daemon: a gnet v2 engine whose handler
// frames each client's bytes into lines and hands them to the shard fan-out.
//
// Concurrency rule: gnet calls the handler's OnOpen, OnTraffic and OnClose
// for a connection on that connection's event loop, and every per-connection
// field (the client struct and its shard.Member) is touched only there.
// Cross-loop work goes through shard, which hands batches between loops with
// Execute. Server-wide state is atomic (counters, the draining flag) or set
// once before the engine starts (config, logger, snowflake node). Shutdown
// runs on the caller's goroutine and talks to the loops only through
// shard.Fanout.Backlog and gnet.Engine.Stop.
package server
