package ws

import (
	"encoding/binary"
	"sync"
	"unicode/utf8"
)

// Message is what one call of [Parser.Next] took from the buffer.
type Message struct {
	// Op is OpText or OpBinary for a whole data message, OpPing, OpPong or
	// OpClose for a control frame, and 0 when the frame needs nothing done
	// (a fragment of a message still in flight was stored).
	Op Opcode
	// Payload is unmasked. For a data message it is the whole message;
	// for a ping, what the pong must carry; for a close, the reason. It
	// aliases the caller's buffer or the parser's reassembly buffer: valid
	// until the caller discards those bytes or calls Next again.
	Payload []byte
	// Code is the peer's close code (OpClose only), CloseNoStatus when the
	// close frame carried none.
	Code StatusCode
}

// Parser reads client→server frames from the front of a connection's
// buffered input. It keeps what a message split into fragments needs
// between calls and nothing else: 32 bytes while no fragmented message is
// in flight. The zero Parser refuses every non-empty data message; make
// one with [NewParser]. Runs on the connection's own goroutine or event loop; not
// safe for concurrent use.
type Parser struct {
	maxMessage int       // longest message payload accepted, fragments summed
	msgLen     int       // payload bytes of the fragmented message in flight
	reasm      *reasmBuf // that message's unmasked payload so far; nil while none (or all empty)
	fragOp     Opcode    // OpText or OpBinary while a fragmented message is in flight, else 0
	text       utf8State // the UTF-8 check of a fragmented text message so far
	closed     bool      // the peer's close frame has been read
}

// NewParser returns a Parser that accepts messages of up to maxMessage
// payload bytes, however they are fragmented.
func NewParser(maxMessage int) Parser {
	return Parser{maxMessage: maxMessage}
}

// Next takes the first frame from buf, which holds what the connection has
// buffered (gnet's Peek). It returns n == 0 and no error while buf does not
// yet hold a whole frame: the caller keeps the bytes and calls again when
// more arrive. Otherwise n is the size of that one frame: the caller acts
// on m and then discards n bytes (only whole frames are ever consumed).
// A violation of RFC 6455 or of the bound is a [*CloseError] naming the
// close code to send, found as soon as the bytes that show it are there:
// a frame's header is judged before its payload is waited for.
//
// Next unmasks a whole frame in place, so buf[:n] is changed once n > 0
// comes back: the caller must discard those bytes, never parse them again.
// Bytes past n are untouched (after an error, the failed frame's may not
// be: the connection is failing). A caller that may want to leave input unread
// (back-pressure) decides so before calling Next, not after.
//
// After an OpClose the caller answers with a close frame and stops reading;
// any later frame is [ErrFrameAfterClose]. Allocates nothing, except a
// reassembly buffer taken from a pool while a fragmented message is in
// flight.
func (p *Parser) Next(buf []byte) (m Message, n int, err error) {
	if p.fragOp == 0 && p.reasm != nil {
		p.releaseBuffer() // the last fragmented message was handed out by the previous call
	}
	if len(buf) < 2 {
		return Message{}, 0, nil
	}
	if p.closed {
		return Message{}, 0, ErrFrameAfterClose
	}
	b0, b1 := buf[0], buf[1]
	fin := b0&0x80 != 0
	op := Opcode(b0 & 0x0F)
	switch {
	case b0&0x70 != 0:
		return Message{}, 0, ErrReservedBits
	case b1&0x80 == 0:
		return Message{}, 0, ErrUnmasked
	}
	switch op {
	case OpText, OpBinary:
		if p.fragOp != 0 {
			return Message{}, 0, ErrExpectedContinuation
		}
	case OpContinuation:
		if p.fragOp == 0 {
			return Message{}, 0, ErrUnexpectedContinuation
		}
	case OpClose, OpPing, OpPong:
		if !fin {
			return Message{}, 0, ErrControlFragmented
		}
		if b1&0x7F > MaxControlPayload {
			return Message{}, 0, ErrControlTooLong
		}
	default:
		return Message{}, 0, ErrBadOpcode
	}

	hdr := 2
	length := uint64(b1 & 0x7F)
	switch length {
	case 126:
		if len(buf) < 4 {
			return Message{}, 0, nil
		}
		length = uint64(binary.BigEndian.Uint16(buf[2:]))
		if length < 126 {
			return Message{}, 0, ErrLengthNotMinimal
		}
		hdr = 4
	case 127:
		if len(buf) >= 3 && buf[2]&0x80 != 0 {
			return Message{}, 0, ErrLengthTopBit
		}
		if len(buf) < 10 {
			return Message{}, 0, nil
		}
		length = binary.BigEndian.Uint64(buf[2:])
		if length <= 0xFFFF {
			return Message{}, 0, ErrLengthNotMinimal
		}
		hdr = 10
	}
	// The bound, from the header alone: a message past it is never waited for.
	if !op.isControl() && length > uint64(p.maxMessage-p.msgLen) {
		return Message{}, 0, ErrMessageTooBig
	}
	hdr += 4                   // the mask key
	total := hdr + int(length) // length <= maxMessage (or 125): no overflow
	if len(buf) < total {
		return Message{}, 0, nil
	}
	key := [4]byte(buf[hdr-4 : hdr])
	payload := buf[hdr:total]

	switch op {
	case OpPing, OpPong:
		maskBytes(payload, payload, key)
		return Message{Op: op, Payload: payload}, total, nil
	case OpClose:
		maskBytes(payload, payload, key)
		m, err = parseClose(payload)
		if err != nil {
			return Message{}, 0, err
		}
		p.closed = true
		p.releaseBuffer() // a message cut short by a close is dropped
		p.fragOp, p.msgLen = 0, 0
		return m, total, nil
	case OpText, OpBinary:
		if fin { // a whole message in one frame: no copy
			maskBytes(payload, payload, key)
			if op == OpText && !utf8.Valid(payload) {
				return Message{}, 0, ErrInvalidUTF8
			}
			return Message{Op: op, Payload: payload}, total, nil
		}
		p.fragOp, p.msgLen, p.text = op, 0, utf8Boundary
	}
	// A fragment: the first, a middle one or the last.
	p.msgLen += len(payload)
	if err := p.store(payload, key); err != nil {
		return Message{}, 0, err
	}
	if !fin {
		return Message{}, total, nil
	}
	if p.fragOp == OpText && p.text != utf8Boundary {
		return Message{}, 0, ErrInvalidUTF8 // ends inside a rune
	}
	m = Message{Op: p.fragOp}
	if p.reasm != nil {
		m.Payload = p.reasm.b // given back to the pool when the next call starts
	}
	p.fragOp, p.msgLen = 0, 0
	return m, total, nil
}

// store unmasks a fragment's payload into the reassembly buffer and checks
// what it adds to a text message.
func (p *Parser) store(payload []byte, key [4]byte) error {
	if len(payload) == 0 {
		return nil
	}
	if p.reasm == nil {
		p.reasm = reasmPool.Get().(*reasmBuf)
		p.reasm.b = p.reasm.b[:0]
	}
	b := p.reasm.b
	old := len(b)
	if need := old + len(payload); need > cap(b) {
		// p.msgLen <= maxMessage was checked: the buffer never outgrows the bound.
		grown := make([]byte, old, min(max(2*cap(b), need), p.maxMessage))
		copy(grown, b)
		b = grown
	}
	b = b[:old+len(payload)]
	maskBytes(b[old:], payload, key)
	p.reasm.b = b
	if p.fragOp == OpText {
		if p.text = p.text.feed(b[old:]); p.text == utf8Invalid {
			return ErrInvalidUTF8
		}
	}
	return nil
}

// Release gives back the reassembly buffer of a message still in flight.
// Call it when the connection closes, whether cleanly or after an error
// from Next; the Parser stays usable.
func (p *Parser) Release() {
	p.releaseBuffer()
	p.fragOp, p.msgLen = 0, 0
}

func (p *Parser) releaseBuffer() {
	if p.reasm == nil {
		return
	}
	if cap(p.reasm.b) <= maxPooledReassembly {
		p.reasm.b = p.reasm.b[:0]
		reasmPool.Put(p.reasm)
	}
	p.reasm = nil
}

// parseClose reads a close frame's payload: nothing, or a code a peer may
// send followed by a UTF-8 reason.
func parseClose(payload []byte) (Message, error) {
	switch len(payload) {
	case 0:
		return Message{Op: OpClose, Code: CloseNoStatus}, nil
	case 1:
		return Message{}, ErrBadClosePayload
	}
	code := StatusCode(binary.BigEndian.Uint16(payload))
	if !code.validReceived() {
		return Message{}, ErrBadCloseCode
	}
	reason := payload[2:]
	if !utf8.Valid(reason) {
		return Message{}, ErrCloseReasonUTF8
	}
	return Message{Op: OpClose, Code: code, Payload: reason}, nil
}

// reasmBuf boxes a reassembly buffer so that the pool holds a pointer (a
// slice put in a sync.Pool would allocate its header each time).
type reasmBuf struct{ b []byte }

const (
	initialReassembly   = 4 << 10  // a pooled buffer's first size
	maxPooledReassembly = 64 << 10 // larger buffers are left to the GC, not kept
)

var reasmPool = sync.Pool{New: func() any {
	return &reasmBuf{b: make([]byte, 0, initialReassembly)}
}}

// maskBytes writes src XOR the mask key into dst (len(dst) >= len(src));
// dst may be src. A payload's masking starts at key[0] (RFC 6455 5.3).
func maskBytes(dst, src []byte, key [4]byte) {
	k32 := uint64(binary.LittleEndian.Uint32(key[:]))
	k64 := k32 | k32<<32
	i := 0
	for ; i+8 <= len(src); i += 8 {
		binary.LittleEndian.PutUint64(dst[i:], binary.LittleEndian.Uint64(src[i:])^k64)
	}
	for ; i < len(src); i++ {
		dst[i] = src[i] ^ key[i&3]
	}
}
