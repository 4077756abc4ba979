//go:build linux

package sysutil

import (
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// ParseCPUList reads a CPU list as taskset and cpusets write it:
// "0-3,6,8-9". It refuses an empty list, a reversed range and a CPU the
// kernel's set cannot hold.
func ParseCPUList(list string) (unix.CPUSet, error) {
	var set unix.CPUSet
	if strings.TrimSpace(list) == "" {
		return set, fmt.Errorf("empty CPU list")
	}
	for _, part := range strings.Split(list, ",") {
		lo, hi, isRange := strings.Cut(strings.TrimSpace(part), "-")
		a, err := strconv.Atoi(lo)
		b := a
		if err == nil && isRange {
			b, err = strconv.Atoi(hi)
		}
		if err != nil || a < 0 || b < a || b >= len(set)*64 {
			return set, fmt.Errorf("bad CPU list %q: want e.g. 0-3,6", list)
		}
		for c := a; c <= b; c++ {
			set.Set(c)
		}
	}
	return set, nil
}

// PinProcess restricts every thread of process pid (0: this one) to the
// CPUs of list. Threads it starts later inherit the set from their parent.
func PinProcess(pid int, list string) error {
	set, err := ParseCPUList(list)
	if err != nil {
		return err
	}
	dir := "/proc/self/task"
	if pid > 0 {
		dir = "/proc/" + strconv.Itoa(pid) + "/task"
	}
	tasks, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("pin to CPUs %s: %w", list, err)
	}
	for _, t := range tasks {
		tid, err := strconv.Atoi(t.Name())
		if err != nil {
			continue
		}
		if err := unix.SchedSetaffinity(tid, &set); err != nil && err != unix.ESRCH { // ESRCH: the thread ended
			return fmt.Errorf("pin to CPUs %s: %w", list, os.NewSyscallError("sched_setaffinity", err))
		}
	}
	return nil
}

// ShareCPUs says whether processes a and b (0: this one) may run on a
// common CPU, as their affinity masks stand now; true when either mask
// cannot be read, since they may then share any.
func ShareCPUs(a, b int) bool {
	var sa, sb unix.CPUSet
	if unix.SchedGetaffinity(a, &sa) != nil || unix.SchedGetaffinity(b, &sb) != nil {
		return true
	}
	for c := range len(sa) * 64 {
		if sa.IsSet(c) && sb.IsSet(c) {
			return true
		}
	}
	return false
}
