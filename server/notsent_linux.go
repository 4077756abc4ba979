//go:build linux && !fanout_portable

package server

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// setNotsentLowat caps the bytes fd's socket holds that the kernel has not
// sent yet (--tcp-notsent-lowat): the socket reports no room past it, so
// a reader that is behind holds in the kernel what is in flight plus this,
// not a send buffer's worth of copies of the log.
func setNotsentLowat(fd, n int) error {
	if err := unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NOTSENT_LOWAT, n); err != nil {
		return fmt.Errorf("setting TCP_NOTSENT_LOWAT to %d: %w", n, err)
	}
	return nil
}

// notsentLowatAttr is the startup log's value for --tcp-notsent-lowat.
func notsentLowatAttr(n int) any { return n }
