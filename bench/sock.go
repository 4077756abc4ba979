package bench

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// The generator's connections are raw blocking sockets read through its
// own epoll instances, a few reader goroutines for all of them, instead of
// a goroutine per connection on Go's netpoller: at a million deliveries a
// second that halves the read syscalls (no EAGAIN read before each park)
// and drops the goroutine wake-ups, so the generator takes less of the
// CPU it shares with the server it measures.

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

// dialRaw opens a blocking TCP socket to sa, bound to 127.0.0.(src+1) when
// src > 0, with Nagle off.
func dialRaw(sa unix.Sockaddr, family int, src int32) (int, error) {
	fd, err := unix.Socket(family, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, os.NewSyscallError("socket", err)
	}
	if src > 0 && family == unix.AF_INET {
		if err := unix.Bind(fd, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, byte(src + 1)}}); err != nil {
			unix.Close(fd)
			return -1, os.NewSyscallError("bind", err)
		}
	}
	if err := unix.Connect(fd, sa); err != nil {
		unix.Close(fd)
		return -1, os.NewSyscallError("connect", err)
	}
	if err := unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1); err != nil {
		unix.Close(fd)
		return -1, os.NewSyscallError("setsockopt", err)
	}
	return fd, nil
}

// writeAll writes b to the blocking socket fd; a send timeout on fd
// (SO_SNDTIMEO) lets it give up when ctx ends.
func writeAll(ctx context.Context, fd int, b []byte) error {
	for len(b) > 0 {
		n, err := unix.Write(fd, b)
		if errors.Is(err, unix.EINTR) || errors.Is(err, unix.EAGAIN) {
			if err := ctx.Err(); err != nil {
				return err
			}
			continue
		}
		if err != nil {
			return err
		}
		b = b[n:]
	}
	return nil
}
