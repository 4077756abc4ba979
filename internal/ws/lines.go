package ws

import "bytes"

// NextLine cuts the first line from msg, a data message, by the rules a TCP
// client's input follows: an embedded '\n' ends a line, one '\r' before it
// (or at the very end of the message) is stripped, and empty lines are
// skipped. It returns that line and the rest of msg, or ok == false once no
// line is left. The line aliases msg; nothing is copied or allocated:
//
//	for line, rest, ok := ws.NextLine(m.Payload); ok; line, rest, ok = ws.NextLine(rest) {
//		publish(line)
//	}
//
// The end of a message ends its last line: a line never spans two
// messages. A line is at most as long as its message, so a Parser bound of
// --max-line + 2 lets a client end a line of --max-line bytes with "\r\n";
// the caller then refuses a longer line with [ErrMessageTooBig].
func NextLine(msg []byte) (line, rest []byte, ok bool) {
	for len(msg) > 0 {
		if i := bytes.IndexByte(msg, '\n'); i >= 0 {
			line, msg = msg[:i], msg[i+1:]
		} else {
			line, msg = msg, nil
		}
		if n := len(line); n > 0 && line[n-1] == '\r' {
			line = line[:n-1]
		}
		if len(line) > 0 {
			return line, msg, true
		}
	}
	return nil, nil, false
}
