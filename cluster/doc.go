// Package cluster joins fanout nodes into one broadcast domain through
// NATS (github.com/nats-io/nats.go), not a protocol of our own.
//
// Each node publishes every batch of lines its own clients sent, as one
// NATS message holding the encoded frames ("<id>:<line>\r\n" …), on one
// subject, and hands every batch it receives there to its local fan-out.
// The node's connection is opened with NoEcho, and each message carries its
// origin node in a header, so a node never re-delivers its own lines.
// Sender IDs are snowflakes, unique across the domain as long as node
// numbers are: a joining node asks on a control subject whether a live
// node already has its number, and refuses to start if one answers, or if
// a node subscribed there does not answer in time (a hung node keeps its
// number until NATS drops its connection).
//
// Delivery across nodes is at-most-once, like core NATS: lines published
// while the connection is down wait in nats.go's bounded reconnect buffer
// and are dropped past it; lines other nodes published during the outage
// never reach this node. Local delivery never depends on NATS.
//
// Every message also carries its origin's sequence header (see seq.go):
// the origin's incarnation, the message's number and how many lines the
// origin published before it. A receiver therefore counts exactly how many
// lines it missed from each origin (an outage, a NATS drop) and drops a
// message it has already delivered, so a reconnect or a NATS cluster
// re-routing never delivers a line twice.
//
// The node connects to the URLs it is given in their order (no shuffle):
// list the nearest NATS server first and the rest of the cluster after it;
// nats.go moves to the next one by itself when its server goes away, and
// also learns the cluster's other servers from the one it reached.
//
// Memory stays bounded on both sides: the publish queue has a fixed
// length, NATS holds at most PendingBytes for this node, and local delivery
// refuses injected batches while its event loops are far behind.
//
// Concurrency rule: Offer runs on event loops and only copies the batch
// into a bounded channel (never blocks on it; a full channel drops and
// counts); it holds queueMu's read lock, which Close takes to write only
// while it closes the channel.
// One publisher goroutine owns publishing and the outgoing sequence;
// nats.go's subscription goroutine owns receiving, the per-origin sequence
// state (one small entry per origin node number seen: at most 1024, since
// an origin that is not a node number is not tracked) and
// injects batches in arrival order. Counters are atomic.
package cluster
