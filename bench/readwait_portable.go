//go:build !linux || fanout_portable

package bench

import (
	"errors"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// readySet is one reader goroutine's sockets, waited on together with
// poll(2): the portable stand-in for Linux's epoll set. A wake-up costs
// every socket of the set, which is fine for the client counts a run has
// off Linux (macOS refuses more than OPEN_MAX, 10 240, in one poll: one
// process's share of a run, split over the readers, stays under it).
// Owned by its reader goroutine.
type readySet struct {
	fds   []unix.PollFd // Fd -1 once its socket ended: poll skips it
	conns []*conn       // conns[i] is fds[i]'s connection
	index map[int]int   // socket → its place in fds
	ready []*conn       // what wait returns, reused
}

func newReadySet(conns []*conn) (*readySet, error) {
	s := &readySet{fds: make([]unix.PollFd, len(conns)), conns: conns, index: make(map[int]int, len(conns))}
	for i, c := range conns {
		s.fds[i] = unix.PollFd{Fd: int32(c.fd), Events: unix.POLLIN}
		s.index[c.fd] = i
	}
	return s, nil
}

// wait returns, within timeout, the sockets that have bytes or their end
// to read; the slice is valid until the next call.
func (s *readySet) wait(timeout time.Duration) ([]*conn, error) {
	n, err := unix.Poll(s.fds, int(timeout.Milliseconds()))
	if errors.Is(err, unix.EINTR) {
		return nil, nil
	}
	if err != nil {
		return nil, os.NewSyscallError("poll", err)
	}
	s.ready = s.ready[:0]
	for i := 0; i < len(s.fds) && len(s.ready) < n; i++ {
		if s.fds[i].Fd >= 0 && s.fds[i].Revents != 0 {
			s.ready = append(s.ready, s.conns[i])
		}
	}
	return s.ready, nil
}

// drop stops watching c, which has ended.
func (s *readySet) drop(c *conn) {
	if i, ok := s.index[c.fd]; ok {
		s.fds[i].Fd = -1
		delete(s.index, c.fd)
	}
}

func (s *readySet) close() {}
