//go:build linux && !fanout_portable

package server

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"

	"github.com/panjf2000/gnet/v2"
	"github.com/panjf2000/gnet/v2/pkg/netpoll"
	"golang.org/x/sys/unix"
)

// Pausing reads (Linux). gnet v2 has no "stop reading this connection":
// its event loop reads a socket whenever its epoll instance reports the
// socket readable, and keeps whatever the handler leaves unconsumed in
// the connection's inbound buffer, so leaving input unread bounds nothing.
// Instead, the server changes the socket's registration in that epoll
// instance (EPOLL_CTL_MOD) to stop asking for EPOLLIN while the sender is
// held, and restores it to resume: the kernel then keeps the sender's
// bytes, its receive window closes, and TCP slows the sender down. Errors
// and hang-ups are still reported (epoll always does), so a held sender
// that resets is closed as usual.
//
// gnet's epoll descriptor is not part of its API, so it is found once per
// event loop from the kernel's own account (/proc/self/fdinfo lists every
// descriptor an epoll instance watches, with its events and data), at the
// first connection of the loop, and checked to be registered exactly as
// gnet v2.9 registers connections (level-triggered EPOLLIN|EPOLLPRI, the
// descriptor as data). A gnet that registers otherwise is detected there:
// the server then stops holding senders back (see shard's
// StopHoldingSenders) instead of guessing, and the tests that check a held
// sender's socket is really not read fail.
//
// Everything here runs on the connection's event loop, where gnet itself
// touches the registration, so nothing races with gnet's own changes. gnet
// changes a registration only to watch for room when its outbound buffer
// holds bytes, which the fan-out never leaves there; if it ever did and
// asked for EPOLLIN again, the next read finds the fan-out congested and
// pauses again.

// readPauseSupported: this build can pause reading a socket.
const readPauseSupported = true

// errNoLoopPoller: no epoll instance watches the connection as gnet would.
var errNoLoopPoller = errors.New("server: no epoll instance watches the connection as gnet v2.9 does")

// findLoopPoller returns the descriptor of the epoll instance of the event
// loop that owns connection descriptor fd. Called once per event loop, in
// OnOpen of its first connection (already registered by then).
func findLoopPoller(fd int) (int, error) {
	dir, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return -1, fmt.Errorf("server: list descriptors: %w", err)
	}
	fds := make([]int, 0, len(dir))
	for _, e := range dir {
		if n, err := strconv.Atoi(e.Name()); err == nil && n != fd {
			fds = append(fds, n)
		}
	}
	slices.Sort(fds) // gnet's pollers are made before any connection: low numbers
	var mismatch error
	for _, n := range fds {
		if link, err := os.Readlink("/proc/self/fd/" + strconv.Itoa(n)); err != nil || link != "anon_inode:[eventpoll]" {
			continue
		}
		events, data, found, err := epollWatch(n, fd)
		events &^= unix.EPOLLERR | unix.EPOLLHUP // always watched: the kernel lists them whether asked or not
		switch {
		case err != nil || !found:
			continue
		case data != uint64(fd) || (events != netpoll.ReadEvents && events != netpoll.ReadWriteEvents):
			// Another epoll instance (the fan-out's own waiter watches
			// sockets for room), or a gnet that registers otherwise.
			mismatch = fmt.Errorf("%w: epoll %d watches it with events %#x, data %#x", errNoLoopPoller, n, events, data)
			continue
		}
		return n, nil
	}
	if mismatch != nil {
		return -1, mismatch
	}
	return -1, errNoLoopPoller
}

// epollWatch reads, from the kernel's account of epoll instance epfd, how
// it watches descriptor fd: lines "tfd: <fd> events: <hex> data: <hex> …".
func epollWatch(epfd, fd int) (events uint32, data uint64, found bool, err error) {
	info, err := os.ReadFile("/proc/self/fdinfo/" + strconv.Itoa(epfd))
	if err != nil {
		return 0, 0, false, err
	}
	want := []byte(strconv.Itoa(fd))
	sc := bufio.NewScanner(bytes.NewReader(info))
	for sc.Scan() {
		f := bytes.Fields(sc.Bytes())
		if len(f) < 6 || string(f[0]) != "tfd:" || !bytes.Equal(f[1], want) || string(f[2]) != "events:" || string(f[4]) != "data:" {
			continue
		}
		ev, err1 := strconv.ParseUint(string(f[3]), 16, 32)
		d, err2 := strconv.ParseUint(string(f[5]), 16, 64)
		if err1 != nil || err2 != nil {
			return 0, 0, false, fmt.Errorf("server: unexpected line in fdinfo of epoll %d: %q", epfd, sc.Text())
		}
		return uint32(ev), d, true, nil
	}
	return 0, 0, false, sc.Err()
}

// pauseReading stops poller reporting c readable: gnet reads nothing more
// from it until resumeReading. Runs on c's loop.
func pauseReading(poller int, c gnet.Conn) error {
	return modifyWatch(poller, c, 0)
}

// resumeReading restores gnet's registration of c: level-triggered, so
// bytes that waited in the kernel are read at the loop's next poll.
// Runs on c's loop.
func resumeReading(poller int, c gnet.Conn) error {
	return modifyWatch(poller, c, netpoll.ReadEvents)
}

func modifyWatch(poller int, c gnet.Conn, events uint32) error {
	if c.OutboundBuffered() > 0 {
		events |= netpoll.WriteEvents // gnet is waiting for room: leave that as it is
	}
	fd := c.Fd()
	ev := unix.EpollEvent{Events: events, Fd: int32(fd)}
	if err := unix.EpollCtl(poller, unix.EPOLL_CTL_MOD, fd, &ev); err != nil {
		return os.NewSyscallError("epoll_ctl", err)
	}
	return nil
}

// errHungUp: the peer of a paused socket hung up without a pending error.
var errHungUp = errors.New("server: hung up while its reads were paused")

// hangUpError says why a socket whose reads were paused was closed: the
// pending socket error (a reset), or errHungUp. Runs on c's loop, in
// OnClose, while the descriptor is still open.
func hangUpError(c gnet.Conn) error {
	if errno, err := unix.GetsockoptInt(c.Fd(), unix.SOL_SOCKET, unix.SO_ERROR); err == nil && errno != 0 {
		return os.NewSyscallError("read", unix.Errno(errno))
	}
	return errHungUp
}
