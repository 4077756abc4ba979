//go:build linux && !fanout_portable

package shard

import (
	"errors"
	"fmt"
	"os"
	"sync"

	"golang.org/x/sys/unix"
)

// EpollWaiter is a Waiter for members whose Conn has a descriptor (an Fd
// method): one goroutine and one epoll instance of its own, next to
// gnet's, watch full sockets for room (one-shot, so a socket that stays
// writable costs nothing until it is armed again). gnet itself watches a
// socket for room only while its own outbound buffer holds bytes, and the
// fan-out never leaves any there.
//
// Concurrency: Wait and Forget run on the member's loop; the goroutine
// only reads byFD (under mu) and calls Member.Writable.
type EpollWaiter struct {
	epfd, wakefd int
	mu           sync.Mutex
	byFD         map[int32]*Member // guarded by mu: who is waiting on each descriptor
	done         chan struct{}
	startOnce    sync.Once // the goroutine starts at the first Wait
	started      bool      // set inside startOnce; read by Close after it
	closeOnce    sync.Once
}

// NewEpollWaiter returns a waiter; its goroutine starts with the first
// Wait. Close releases it.
func NewEpollWaiter() (*EpollWaiter, error) {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, os.NewSyscallError("epoll_create1", err)
	}
	wakefd, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		unix.Close(epfd)
		return nil, os.NewSyscallError("eventfd", err)
	}
	ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(wakefd)}
	if err := unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, wakefd, &ev); err != nil {
		unix.Close(epfd)
		unix.Close(wakefd)
		return nil, os.NewSyscallError("epoll_ctl", err)
	}
	return &EpollWaiter{epfd: epfd, wakefd: wakefd, byFD: make(map[int32]*Member), done: make(chan struct{})}, nil
}

// Wait arms a one-shot watch for room on m's socket. Runs on m's loop.
func (w *EpollWaiter) Wait(m *Member) error {
	s, ok := m.Conn.(fdSink)
	if !ok {
		return fmt.Errorf("shard: EpollWaiter needs a Conn with Fd(), got %T", m.Conn)
	}
	w.startOnce.Do(func() { w.started = true; go w.run() })
	fd := s.Fd()
	w.mu.Lock()
	w.byFD[int32(fd)] = m
	w.mu.Unlock()
	ev := unix.EpollEvent{Events: unix.EPOLLOUT | unix.EPOLLONESHOT, Fd: int32(fd)}
	op := unix.EPOLL_CTL_ADD
	if int(m.waitFD) == fd {
		op = unix.EPOLL_CTL_MOD // registered before; the one-shot fired since
	}
	err := unix.EpollCtl(w.epfd, op, fd, &ev)
	switch {
	case errors.Is(err, unix.EEXIST):
		err = unix.EpollCtl(w.epfd, unix.EPOLL_CTL_MOD, fd, &ev)
	case errors.Is(err, unix.ENOENT):
		err = unix.EpollCtl(w.epfd, unix.EPOLL_CTL_ADD, fd, &ev)
	}
	if err != nil {
		w.mu.Lock()
		if w.byFD[int32(fd)] == m {
			delete(w.byFD, int32(fd))
		}
		w.mu.Unlock()
		m.waitFD = -1
		return os.NewSyscallError("epoll_ctl", err)
	}
	m.waitFD = int32(fd)
	return nil
}

// Forget stops watching m's socket. Runs on m's loop, before the
// descriptor is closed (gnet calls OnClose first), so the number cannot
// have been reused yet.
func (w *EpollWaiter) Forget(m *Member) {
	fd := int(m.waitFD)
	if fd < 0 {
		return
	}
	m.waitFD = -1
	_ = unix.EpollCtl(w.epfd, unix.EPOLL_CTL_DEL, fd, nil) // ENOENT: nothing to undo
	w.mu.Lock()
	if w.byFD[int32(fd)] == m {
		delete(w.byFD, int32(fd))
	}
	w.mu.Unlock()
}

func (w *EpollWaiter) run() {
	defer close(w.done)
	events := make([]unix.EpollEvent, 256)
	for {
		n, err := unix.EpollWait(w.epfd, events, -1)
		if err != nil {
			if errors.Is(err, unix.EINTR) {
				continue
			}
			return // the epoll descriptor is unusable: nothing left to watch with
		}
		for _, ev := range events[:n] {
			if ev.Fd == int32(w.wakefd) {
				return
			}
			w.mu.Lock()
			m := w.byFD[ev.Fd]
			w.mu.Unlock()
			if m != nil {
				m.Writable()
			}
		}
	}
}

// Close stops the goroutine and releases the descriptors. Call it after
// the event loops are gone (a Wait after Close fails). Idempotent.
func (w *EpollWaiter) Close() error {
	var err error
	w.closeOnce.Do(func() {
		w.startOnce.Do(func() {}) // no goroutine starts from now on
		if w.started {
			one := [8]byte{1}
			if _, werr := unix.Write(w.wakefd, one[:]); werr != nil {
				err = os.NewSyscallError("eventfd write", werr)
			}
			<-w.done
		}
		err = errors.Join(err, unix.Close(w.epfd), unix.Close(w.wakefd))
	})
	return err
}

// SocketWaiter is the Waiter for real sockets on this platform.
type SocketWaiter = EpollWaiter

// NewSocketWaiter returns the platform's SocketWaiter (epoll on Linux).
func NewSocketWaiter() (*SocketWaiter, error) { return NewEpollWaiter() }
