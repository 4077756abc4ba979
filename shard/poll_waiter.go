//go:build !linux || fanout_portable

package shard

import (
	"errors"
	"fmt"
	"os"
	"sync"

	"golang.org/x/sys/unix"
)

// PollWaiter is the portable Waiter (see EpollWaiter for Linux's): one
// goroutine that poll(2)s the sockets waiting for room, and a pipe that
// interrupts it when the set changes or the waiter closes. A socket is
// watched once per Wait, like epoll's one-shot. poll's cost grows with the
// sockets waiting at once, which is fine off the fast path.
//
// Concurrency: Wait and Forget run on the member's loop and touch byFD
// under mu; the goroutine takes a snapshot under mu, polls without it, and
// calls Member.Writable.
type PollWaiter struct {
	mu        sync.Mutex
	byFD      map[int32]*Member // guarded by mu: who is waiting on each descriptor
	closing   bool              // guarded by mu
	wakeR     int               // read end of the pipe the goroutine polls too
	wakeW     int               // write end: a byte interrupts the poll
	done      chan struct{}
	startOnce sync.Once // the goroutine starts at the first Wait
	started   bool      // set inside startOnce; read by Close after it
	closeOnce sync.Once
}

// SocketWaiter is the Waiter for real sockets on this platform.
type SocketWaiter = PollWaiter

// NewSocketWaiter returns the platform's SocketWaiter (poll(2) here).
func NewSocketWaiter() (*SocketWaiter, error) {
	var p [2]int
	if err := unix.Pipe(p[:]); err != nil {
		return nil, os.NewSyscallError("pipe", err)
	}
	for _, fd := range p {
		unix.CloseOnExec(fd)
		if err := unix.SetNonblock(fd, true); err != nil {
			unix.Close(p[0])
			unix.Close(p[1])
			return nil, os.NewSyscallError("setnonblock", err)
		}
	}
	return &PollWaiter{byFD: make(map[int32]*Member), wakeR: p[0], wakeW: p[1], done: make(chan struct{})}, nil
}

// Wait watches m's socket for room, once. Runs on m's loop.
func (w *PollWaiter) Wait(m *Member) error {
	s, ok := m.Conn.(fdSink)
	if !ok {
		return fmt.Errorf("shard: PollWaiter needs a Conn with Fd(), got %T", m.Conn)
	}
	w.startOnce.Do(func() { w.started = true; go w.run() })
	fd := int32(s.Fd())
	w.mu.Lock()
	if w.closing {
		w.mu.Unlock()
		return errors.New("shard: waiter closed")
	}
	w.byFD[fd] = m
	w.mu.Unlock()
	m.waitFD = fd
	w.poke()
	return nil
}

// Forget stops watching m's socket. Runs on m's loop, before the
// descriptor is closed.
func (w *PollWaiter) Forget(m *Member) {
	fd := m.waitFD
	if fd < 0 {
		return
	}
	m.waitFD = -1
	w.mu.Lock()
	if w.byFD[fd] == m {
		delete(w.byFD, fd)
	}
	w.mu.Unlock()
	w.poke() // the goroutine must not poll the descriptor once it is closed
}

// poke interrupts the poll; a full pipe already will.
func (w *PollWaiter) poke() {
	_, _ = unix.Write(w.wakeW, []byte{1})
}

func (w *PollWaiter) run() {
	defer close(w.done)
	var fds []unix.PollFd
	drain := make([]byte, 64)
	for {
		w.mu.Lock()
		if w.closing {
			w.mu.Unlock()
			return
		}
		fds = append(fds[:0], unix.PollFd{Fd: int32(w.wakeR), Events: unix.POLLIN})
		for fd := range w.byFD {
			fds = append(fds, unix.PollFd{Fd: fd, Events: unix.POLLOUT})
		}
		w.mu.Unlock()
		if _, err := unix.Poll(fds, -1); err != nil && !errors.Is(err, unix.EINTR) {
			return // nothing left to watch with
		}
		if fds[0].Revents != 0 {
			for {
				if n, _ := unix.Read(w.wakeR, drain); n < len(drain) {
					break
				}
			}
		}
		for _, p := range fds[1:] {
			if p.Revents == 0 {
				continue
			}
			w.mu.Lock()
			m := w.byFD[p.Fd]
			if m != nil {
				delete(w.byFD, p.Fd) // once per Wait
			}
			w.mu.Unlock()
			if m != nil {
				m.Writable() // room, or an error the next write reports
			}
		}
	}
}

// Close stops the goroutine and releases the pipe. Call it after the
// event loops are gone (a Wait after Close fails). Idempotent.
func (w *PollWaiter) Close() error {
	var err error
	w.closeOnce.Do(func() {
		w.startOnce.Do(func() {}) // no goroutine starts from now on
		w.mu.Lock()
		w.closing = true
		w.mu.Unlock()
		if w.started {
			w.poke()
			<-w.done
		}
		err = errors.Join(unix.Close(w.wakeR), unix.Close(w.wakeW))
	})
	return err
}
