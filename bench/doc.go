// Package bench is fanout's load-generating benchmark harness and the naive
// baseline server it is compared with.
//
// A run connects Clients TCP connections to a target (a fanout or baseline
// server process it starts itself, or any server at --addr that speaks the
// line protocol), makes Senders of them send fixed-size payloads carrying
// sender, sequence number and send time, and has every connection read and
// account for what it receives: loss, duplicates, per-sender order,
// delivered rate and end-to-end latency.
//
// Concurrency rule: each connection has one reader goroutine, which alone
// owns that connection's tally (per-sender sequence state) and latency
// buffer; each sender has one writer goroutine, which alone owns its
// sequence counter. They share only atomics (sent and acknowledged counts
// per sender, the phase clock) and the histogram shards, each behind its own
// mutex, taken once per buffered slice of samples, not per line.
package bench
