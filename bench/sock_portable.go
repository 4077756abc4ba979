//go:build !linux || fanout_portable

package bench

import (
	"syscall"

	"golang.org/x/sys/unix"
)

// bindsSource: off Linux the clients keep the kernel's source address
// (macOS answers only 127.0.0.1 on loopback by default), so a run holds
// at most one address's ephemeral ports per target.
const bindsSource = false

// newSocket opens a blocking TCP socket, closed on exec. Not every
// system takes SOCK_CLOEXEC, so the flag is set after, under the lock
// that keeps a fork from seeing the socket in between (as package net
// does).
func newSocket(family int) (int, error) {
	syscall.ForkLock.RLock()
	defer syscall.ForkLock.RUnlock()
	fd, err := unix.Socket(family, unix.SOCK_STREAM, 0)
	if err == nil {
		unix.CloseOnExec(fd)
	}
	return fd, err
}

// bindSource does nothing: see bindsSource.
func bindSource(int, int32) error { return nil }

// established says whether the connection on fd is still up, as poll(2)
// tells it: a reset (how fanout cuts a slow consumer) or both sides shut
// shows as POLLHUP or POLLERR. A FIN alone does not, so a client the
// server closed gracefully counts as cut only once it reads the end.
// Unknown (poll failed) counts as up.
func established(fd int) bool {
	pfd := []unix.PollFd{{Fd: int32(fd)}}
	if _, err := unix.Poll(pfd, 0); err != nil {
		return true
	}
	return pfd[0].Revents&(unix.POLLHUP|unix.POLLERR) == 0
}
