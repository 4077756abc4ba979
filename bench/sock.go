package bench

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"time"

	"github.com/pires/go-proxyproto"
	"golang.org/x/sys/unix"
)

// The generator's connections are raw blocking sockets read through its
// own readiness sets (epoll on Linux, poll(2) elsewhere: readwait_*.go), a
// few reader goroutines for all of them, instead of a goroutine per
// connection on Go's netpoller: at a million deliveries a second that
// halves the read syscalls (no EAGAIN read before each park) and drops
// the goroutine wake-ups, so the generator takes less of the CPU it
// shares with the server it measures. What differs by platform (the
// socket's flags, the source address, the TCP state) is in sock_*.go.

// sockaddr resolves host:port to a socket address.
func sockaddr(addr string) (unix.Sockaddr, int, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, 0, err
	}
	p, err := strconv.Atoi(port)
	if err != nil {
		return nil, 0, fmt.Errorf("bad port in %q", addr)
	}
	ips, err := net.LookupIP(host)
	if err != nil || len(ips) == 0 {
		return nil, 0, fmt.Errorf("resolve %q: %v", host, err)
	}
	if ip4 := ips[0].To4(); ip4 != nil {
		sa := &unix.SockaddrInet4{Port: p}
		copy(sa.Addr[:], ip4)
		return sa, unix.AF_INET, nil
	}
	sa := &unix.SockaddrInet6{Port: p}
	copy(sa.Addr[:], ips[0].To16())
	return sa, unix.AF_INET6, nil
}

// ioSlice bounds every blocking socket call of the generator (connect and
// write, through SO_SNDTIMEO), so that it looks at its context at least
// this often: a wedged target never hangs a run, and Ctrl-C ends it fast.
const ioSlice = 200 * time.Millisecond

// connectLimit is how long one connection attempt may take in all.
const connectLimit = 30 * time.Second

// dialRaw opens a blocking TCP socket to sa, bound to 127.0.0.(src+1) when
// src > 0 where bindsSource, with Nagle off, writes bounded by ioSlice and,
// when rcvbuf > 0, a receive buffer of rcvbuf bytes (set before the
// connect, so the window scale fits it). The connect waits in ioSlice
// steps until it completes, ctx ends or connectLimit passes.
func dialRaw(ctx context.Context, sa unix.Sockaddr, family int, src int32, rcvbuf int) (int, error) {
	fd, err := newSocket(family)
	if err != nil {
		return -1, os.NewSyscallError("socket", err)
	}
	fail := func(op string, err error) (int, error) {
		unix.Close(fd)
		return -1, os.NewSyscallError(op, err)
	}
	if src > 0 && family == unix.AF_INET && bindsSource {
		if err := bindSource(fd, src); err != nil {
			unix.Close(fd)
			return -1, err
		}
	}
	tv := unix.NsecToTimeval(ioSlice.Nanoseconds())
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_SNDTIMEO, &tv); err != nil {
		return fail("setsockopt SO_SNDTIMEO", err)
	}
	if rcvbuf > 0 {
		if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, rcvbuf); err != nil {
			return fail("setsockopt SO_RCVBUF", err)
		}
	}
	if err := unix.Connect(fd, sa); err != nil {
		if !errors.Is(err, unix.EINPROGRESS) && !errors.Is(err, unix.EAGAIN) && !errors.Is(err, unix.EINTR) {
			return fail("connect", err)
		}
		if err := awaitConnect(ctx, fd); err != nil {
			unix.Close(fd)
			return -1, err
		}
	}
	if err := unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1); err != nil {
		return fail("setsockopt", err)
	}
	return fd, nil
}

// awaitConnect waits for a connect still in progress on fd.
func awaitConnect(ctx context.Context, fd int) error {
	deadline := time.Now().Add(connectLimit)
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("connect: no answer within %s", connectLimit)
		}
		pfd := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLOUT}}
		n, err := unix.Poll(pfd, int(ioSlice.Milliseconds()))
		if err != nil && !errors.Is(err, unix.EINTR) {
			return os.NewSyscallError("poll", err)
		}
		if n > 0 {
			soErr, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_ERROR)
			if err != nil {
				return os.NewSyscallError("getsockopt SO_ERROR", err)
			}
			if soErr != 0 {
				return os.NewSyscallError("connect", unix.Errno(soErr))
			}
			return nil
		}
	}
}

// writeAll writes b to the blocking socket fd; a send timeout on fd
// (SO_SNDTIMEO) lets it give up when ctx ends.
func writeAll(ctx context.Context, fd int, b []byte) error {
	_, err := writeCounted(ctx, fd, b)
	return err
}

// writeCounted is writeAll that also says how many bytes the socket took,
// all of b unless it failed.
func writeCounted(ctx context.Context, fd int, b []byte) (int, error) {
	written := 0
	for written < len(b) {
		n, err := unix.Write(fd, b[written:])
		if errors.Is(err, unix.EINTR) || errors.Is(err, unix.EAGAIN) {
			if err := ctx.Err(); err != nil {
				return written, err
			}
			continue
		}
		if err != nil {
			return written, err
		}
		written += n
	}
	return written, nil
}

// sendProxyHeader writes the PROXY header (version "v1" or "v2") a proxy
// would send for the connection on fd: its own two ends, as the client's
// and the destination's addresses.
func sendProxyHeader(ctx context.Context, fd int, version string) error {
	local, err := unix.Getsockname(fd)
	if err != nil {
		return os.NewSyscallError("getsockname", err)
	}
	peer, err := unix.Getpeername(fd)
	if err != nil {
		return os.NewSyscallError("getpeername", err)
	}
	v := byte(1)
	if version == "v2" {
		v = 2
	}
	hdr, err := proxyproto.HeaderProxyFromAddrs(v, tcpAddr(local), tcpAddr(peer)).Format()
	if err != nil {
		return fmt.Errorf("bench: PROXY header: %w", err)
	}
	return writeAll(ctx, fd, hdr)
}

// tcpAddr converts an IPv4 or IPv6 socket address; nil for others.
func tcpAddr(sa unix.Sockaddr) *net.TCPAddr {
	switch a := sa.(type) {
	case *unix.SockaddrInet4:
		return &net.TCPAddr{IP: net.IP(a.Addr[:]), Port: a.Port}
	case *unix.SockaddrInet6:
		return &net.TCPAddr{IP: net.IP(a.Addr[:]), Port: a.Port}
	}
	return nil
}
