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
// node already has its number, and refuses to start if one answers (see
// control.go). The question waits at most NodeCheckWait: a subscriber that
// never answers (a node that died without closing its connection, or
// anyone squatting on the subject) cannot keep a node from starting.
//
// Whoever can publish on the subject is not trusted (see receive): a
// message is delivered only if its headers are canonical (one spelling per
// number, node numbers 0..1023), every frame is "<id>:<line>\r\n" with
// the origin's node bits in the ID and the line within --max-line, and,
// with a cluster key (mac.go), it carries a valid HMAC-SHA256. Anything
// else is dropped whole and counted. The sequence state is built so that
// no forged message can hide another node's real ones (seq.go).
//
// Delivery across nodes is at-most-once, like core NATS: lines published
// while the connection is down wait in nats.go's bounded reconnect buffer
// and are dropped past it; lines other nodes published during the outage
// never reach this node. Local delivery never depends on NATS.
//
// Every message also carries its origin's sequence header (see seq.go):
// the origin's run (its start time), the message's number and how many lines the
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
// length, NATS holds at most PendingBytes for this node, local delivery
// refuses injected batches while its event loops are far behind, and the
// per-origin table cannot grow past its 1024 slots.
//
// It also owns what the rest of the module shares about a domain: the
// node-number limit (MaxNode, the snowflake's 10 node bits) that --node,
// the headers and the per-origin table obey, and the --cluster URL check
// (CheckURLs) that `fanout serve` and `fanout bench` both run.
//
// Concurrency rule: Offer runs on event loops and only copies the batch
// into a bounded channel (never blocks on it; a full channel drops and
// counts); it holds queueMu's read lock, which Close takes to write only
// while it closes the channel.
// One publisher goroutine owns publishing, the outgoing sequence and its
// MAC state; nats.go's subscription goroutine owns receiving, the
// per-origin sequence state (a fixed table, one slot per node number: at
// most 1024 entries of about 600 bytes, whatever arrives) and its own MAC
// state, and injects batches in arrival order; the control subscription's
// goroutine answers node-number checks with a MAC state of its own.
// Counters are atomic.
package cluster
