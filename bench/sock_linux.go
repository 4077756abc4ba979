//go:build linux && !fanout_portable

package bench

import (
	"os"

	"golang.org/x/sys/unix"
)

// bindsSource says whether dialRaw binds the loopback source address it
// is given, so that a run moves to the next one when ports run out.
const bindsSource = true

// newSocket opens a blocking TCP socket, closed on exec.
func newSocket(family int) (int, error) {
	return unix.Socket(family, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
}

// bindSource binds fd to 127.0.0.(src+1) and no port: the port is taken
// at connect, which may reuse one for another destination, not at bind,
// whose search slows as ports fill.
func bindSource(fd int, src int32) error {
	if err := unix.SetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_BIND_ADDRESS_NO_PORT, 1); err != nil {
		return os.NewSyscallError("setsockopt IP_BIND_ADDRESS_NO_PORT", err)
	}
	if err := unix.Bind(fd, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, byte(src + 1)}}); err != nil {
		return os.NewSyscallError("bind", err)
	}
	return nil
}

// established says whether TCP still calls the connection on fd
// established: a reset or the server's FIN moves it out.
func established(fd int) bool {
	info, err := unix.GetsockoptTCPInfo(fd, unix.IPPROTO_TCP, unix.TCP_INFO)
	return err == nil && info.State == unix.BPF_TCP_ESTABLISHED
}
