package bench

import "errors"

// Payload layout, all ASCII so it is a valid line for any client:
//
//	sender  8 hex digits   index of the sending connection
//	seq    12 hex digits   per-sender sequence number, from 0
//	sent   16 hex digits   send time, Unix nanoseconds
//	pad    '.' up to the configured size
const (
	senderDigits   = 8
	seqDigits      = 12
	sentDigits     = 16
	MinPayloadSize = senderDigits + seqDigits + sentDigits
)

// ErrBadPayload is returned for a line that is not a harness payload.
var ErrBadPayload = errors.New("bench: bad payload")

const hexDigits = "0123456789abcdef"

// appendHex appends v as exactly n lower-case hex digits.
func appendHex(dst []byte, v uint64, n int) []byte {
	for i := n - 1; i >= 0; i-- {
		dst = append(dst, hexDigits[(v>>(4*uint(i)))&0xf])
	}
	return dst
}

// AppendPayload appends a payload of size bytes (at least MinPayloadSize).
func AppendPayload(dst []byte, sender uint32, seq uint64, sentNanos int64, size int) []byte {
	dst = appendHex(dst, uint64(sender), senderDigits)
	dst = appendHex(dst, seq, seqDigits)
	dst = appendHex(dst, uint64(sentNanos), sentDigits)
	for i := MinPayloadSize; i < size; i++ {
		dst = append(dst, '.')
	}
	return dst
}

func parseHex(b []byte) (uint64, bool) {
	var v uint64
	for _, c := range b {
		switch {
		case c >= '0' && c <= '9':
			v = v<<4 | uint64(c-'0')
		case c >= 'a' && c <= 'f':
			v = v<<4 | uint64(c-'a'+10)
		default:
			return 0, false
		}
	}
	return v, true
}

// ParsePayload reads the fields of a payload (the part after "<id>:").
// It neither copies nor allocates.
func ParsePayload(p []byte) (sender uint32, seq uint64, sentNanos int64, err error) {
	if len(p) < MinPayloadSize {
		return 0, 0, 0, ErrBadPayload
	}
	s, ok1 := parseHex(p[:senderDigits])
	q, ok2 := parseHex(p[senderDigits : senderDigits+seqDigits])
	t, ok3 := parseHex(p[senderDigits+seqDigits : MinPayloadSize])
	if !ok1 || !ok2 || !ok3 {
		return 0, 0, 0, ErrBadPayload
	}
	return uint32(s), q, int64(t), nil
}
