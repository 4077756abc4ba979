//go:build linux && !fanout_portable

package shard

import (
	"os"
	"unsafe"

	"github.com/panjf2000/gnet/v2"
	"golang.org/x/sys/unix"
)

// UnsentConn returns the bytes c's socket holds that the peer has not yet
// acknowledged (SIOCOUTQ), or -1 when the kernel does not say. The sweep
// uses it to see a slow reader's progress while its socket stays too full
// to report room.
func UnsentConn(c gnet.Conn) int {
	n, err := unix.IoctlGetInt(c.Fd(), unix.SIOCOUTQ)
	if err != nil {
		return -1
	}
	return n
}

// iovBatch is how many buffers one writev call gets; a longer list is
// written in several calls (stopping at the first short one). The iovec
// array lives on the stack, so a write allocates nothing.
const iovBatch = 64

// writeSocket writes bs, with writev(2), to the non-blocking descriptor fd until the socket is
// full (EAGAIN: a short count and a nil error) or everything is written.
func writeSocket(fd int, bs [][]byte) (int, error) {
	var vecs [iovBatch]unix.Iovec
	total := 0
	for len(bs) > 0 {
		k, want := 0, 0
		for k < iovBatch && k < len(bs) {
			if p := bs[k]; len(p) > 0 {
				vecs[k].Base = &p[0]
				vecs[k].SetLen(len(p))
			} else {
				vecs[k] = unix.Iovec{}
			}
			want += len(bs[k])
			k++
		}
		n, _, errno := unix.Syscall(unix.SYS_WRITEV, uintptr(fd), uintptr(unsafe.Pointer(&vecs[0])), uintptr(k))
		switch errno {
		case 0:
		case unix.EINTR:
			continue
		case unix.EAGAIN:
			return total, nil
		default:
			return total, os.NewSyscallError("writev", errno)
		}
		total += int(n)
		if int(n) < want {
			return total, nil
		}
		bs = bs[k:]
	}
	return total, nil
}
