// Package bench is fanout's load-generating benchmark harness and the naive
// baseline server it is compared with.
//
// A run connects Clients TCP connections to a target (a fanout or baseline
// server process it starts itself, or any server at --addr that speaks the
// line protocol), makes Senders of them send fixed-size payloads carrying
// sender, sequence number and send time, and has every connection read and
// account for what it receives: loss, duplicates, per-sender order,
// delivered rate and end-to-end latency. Adversarial workloads add
// connections that never read (--stalled, never put in a reader's set),
// readers paced to a byte rate (--slow-readers, accounted apart from the
// others: their cuts, when, and what they missed), senders with no
// in-flight window (--blast) and one-shot bursts (--burst, after which a
// sender may shut its side, --close-write); the run reports which clients
// the server cut off and the lines sent in each second. With --after, a
// probe (two fresh clients, a lone line every 20 ms) times the idle
// server before the load and the server --after the load's clients left.
//
// Concurrency rule: connections are raw sockets split between a few reader
// goroutines, each waiting on its own readiness set (epoll on Linux,
// poll(2) elsewhere or with the fanout_portable tag); a reader alone owns
// its connections' tallies (per-sender sequence state), partial lines and
// its latency buffer. Each slow reader has a goroutine of its own instead
// (slow.go: woken by a ticker, it reads no more than its token bucket
// holds), with the same ownership of its one connection. Each sender has
// one writer goroutine, which alone owns
// its sequence counter and writes its connection's socket. They share only
// atomics (sent, received and acknowledged counts) and the histogram
// shards, each behind its own mutex, taken once per buffered slice of
// samples, not per line. Every blocking socket call (connect, write) is
// bounded to 200 ms slices (SO_SNDTIMEO), so each goroutine sees the run's
// end or Ctrl-C promptly, whatever the target does. Sockets are closed
// only after every reader and sender has stopped, so no descriptor number
// is reused under them. The probe's two sockets belong to the goroutine
// that runs it, but for the receiver's reads, on a goroutine of their own
// that hands latencies back under a mutex. Memory: one read buffer per
// reader goroutine and per slow reader, one write buffer per sender, a
// tally per connection (8 bytes per sender), 100 samples per probe.
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
