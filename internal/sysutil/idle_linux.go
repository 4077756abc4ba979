//go:build linux

package sysutil

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// IdleMeter tells how idle the CPUs this process may run on were since it
// was last asked, from the kernel's per-CPU times in /proc/stat. It is what
// the server's delivery pacing watches to tell whether writing more often
// would starve something else: its own loops, or another process sharing
// the cores. A CPU quota is seen too: when the process's cgroup was
// throttled (cpu.stat's nr_throttled grew), the CPUs count as saturated
// whatever /proc/stat says, since a container's quota runs out long before
// the host's CPUs do. Not safe for concurrent use: one caller at a time.
type IdleMeter struct {
	path     string
	affinity func(*unix.CPUSet) error // the CPUs the process may run on now
	cpus     unix.CPUSet              // the CPUs counted in idle and total
	idle     uint64                   // idle+iowait ticks of those CPUs at the last reading
	total    uint64                   // all ticks of those CPUs at the last reading

	throttleFile string // the process's cgroup cpu.stat; "" when none counts throttling
	throttled    uint64 // its nr_throttled at the last reading
}

// NewIdleMeter returns a meter over the CPUs the calling thread may run
// on (asked again at each reading: a process pinned later, by taskset -p
// or a cpuset, is followed), and takes its first reading. It fails where
// /proc/stat cannot be read or lists none of those CPUs.
func NewIdleMeter() (*IdleMeter, error) {
	return newIdleMeter("/proc/stat", func(set *unix.CPUSet) error {
		if err := unix.SchedGetaffinity(0, set); err != nil {
			return fmt.Errorf("cpu idle meter: %w", os.NewSyscallError("sched_getaffinity", err))
		}
		return nil
	})
}

func newIdleMeter(path string, affinity func(*unix.CPUSet) error) (*IdleMeter, error) {
	m := &IdleMeter{path: path, affinity: affinity, throttleFile: cgroupCPUStat()}
	m.throttled, _ = readThrottled(m.throttleFile)
	if err := affinity(&m.cpus); err != nil {
		return nil, err
	}
	idle, total, err := m.read()
	if err != nil {
		return nil, err
	}
	m.idle, m.total = idle, total
	return m, nil
}

// Idle returns the fraction (0..1) of the counted CPUs' time that was idle
// since the previous call, and false when no time passed in between (the
// kernel counts in ticks, usually 10 ms), the process's CPUs changed (the
// next call measures the new ones) or /proc/stat could not be read.
func (m *IdleMeter) Idle() (float64, bool) {
	var cpus unix.CPUSet
	if err := m.affinity(&cpus); err != nil {
		return 0, false
	}
	if cpus != m.cpus {
		m.cpus = cpus
		if idle, total, err := m.read(); err == nil {
			m.idle, m.total = idle, total
		}
		return 0, false
	}
	idle, total, err := m.read()
	if err == nil && (idle < m.idle || total <= m.total) {
		// No tick passed, or a counter went back (the kernel documents
		// that iowait can): start over from this reading.
		m.idle, m.total = idle, total
		return 0, false
	}
	if err != nil {
		return 0, false
	}
	frac := float64(idle-m.idle) / float64(total-m.total)
	m.idle, m.total = idle, total
	if n, ok := readThrottled(m.throttleFile); ok && n != m.throttled {
		m.throttled = n
		return 0, true // the quota ran out: saturated, however idle the host
	}
	return min(max(frac, 0), 1), true
}

// cgroupCPUStat finds the cpu.stat of the process's cgroup (v2, or v1's
// cpu controller), "" when there is none.
func cgroupCPUStat() string {
	b, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return ""
	}
	var candidates []string
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			continue
		}
		switch {
		case parts[0] == "0" && parts[1] == "": // v2
			candidates = append(candidates, filepath.Join("/sys/fs/cgroup", parts[2], "cpu.stat"))
		case slices.Contains(strings.Split(parts[1], ","), "cpu"): // v1
			candidates = append(candidates, filepath.Join("/sys/fs/cgroup", parts[1], parts[2], "cpu.stat"),
				filepath.Join("/sys/fs/cgroup/cpu", parts[2], "cpu.stat"))
		}
	}
	for _, c := range candidates {
		if _, ok := readThrottled(c); ok {
			return c
		}
	}
	return ""
}

// readThrottled returns the nr_throttled count of a cgroup cpu.stat file.
func readThrottled(path string) (uint64, bool) {
	if path == "" {
		return 0, false
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, false
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "nr_throttled "); ok {
			n, err := strconv.ParseUint(strings.TrimSpace(v), 10, 64)
			return n, err == nil
		}
	}
	return 0, false
}

// read sums idle and total ticks over the counted CPUs. A line reads
// "cpuN user nice system idle iowait irq softirq steal guest guest_nice";
// guest time is already inside user, and steal (the hypervisor ran someone
// else) counts as busy: it is time this process could not have had.
func (m *IdleMeter) read() (idle, total uint64, err error) {
	f, err := os.Open(m.path)
	if err != nil {
		return 0, 0, fmt.Errorf("cpu idle meter: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	found := 0
	for sc.Scan() {
		line := sc.Bytes()
		if !bytes.HasPrefix(line, []byte("cpu")) {
			break // the cpu lines come first
		}
		fields := bytes.Fields(line)
		cpu, err := strconv.Atoi(string(fields[0][3:]))
		if err != nil || !m.cpus.IsSet(cpu) {
			continue // the "cpu" summary line, or a CPU not ours
		}
		found++
		for i, field := range fields[1:min(len(fields), 9)] {
			v, err := strconv.ParseUint(string(field), 10, 64)
			if err != nil {
				return 0, 0, fmt.Errorf("cpu idle meter: %s: bad field %q", m.path, field)
			}
			total += v
			if i == 3 || i == 4 { // idle, iowait
				idle += v
			}
		}
	}
	if err := sc.Err(); err != nil {
		return 0, 0, fmt.Errorf("cpu idle meter: %s: %w", m.path, err)
	}
	if found == 0 {
		return 0, 0, fmt.Errorf("cpu idle meter: %s lists none of this process's CPUs", m.path)
	}
	return idle, total, nil
}
