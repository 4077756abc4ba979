//go:build !linux

package sysutil

import "errors"

// errNoPinning: pinning threads to CPUs uses Linux's sched_setaffinity.
var errNoPinning = errors.New("pinning to CPUs needs Linux (sched_setaffinity)")

// ParseCPUList refuses every list: CPUs cannot be pinned here.
func ParseCPUList(string) (struct{}, error) { return struct{}{}, errNoPinning }

// PinProcess fails: CPUs cannot be pinned here.
func PinProcess(int, string) error { return errNoPinning }

// ShareCPUs is always true: processes cannot be kept apart here.
func ShareCPUs(int, int) bool { return true }
