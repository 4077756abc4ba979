//go:build !linux || fanout_portable

package shard

import (
	"os"

	"github.com/panjf2000/gnet/v2"
	"golang.org/x/sys/unix"
)

// The portable write side (see sink.go): write(2) per buffer instead of
// one writev, and no count of unsent bytes (the sweep then sees a slow
// reader's progress only through the writes the waiter lets it make).

// UnsentConn returns -1: this platform's count of unsent bytes is not used.
func UnsentConn(gnet.Conn) int { return -1 }

// writeSocket writes bs to the non-blocking descriptor fd, one write(2) per
// buffer, until the socket is full (a short count and a nil error) or
// everything is written.
func writeSocket(fd int, bs [][]byte) (int, error) {
	total := 0
	for _, b := range bs {
		for len(b) > 0 {
			n, err := unix.Write(fd, b)
			switch {
			case err == unix.EINTR:
				continue
			case err == unix.EAGAIN:
				return total, nil
			case err != nil:
				return total, os.NewSyscallError("write", err)
			}
			total += n
			if n < len(b) {
				return total, nil
			}
			b = b[n:]
		}
	}
	return total, nil
}
