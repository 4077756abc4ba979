// Package sysutil holds the system helpers the daemon and the benchmark
// harness share: the open-file limit and the descriptors kept back from
// it, the ready file and systemd notification that say a server listens,
// pinning a process's threads to CPUs, and measuring how idle those CPUs
// are. No goroutines; everything but IdleMeter (which keeps its last
// reading, a few words, for one caller at a time) is stateless and safe
// for concurrent use.
package sysutil

import "syscall"

// FDReserve is how many file descriptors are kept free for everything but
// client connections: listeners, logs, the runtime, pipes to children.
const FDReserve = 64

// RaiseFileLimit lifts the soft open-file limit to the hard one, so that
// the process holds as many connections as the machine allows, and returns
// the limit now in force.
func RaiseFileLimit() (uint64, error) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 0, err
	}
	if lim.Cur < lim.Max {
		lim.Cur = lim.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
			return 0, err
		}
	}
	return lim.Cur, nil
}

// FileLimit returns the soft open-file limit, or 0 when it cannot be read.
func FileLimit() uint64 {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 0
	}
	return lim.Cur
}
