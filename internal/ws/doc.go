// Package ws is fanout's WebSocket codec (RFC 6455, version 13), made for an
// event loop: every parser works on whatever bytes a connection has buffered
// (what gnet's Peek shows), reports "need more", "done, n bytes consumed" or
// an error carrying the answer to give, and never blocks, reads a socket or
// assumes a whole request or frame in one read. It imports no networking
// package; the server drives it.
//
// # What it holds
//
//   - [Upgrader]: listener-wide, read-only settings (header cap, [OriginPolicy]).
//     [Upgrader.Parse] reads an HTTP/1.1 request incrementally against a
//     [HandshakeState] of 4 bytes per connection and recognises GET /ws (an
//     upgrade, answered by [AppendUpgradeResponse]) and GET / (the page);
//     anything else is an [HTTPError] for [AppendErrorResponse].
//   - [Parser]: the per-connection frame reader for client→server frames, 32
//     bytes while idle. [Parser.Next] takes one whole frame from the front of
//     the buffer, unmasks it in place and returns a whole message, a control
//     frame, or a [*CloseError] naming the close code to send (1002, 1007,
//     1009). [NextLine] cuts a message into lines by the TCP rules.
//   - Encoders for server→client frames (unmasked): [AppendFrameHeader],
//     [AppendLine] ("<senderID>:<line>" as one text message, binary when the
//     line is not UTF-8), [AppendClose], [AppendPing], [AppendPong].
//
// # Why a codec of its own
//
// The well-kept Go libraries (gorilla/websocket, coder/websocket,
// gobwas/ws's Upgrader and wsutil) read from a blocking io.Reader: a frame
// or a request cut in two by the network is a read that waits, which an
// event loop must never do; fed a bytes.Reader they fail on a partial frame
// instead (io.ErrUnexpectedEOF) and say nothing of where a retry may start.
// gobwas/ws's pure helpers (Cipher for masking, header writers) cover the
// least of the work: a 10-line XOR and a 14-byte header. What must be right
// (frame validation, the continuation rules, the message bound checked from
// a header before its payload is buffered, UTF-8 checked across fragments,
// close codes, and the handshake's strict checks) would be ours whatever we
// imported. The standard library does the cryptography (crypto/sha1,
// encoding/base64) and UTF-8 (unicode/utf8). The handshake parser is
// checked against net/http's request parser and the frame codec against
// gorilla/websocket and coder/websocket in this package's tests.
//
// Permessage-deflate and other extensions are not offered: a request that
// asks for them gets a plain WebSocket (the 101 names no extension), as
// RFC 6455 9.1 allows. Subprotocols are ignored the same way.
//
// # Use on an event loop
//
// A connection keeps a HandshakeState until the upgrade, then a Parser.
// Each traffic event looks at everything buffered (gnet: Peek(-1)) and
// discards only what was consumed, never 0 bytes (gnet's Discard(n) with
// n <= 0 drops everything buffered):
//
//	// Before the upgrade:
//	req, n, err := upgrader.Parse(buf, &c.handshake)
//	switch {
//	case err != nil: // answer AppendErrorResponse(he), log he.Reason, close once written
//	case n == 0:     // wait for more; a handshake timer bounds the wait
//	case req.Target == ws.TargetPage: // answer the page, close once written
//	default:         // answer AppendUpgradeResponse(&req), discard n, read frames from buf[n:]
//	}
//
//	// After it:
//	used := 0
//	for !c.held { // back-pressure is decided before a frame is parsed
//		m, n, err := c.parser.Next(buf[used:])
//		if err != nil { // *CloseError: send AppendClose(ce.Code, ce.Reason), close, log
//			break
//		}
//		if n == 0 {
//			break // an incomplete frame stays buffered, masked as it came
//		}
//		// OpText/OpBinary: publish each NextLine of m.Payload
//		// OpPing: owe a pong with m.Payload; OpClose: answer, close
//		used += n
//	}
//	if used > 0 {
//		c.Discard(used)
//	}
//
// m.Payload is valid until the bytes are discarded or Next is called
// again: lines are published (copied into the outbox) before that.
//
// # Concurrency rule
//
// An [Upgrader] and an [OriginPolicy] are read-only once built and safe for
// concurrent use. A [HandshakeState] and a [Parser] belong to one connection
// and are used only by the goroutine that owns it (its event loop); they are
// not safe for concurrent use. The encoders are pure functions. The
// package-level pool of reassembly buffers is a sync.Pool.
//
// # Bounds on memory
//
//   - A request's head is at most Upgrader.MaxHeaderBytes (default 8 KiB); the
//     bytes stay in the caller's buffer, the parser keeps an offset.
//   - A message is at most Parser's maxMessage bytes. A frame whose header
//     says it would pass the bound is refused (1009) before its payload is
//     waited for, so a whole frame buffered by the caller is at most
//     maxMessage+14 bytes.
//   - A fragmented message is reassembled in a buffer taken from a pool when
//     its first non-empty fragment arrives and given back when the next call
//     after its last fragment starts (or by Release): it starts at 4 KiB,
//     grows to the message's size but never past maxMessage, and is kept in
//     the pool only up to 64 KiB. An unfragmented
//     message is not copied: its payload is unmasked where it lies.
package ws
