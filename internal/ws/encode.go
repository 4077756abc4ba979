package ws

import (
	"encoding/binary"
	"strconv"
	"unicode/utf8"
)

// Opcode is a frame's opcode (RFC 6455 5.2).
type Opcode uint8

// Opcodes. The others are reserved and refused ([ErrBadOpcode]).
const (
	OpContinuation Opcode = 0x0
	OpText         Opcode = 0x1
	OpBinary       Opcode = 0x2
	OpClose        Opcode = 0x8
	OpPing         Opcode = 0x9
	OpPong         Opcode = 0xA
)

func (op Opcode) isControl() bool { return op&0x8 != 0 }

// MaxControlPayload is the longest payload a control frame may carry.
const MaxControlPayload = 125

// MaxFrameHeader is the longest header a frame can have: 2 bytes, an 8-byte
// length and a 4-byte mask key. Server frames have no mask key: at most 10.
const MaxFrameHeader = 14

// FrameHeaderLen is the size of the header [AppendFrameHeader] writes for
// a payload of length bytes: 2, 4 or 10.
func FrameHeaderLen(length int) int {
	switch {
	case length <= 125:
		return 2
	case length <= 0xFFFF:
		return 4
	default:
		return 10
	}
}

// AppendFrameHeader appends the header of an unmasked, final (FIN) frame of
// length payload bytes, the form a server sends, and returns the extended
// buffer. The length takes the shortest encoding.
func AppendFrameHeader(b []byte, op Opcode, length int) []byte {
	b0 := 0x80 | byte(op)
	switch {
	case length <= 125:
		return append(b, b0, byte(length))
	case length <= 0xFFFF:
		return binary.BigEndian.AppendUint16(append(b, b0, 126), uint16(length))
	default:
		return binary.BigEndian.AppendUint64(append(b, b0, 127), uint64(length))
	}
}

// AppendLine appends the one message a WebSocket client receives for a
// relayed line: "<senderID>:<line>", as a text message when line is valid
// UTF-8 and a binary one otherwise (a TCP client may send any bytes, and a
// browser fails the whole connection on a text frame that is not UTF-8).
// The ID is written in decimal, as on TCP. Nothing is allocated.
func AppendLine(b []byte, senderID uint64, line []byte) []byte {
	var digits [20]byte
	id := strconv.AppendUint(digits[:0], senderID, 10)
	op := OpText
	if !utf8.Valid(line) {
		op = OpBinary
	}
	b = AppendFrameHeader(b, op, len(id)+1+len(line))
	b = append(b, id...)
	b = append(b, ':')
	return append(b, line...)
}

// AppendMessage appends payload as one unmasked, unfragmented message: a
// text message when payload is valid UTF-8, a binary one otherwise. The
// fan-out encodes each relayed "<senderID>:<line>" with it, once per batch.
func AppendMessage(b, payload []byte) []byte {
	op := OpText
	if !utf8.Valid(payload) {
		op = OpBinary
	}
	b = AppendFrameHeader(b, op, len(payload))
	return append(b, payload...)
}

// AppendClose appends a close frame with code and reason. The reason is cut
// to what fits a control frame (123 bytes), at a rune boundary so that it
// stays valid UTF-8.
func AppendClose(b []byte, code StatusCode, reason string) []byte {
	const maxReason = MaxControlPayload - 2
	if len(reason) > maxReason {
		cut := maxReason
		for cut > 0 && !utf8.RuneStart(reason[cut]) {
			cut--
		}
		reason = reason[:cut]
	}
	b = AppendFrameHeader(b, OpClose, 2+len(reason))
	b = binary.BigEndian.AppendUint16(b, uint16(code))
	return append(b, reason...)
}

// AppendPing appends a ping frame; payload is cut to 125 bytes.
func AppendPing(b []byte, payload []byte) []byte {
	return appendControl(b, OpPing, payload)
}

// AppendPong appends the pong that answers a ping with payload (the same
// payload, as RFC 6455 5.5.3 requires).
func AppendPong(b []byte, payload []byte) []byte {
	return appendControl(b, OpPong, payload)
}

func appendControl(b []byte, op Opcode, payload []byte) []byte {
	if len(payload) > MaxControlPayload {
		payload = payload[:MaxControlPayload]
	}
	b = AppendFrameHeader(b, op, len(payload))
	return append(b, payload...)
}
