package cluster

import (
	"bytes"
	"math"
)

// frameError says why a message's payload was refused; the zero value is
// none. Each is a reason in the log.
type frameError uint8

const (
	frameOK        frameError = iota
	frameEmpty                // no frames at all
	frameNoCRLF               // a frame not ended by "\r\n": a bare LF, or a tail without one
	frameBadID                // not "<canonical decimal ID>:" at the start
	frameWrongNode            // the ID's node bits are not the sending node's
	frameEmptyLine            // "<id>:\r\n": a node never relays an empty line
	frameTooLong              // a line longer than --max-line
)

func (e frameError) String() string {
	return [...]string{"", "no frames", "a frame without CRLF (bare LF or unterminated)",
		"a frame without a canonical decimal sender ID", "a sender ID of another node",
		"an empty line", "a line longer than --max-line"}[e]
}

// checkFrames reports whether payload is exactly what a node of number
// node publishes: one or more "<id>:<line>\r\n" frames, each ID a
// canonical decimal snowflake whose node bits are node, each line 1 to
// maxLine bytes with no LF in it. The line itself is not otherwise
// inspected: a client may send any byte but LF, a CR inside a line
// included, and its node relays it as it is, so refusing more would drop
// honest messages (and with them every other line of their batch).
// It returns the number of frames. Allocation-free.
func checkFrames(payload []byte, node, maxLine int) (int, frameError) {
	if len(payload) == 0 {
		return 0, frameEmpty
	}
	frames := 0
	for len(payload) > 0 {
		nl := bytes.IndexByte(payload, '\n')
		if nl < 1 || payload[nl-1] != '\r' {
			return frames, frameNoCRLF
		}
		frame := payload[:nl-1] // "<id>:<line>"
		payload = payload[nl+1:]
		colon := bytes.IndexByte(frame, ':')
		if colon < 0 {
			return frames, frameBadID
		}
		id, ok := parseDecimal(frame[:colon], math.MaxInt64)
		if !ok || id == 0 {
			return frames, frameBadID
		}
		if int(id>>nodeShift)&MaxNode != node {
			return frames, frameWrongNode
		}
		switch line := len(frame) - colon - 1; {
		case line == 0:
			return frames, frameEmptyLine
		case line > maxLine:
			return frames, frameTooLong
		}
		frames++
	}
	return frames, frameOK
}
