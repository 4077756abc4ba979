//go:build linux && !fanout_portable

package bench

import (
	"errors"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// readySet is one reader goroutine's sockets, waited on together through
// an epoll instance of its own: a wake-up costs the sockets that are
// ready, not all of them. Owned by that goroutine.
type readySet struct {
	epfd   int
	byFD   map[int32]*conn // the sockets still watched
	events []unix.EpollEvent
	ready  []*conn // what wait returns, reused
}

func newReadySet(conns []*conn) (*readySet, error) {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, os.NewSyscallError("epoll_create1", err)
	}
	s := &readySet{epfd: epfd, byFD: make(map[int32]*conn, len(conns)), events: make([]unix.EpollEvent, 256)}
	for _, c := range conns {
		ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLRDHUP, Fd: int32(c.fd)}
		if err := unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, c.fd, &ev); err != nil {
			s.close()
			return nil, os.NewSyscallError("epoll_ctl", err)
		}
		s.byFD[int32(c.fd)] = c
	}
	return s, nil
}

// wait returns, within timeout, the sockets that have bytes or their end
// to read; the slice is valid until the next call.
func (s *readySet) wait(timeout time.Duration) ([]*conn, error) {
	n, err := unix.EpollWait(s.epfd, s.events, int(timeout.Milliseconds()))
	if errors.Is(err, unix.EINTR) {
		return nil, nil
	}
	if err != nil {
		return nil, os.NewSyscallError("epoll_wait", err)
	}
	s.ready = s.ready[:0]
	for _, ev := range s.events[:n] {
		if c := s.byFD[ev.Fd]; c != nil {
			s.ready = append(s.ready, c)
		}
	}
	return s.ready, nil
}

// drop stops watching c, which has ended.
func (s *readySet) drop(c *conn) {
	_ = unix.EpollCtl(s.epfd, unix.EPOLL_CTL_DEL, c.fd, nil)
	delete(s.byFD, int32(c.fd))
}

func (s *readySet) close() { _ = unix.Close(s.epfd) }
