package server

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync/atomic"
	"syscall"
	"time"
)

// Accepting. One goroutine per listener accepts and hands each connection
// to an event loop with gnet.Client.EnrollContext, which duplicates the
// descriptor, registers the copy on the loop with the fewest connections,
// runs OnOpen there and closes the original. The descriptors are budgeted
// so that accept never finds the table full:
//
//	open connections (their slot taken at accept) ≤ MaxConns
//	connections being handed over, 2 fds each   ≤ enrollSlots (of the above)
//	a connection being refused                  ≤ 1 per listener
//	MaxConns + everything else the process opens ≤ the open-file limit (New checks, fdReserve)
//
// A connection past MaxConns gets "ERR server full" from the acceptor at
// once, without reaching a loop: refusing costs one descriptor for the
// moment it takes, however fast connects arrive. While enrollSlots
// connections are being handed over the acceptor waits, and the kernel's
// listen backlog holds (or refuses) the rest. An accept error that says
// something ran out (EMFILE, ENFILE, ENOBUFS, ENOMEM: the budget was
// broken by something else) or that a queued connection died is counted,
// logged (rate-limited) and retried after a pause (5ms doubling to 1s, as
// net/http does); the server keeps serving the connections it has. Any
// other error means the listener is broken: the server fails (Died), so
// that a supervisor restarts it.

const (
	// enrollSlots bounds the connections being handed to a loop at once.
	enrollSlots = 32
	// acceptBackoffMin and acceptBackoffMax bound the pause after an
	// accept error.
	acceptBackoffMin = 5 * time.Millisecond
	acceptBackoffMax = time.Second
)

// acceptLoop accepts on l until the listeners are closed. Runs on its own
// goroutine, one per listener.
func (s *Server) acceptLoop(l *listener) {
	defer s.acceptWG.Done()
	var backoff time.Duration
	for {
		c, err := l.ln.Accept()
		if err == nil {
			backoff = 0
			s.admit(l, c)
			continue
		}
		if s.listenersClosed.Load() {
			return
		}
		if !retryableAccept(err) {
			s.fail(fmt.Errorf("server: accept on %s: %w", l.addr, err))
			return
		}
		s.acceptErrors.Add(1)
		backoff = min(max(2*backoff, acceptBackoffMin), acceptBackoffMax)
		s.limitedLog(logAccept, slog.LevelWarn, "accept failed; retrying", "listener", l.addr.String(),
			"err", err, "retry_in", backoff)
		t := time.NewTimer(backoff)
		select {
		case <-t.C:
		case <-s.stopAccept:
			t.Stop()
			return
		}
	}
}

// retryableAccept reports whether accept may work again: resources ran out
// for now, or the queued connection failed before it was taken (accept(2)
// passes such network errors on).
func retryableAccept(err error) bool {
	for _, e := range []syscall.Errno{syscall.EMFILE, syscall.ENFILE, syscall.ENOBUFS, syscall.ENOMEM,
		syscall.ECONNABORTED, syscall.ECONNRESET, syscall.EINTR, syscall.EAGAIN, syscall.EPROTO, syscall.EPERM,
		syscall.ETIMEDOUT, syscall.EHOSTDOWN, syscall.EHOSTUNREACH, syscall.ENETDOWN, syscall.ENETUNREACH,
		syscall.ENOPROTOOPT, syscall.EOPNOTSUPP} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// admit hands c to an event loop, or refuses it when the server is full.
// Runs on l's accept goroutine.
func (s *Server) admit(l *listener, c net.Conn) {
	if s.draining.Load() {
		_ = c.Close() // new connections are closed at once during the drain
		return
	}
	select {
	case s.enrollSem <- struct{}{}: // waits while enrollSlots are being handed over
	case <-s.stopAccept:
		_ = c.Close()
		return
	}
	// The connection's --max-conns slot is taken here, before it reaches
	// a loop; OnOpen keeps it (or gives it back when it refuses).
	if s.open.Add(1) > int64(s.cfg.MaxConns) {
		s.open.Add(-1)
		<-s.enrollSem
		s.refuseFull(l, c)
		return
	}
	s.enrollWG.Add(1)
	go s.enroll(&admission{listener: l}, c)
}

// admission is what the acceptor hands a loop with a connection (its gnet
// context until OnOpen replaces it).
type admission struct {
	listener *listener
	opened   atomic.Bool // OnOpen ran and took over the connection's --max-conns slot
}

// refuseFull sends "ERR server full" and closes c, on the accept goroutine.
func (s *Server) refuseFull(l *listener, c net.Conn) {
	remote := addrString(c.RemoteAddr())
	_ = c.SetWriteDeadline(time.Now().Add(time.Second))
	msg := msgServerFull // a new socket takes 17 bytes at once
	if l.spec.ws {
		msg = wsRespServerFull // an HTTP 503, as short
	}
	_, _ = c.Write(msg)
	// Counted and logged before the close, so that whoever sees the close
	// (a test, an operator) finds them.
	s.closed[ReasonServerFull].Add(1)
	s.limitedLog(logRefused, slog.LevelWarn, "connection refused", "remote", sanitize(remote),
		"reason", ReasonServerFull.String(), "max_conns", s.cfg.MaxConns)
	_ = c.Close()
}

// enroll registers c on an event loop; OnOpen runs there before it
// returns. Runs on a goroutine of its own, one per connection being
// handed over.
func (s *Server) enroll(a *admission, c net.Conn) {
	defer func() {
		<-s.enrollSem
		s.enrollWG.Done()
	}()
	remote := c.RemoteAddr()
	_, err := s.cli.EnrollContext(c, a) // closes c in any case
	if !a.opened.Load() {
		// gnet could not register it (its OnOpen never ran): the slot is
		// given back here.
		s.open.Add(-1)
		if err == nil {
			err = errors.New("the event loop did not take it")
		}
	}
	if err != nil {
		s.limitedLog(logAccept, slog.LevelWarn, "cannot hand a new connection to an event loop",
			"remote", sanitize(addrString(remote)), "err", err)
	}
}

// stopAccepting closes the listeners and removes the unix sockets that are
// still the server's (a path someone replaced is left alone, with a
// warning), then waits for the accept goroutines and the connections
// being handed over, until done closes (a dead loop never answers).
// Idempotent.
func (s *Server) stopAccepting(done <-chan struct{}) error {
	var err error
	s.stopAcceptOnce.Do(func() {
		s.listenersClosed.Store(true)
		close(s.stopAccept)
		if cerr := s.closeListeners(); cerr != nil {
			s.log.Warn("closing the listeners", "err", cerr)
		}
		waited := make(chan struct{})
		go func() {
			s.acceptWG.Wait()
			s.enrollWG.Wait()
			close(waited)
		}()
		select {
		case <-waited:
		case <-done:
			err = errors.Join(err, errors.New("connections being handed to an event loop did not finish"))
		}
	})
	return err
}

// closeListeners closes every listener and removes the unix sockets that
// are still this server's. Safe to call more than once.
func (s *Server) closeListeners() error {
	var err error
	for _, l := range s.listeners {
		err = errors.Join(err, l.close())
	}
	return err
}

// RemoveSocketFiles removes the unix sockets this server bound, where they
// are still its own: for a process about to exit without Shutdown (a
// second signal). Shutdown does it too. Safe for concurrent use.
func (s *Server) RemoveSocketFiles() error {
	var err error
	for _, l := range s.listeners {
		if l.socket != nil {
			err = errors.Join(err, removeOwnSocket(l.spec.address, l.socket))
		}
	}
	return err
}
