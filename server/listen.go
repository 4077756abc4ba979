package server

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// The listeners are the server's own (the standard library's net.Listen),
// not gnet's: gnet only runs the event loops, and every accepted
// connection is handed to one of them (accept.go). Two things gnet v2.9.7
// does with its listeners are not acceptable for a daemon:
//   - its acceptor ends the whole engine on any accept error but EAGAIN,
//     EINTR, ECONNRESET and ECONNABORTED (EMFILE included), and it accepts
//     everything queued before the loops can refuse the excess, so a burst
//     of connects could use up the descriptors and stop the server;
//   - it removes whatever is at a unix socket's path (os.RemoveAll, a
//     directory with its contents) before binding and again at close.
//
// Here an existing unix path that is not a socket is refused before
// anything is bound (New), a stale socket (nobody answers on it) is
// replaced, a live one is refused, and at close the path is removed only
// while it is still the very socket this server bound.

// listener is one bound listener.
type listener struct {
	spec   listenSpec
	ln     net.Listener
	addr   net.Addr    // the bound address (port 0 resolved)
	socket fs.FileInfo // unix: the socket file as bound, to know it again at close; nil for TCP
}

// checkSocketPath refuses a unix socket path where something other than a
// socket already is: a directory, a regular file, a symbolic link (even
// to a socket) or a device. A missing path or a socket is fine (Start
// tells a stale socket from a live one).
func checkSocketPath(path string) error {
	fi, err := os.Lstat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case err != nil:
		return fmt.Errorf("unix://%s: %w", path, err)
	case fi.Mode().Type() == fs.ModeSocket:
		return nil
	}
	return fmt.Errorf("unix://%s exists and is %s, not a socket: refusing to replace it (remove it or choose another path)",
		path, describeFileType(fi.Mode()))
}

func describeFileType(m fs.FileMode) string {
	switch {
	case m.IsDir():
		return "a directory"
	case m.IsRegular():
		return "a regular file"
	case m&fs.ModeSymlink != 0:
		return "a symbolic link"
	case m&fs.ModeNamedPipe != 0:
		return "a named pipe"
	case m&fs.ModeDevice != 0:
		return "a device"
	case m&fs.ModeSocket != 0:
		return "another socket"
	}
	return "not a regular file (" + m.Type().String() + ")"
}

// removeStaleSocket deletes a unix socket file left by an earlier run. A
// socket that a live server answers on is not stale: starting is refused
// rather than taking its path over. Anything that is not a socket is
// refused too (New already checked; this closes the gap since).
func removeStaleSocket(path string) error {
	if err := checkSocketPath(path); err != nil {
		return err
	}
	if _, err := os.Lstat(path); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
		_ = c.Close()
		return fmt.Errorf("another server is listening on unix://%s; stop it or choose another path", path)
	}
	if err := os.Remove(path); err != nil {
		return fmt.Errorf("remove stale socket: %w", err)
	}
	return nil
}

// listen binds one listener as cfg says: SO_REUSEPORT with --reuseport,
// the unix socket's mode with --unix-mode. Keep-alive is not the standard
// library's default (15s, set at accept) but --tcp-keepalive, set when a
// connection opens.
func listen(spec listenSpec, cfg Config) (*listener, error) {
	l := &listener{spec: spec}
	if spec.network == "unix" {
		if err := removeStaleSocket(spec.address); err != nil {
			return nil, err
		}
		ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: spec.address, Net: "unix"})
		if err != nil {
			return nil, fmt.Errorf("listen on %s: %w", spec.protoAddr(), err)
		}
		ln.SetUnlinkOnClose(false) // close removes the path only if it is still ours (close)
		l.ln, l.addr = ln, ln.Addr()
		if l.socket, err = os.Lstat(spec.address); err != nil {
			_ = ln.Close()
			return nil, fmt.Errorf("listen on %s: %w", spec.protoAddr(), err)
		}
		if cfg.UnixMode != 0 {
			if err := os.Chmod(spec.address, cfg.UnixMode); err != nil {
				_ = l.close()
				return nil, fmt.Errorf("--unix-mode: %w", err)
			}
		}
		return l, nil
	}
	lc := net.ListenConfig{KeepAlive: -1}
	if cfg.ReusePort {
		lc.Control = func(_, _ string, c syscall.RawConn) error {
			var serr error
			if err := c.Control(func(fd uintptr) {
				serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEPORT, 1)
			}); err != nil {
				return err
			}
			return os.NewSyscallError("setsockopt SO_REUSEPORT", serr)
		}
	}
	ln, err := lc.Listen(context.Background(), "tcp", spec.address)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", spec.protoAddr(), err)
	}
	l.ln, l.addr = ln, ln.Addr()
	return l, nil
}

// close stops the listener and, for a unix socket, removes its path if it
// is still the socket this listener bound: a directory, a file or another
// server's socket put there since is left alone (and reported). Safe to
// call more than once.
func (l *listener) close() error {
	err := l.ln.Close()
	if errors.Is(err, net.ErrClosed) {
		err = nil
	}
	if l.socket != nil {
		err = errors.Join(err, removeOwnSocket(l.spec.address, l.socket))
	}
	return err
}

// removeOwnSocket removes path if it is still the socket described by
// bound (same device and inode). Nothing there is not an error.
func removeOwnSocket(path string, bound fs.FileInfo) error {
	fi, err := os.Lstat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case err != nil:
		return fmt.Errorf("unix://%s: %w", path, err)
	case fi.Mode().Type() != fs.ModeSocket || !os.SameFile(fi, bound):
		return fmt.Errorf("unix://%s is no longer the socket this server bound (now %s); left in place", path, describeFileType(fi.Mode()))
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove unix://%s: %w", path, err)
	}
	return nil
}
