// Package bench is fanout's load-generating benchmark harness and the naive
// baseline server it is compared with.
//
// A run connects Clients TCP connections to a target (a fanout or baseline
// server process it starts itself, or any server at --addr that speaks the
// line protocol), makes Senders of them send fixed-size payloads carrying
// sender, sequence number and send time, and has every connection read and
// account for what it receives: loss, duplicates, per-sender order,
// delivered rate and end-to-end latency. Adversarial workloads add
// connections that never read (--stalled, never put in a reader's epoll),
// senders with no in-flight window (--blast) and one-shot bursts
// (--burst); the run reports which clients the server cut off.
//
// Concurrency rule: connections are raw sockets split between a few reader
// goroutines, each with its own epoll instance; a reader alone owns its
// connections' tallies (per-sender sequence state), partial lines and its
// latency buffer. Each sender has one writer goroutine, which alone owns
// its sequence counter and writes its connection's socket. They share only
// atomics (sent, received and acknowledged counts) and the histogram
// shards, each behind its own mutex, taken once per buffered slice of
// samples, not per line. Every blocking socket call (connect, write) is
// bounded to 200 ms slices (SO_SNDTIMEO), so each goroutine sees the run's
// end or Ctrl-C promptly, whatever the target does. Sockets are closed
// only after every reader and sender has stopped, so no descriptor number
// is reused under them. Memory: one read buffer per reader goroutine, one
// write buffer per sender, a tally per connection (8 bytes per sender).
//
// Processes: the harness starts what it measures as child processes, so
// /proc gives each its own CPU and memory: the fanout nodes (`serve`), and
// with several nodes the NATS servers (this binary in the "nats" role,
// natsproc.go). A run whose clients do not fit under one process's file
// limit runs in "worker" children (worker.go), each driving a contiguous
// range of clients; the parent alone talks to them, over their stdin and
// stdout in JSON lines, from one goroutine, plus one reader goroutine per
// worker that only relays its lines (bounded: a few messages per second
// per worker). A child ends when its stdin closes, so none outlives the
// harness; the parent waits for each and kills one that lingers.
package bench
