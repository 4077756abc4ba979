//go:build !linux

package sysutil

import "errors"

// IdleMeter is not available here: it reads Linux's /proc/stat. The
// server then keeps its coalescing duty fixed (see shard.DefaultDuty).
type IdleMeter struct{}

// NewIdleMeter fails: the CPUs' idle time is read from Linux's /proc/stat.
func NewIdleMeter() (*IdleMeter, error) {
	return nil, errors.New("cpu idle meter: needs Linux's /proc/stat")
}

// Idle never reports: see NewIdleMeter.
func (*IdleMeter) Idle() (float64, bool) { return 0, false }
