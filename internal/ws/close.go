package ws

import "strconv"

// StatusCode is a close code (RFC 6455 7.4).
type StatusCode uint16

// Close codes fanout sends or recognises.
const (
	CloseNormal          StatusCode = 1000 // the purpose of the connection is fulfilled
	CloseGoingAway       StatusCode = 1001 // the server is draining (SIGTERM)
	CloseProtocolError   StatusCode = 1002 // a frame broke RFC 6455
	CloseUnsupportedData StatusCode = 1003
	CloseNoStatus        StatusCode = 1005 // reported for a close frame without a code; never sent
	CloseInvalidPayload  StatusCode = 1007 // a text message that is not UTF-8
	ClosePolicyViolation StatusCode = 1008 // slow consumer, flood control
	CloseMessageTooBig   StatusCode = 1009 // a message or line past --max-line
	CloseInternalError   StatusCode = 1011
)

// validReceived reports whether a peer may send code in a close frame:
// the codes RFC 6455 7.4.1 defines for use in a frame, the three IANA
// registered since (1012-1014), and the ranges for libraries (3000-3999)
// and applications (4000-4999). 1004-1006 and 1015 must never be sent.
func (code StatusCode) validReceived() bool {
	switch {
	case code >= 1000 && code <= 1003:
		return true
	case code >= 1007 && code <= 1014:
		return true
	case code >= 3000 && code <= 4999:
		return true
	}
	return false
}

// CloseError is a client's protocol violation: the connection is to be
// closed with Code, and Reason is the close frame's reason and the log's.
// Every CloseError the package returns is one of the Err variables below,
// so they can be compared with errors.Is and returning one allocates nothing.
type CloseError struct {
	Code   StatusCode
	Reason string
}

func (e *CloseError) Error() string {
	return "ws: " + e.Reason + " (close " + strconv.Itoa(int(e.Code)) + ")"
}

// Frame errors returned by [Parser.Next]. The Reason of each is short
// enough (< 123 bytes) for a close frame.
var (
	// ErrUnmasked: a client frame without the mask bit (RFC 6455 5.1).
	ErrUnmasked = &CloseError{CloseProtocolError, "unmasked client frame"}
	// ErrReservedBits: RSV1-3 set, and no extension was negotiated.
	ErrReservedBits = &CloseError{CloseProtocolError, "reserved bits set"}
	// ErrBadOpcode: a reserved opcode (3-7, 0xB-0xF).
	ErrBadOpcode = &CloseError{CloseProtocolError, "reserved opcode"}
	// ErrControlTooLong: a control frame with more than 125 bytes of payload.
	ErrControlTooLong = &CloseError{CloseProtocolError, "control frame over 125 bytes"}
	// ErrControlFragmented: a control frame without FIN.
	ErrControlFragmented = &CloseError{CloseProtocolError, "fragmented control frame"}
	// ErrLengthTopBit: a 64-bit payload length with its most significant bit set.
	ErrLengthTopBit = &CloseError{CloseProtocolError, "64-bit length with top bit set"}
	// ErrLengthNotMinimal: a length not in the shortest of its encodings.
	ErrLengthNotMinimal = &CloseError{CloseProtocolError, "length not minimally encoded"}
	// ErrUnexpectedContinuation: a continuation frame with no message to continue.
	ErrUnexpectedContinuation = &CloseError{CloseProtocolError, "continuation without a message"}
	// ErrExpectedContinuation: a text or binary frame inside a fragmented message.
	ErrExpectedContinuation = &CloseError{CloseProtocolError, "new message inside a fragmented one"}
	// ErrBadClosePayload: a close frame with a 1-byte payload.
	ErrBadClosePayload = &CloseError{CloseProtocolError, "close payload of 1 byte"}
	// ErrBadCloseCode: a close code a peer may not send.
	ErrBadCloseCode = &CloseError{CloseProtocolError, "invalid close code"}
	// ErrCloseReasonUTF8: a close reason that is not UTF-8.
	ErrCloseReasonUTF8 = &CloseError{CloseProtocolError, "close reason not UTF-8"}
	// ErrFrameAfterClose: a frame after the peer's close frame.
	ErrFrameAfterClose = &CloseError{CloseProtocolError, "frame after close"}
	// ErrInvalidUTF8: a text message that is not UTF-8, found as soon as the
	// fragment that breaks it arrives.
	ErrInvalidUTF8 = &CloseError{CloseInvalidPayload, "text message not UTF-8"}
	// ErrMessageTooBig: a message, fragmented or not, longer than the
	// parser's bound, found from the header of the frame that passes it.
	ErrMessageTooBig = &CloseError{CloseMessageTooBig, "message too big"}
)
