package sysutil

import "syscall"

// FDReserve is how many file descriptors are kept free for everything but
// client connections: listeners, logs, the runtime, pipes to children.
const FDReserve = 64

// RaiseFileLimit lifts the soft open-file limit to the hard one, so that
// the process holds as many connections as the machine allows, and returns
// the limit now in force. Where the hard limit is one the system refuses
// as a soft one (macOS: unlimited, above kern.maxfilesperproc), the soft
// limit stays as it was: Go's runtime raised it as far as it could at
// start-up.
func RaiseFileLimit() (uint64, error) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 0, err
	}
	if lim.Cur < lim.Max {
		soft := lim.Cur
		lim.Cur = lim.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
			return uint64(soft), nil
		}
	}
	return uint64(lim.Cur), nil
}

// FileLimit returns the soft open-file limit, or 0 when it cannot be read.
func FileLimit() uint64 {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 0
	}
	return uint64(lim.Cur)
}
