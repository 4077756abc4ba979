package server

import (
	"bytes"
	"errors"
)

// ErrLineTooLong is returned by cutLine when a line, complete or not, is
// longer than the limit.
var ErrLineTooLong = errors.New("server: line too long")

// cutLine finds the first line in buf. It returns the line without its
// "\n" or "\r\n" terminator and n, the bytes it took from buf including the
// terminator. n == 0 means buf holds no complete line yet: the caller keeps
// buf and waits for more. An empty line comes back with n > 0 and len 0.
// The line aliases buf; nothing is copied or allocated.
//
// Lines whose content is longer than max, and unterminated tails that can
// no longer become such a line, give ErrLineTooLong.
func cutLine(buf []byte, max int) (line []byte, n int, err error) {
	i := bytes.IndexByte(buf, '\n')
	if i < 0 {
		if tailTooLong(buf, max) {
			return nil, 0, ErrLineTooLong
		}
		return nil, 0, nil
	}
	line = buf[:i]
	if len(line) > 0 && line[len(line)-1] == '\r' {
		line = line[:len(line)-1]
	}
	if len(line) > max {
		return nil, 0, ErrLineTooLong
	}
	return line, i + 1, nil
}

// tailTooLong reports whether an unterminated tail already exceeds max: it
// may be max bytes of content plus a '\r' still waiting for its '\n'.
func tailTooLong(tail []byte, max int) bool {
	switch {
	case len(tail) <= max:
		return false
	case len(tail) == max+1:
		return tail[max] != '\r'
	default:
		return true
	}
}
