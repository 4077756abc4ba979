package bench

import (
	"bytes"
	"os"
	"strconv"
	"syscall"
	"time"
)

// procSample is one look at a process in /proc.
type procSample struct {
	cpu time.Duration // user + system CPU so far
	rss uint64        // resident set now, bytes
	hwm uint64        // peak resident set, bytes
}

// clockTick is USER_HZ, the unit of /proc/<pid>/stat times; 100 on Linux.
const clockTick = 100

// sampleProc reads pid's CPU time and memory; zero values when pid is 0 or
// the process cannot be read.
func sampleProc(pid int) procSample {
	var s procSample
	if pid <= 0 {
		return s
	}
	p := "/proc/" + strconv.Itoa(pid)
	if stat, err := os.ReadFile(p + "/stat"); err == nil {
		// Fields after the ")" closing the command name; utime and stime
		// are fields 14 and 15 of the whole line.
		if i := bytes.LastIndexByte(stat, ')'); i >= 0 {
			f := bytes.Fields(stat[i+1:])
			if len(f) > 13 {
				ut, _ := strconv.ParseUint(string(f[11]), 10, 64)
				st, _ := strconv.ParseUint(string(f[12]), 10, 64)
				s.cpu = time.Duration(ut+st) * time.Second / clockTick
			}
		}
	}
	if status, err := os.ReadFile(p + "/status"); err == nil {
		s.rss = statusKB(status, "VmRSS:") * 1024
		s.hwm = statusKB(status, "VmHWM:") * 1024
	}
	return s
}

// sampleProcs sums the samples of several processes (peaks are summed too:
// an upper bound of the combined peak).
func sampleProcs(pids []int) procSample { return sumSamples(sampleEach(pids)) }

// sumSamples adds samples up.
func sumSamples(samples []procSample) procSample {
	var sum procSample
	for _, s := range samples {
		sum.cpu += s.cpu
		sum.rss += s.rss
		sum.hwm += s.hwm
	}
	return sum
}

// sampleEach samples each process apart.
func sampleEach(pids []int) []procSample {
	out := make([]procSample, len(pids))
	for i, pid := range pids {
		out[i] = sampleProc(pid)
	}
	return out
}

func statusKB(status []byte, key string) uint64 {
	i := bytes.Index(status, []byte(key))
	if i < 0 {
		return 0
	}
	f := bytes.Fields(status[i+len(key):])
	if len(f) == 0 {
		return 0
	}
	v, _ := strconv.ParseUint(string(f[0]), 10, 64)
	return v
}

// selfCPU is this process's user + system CPU time so far.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// awaitExit waits up to timeout for the child process proc to exit, as
// reported on done; past it, it kills the child and waits for that. It
// returns what done delivered and whether the child had to be killed.
func awaitExit[T any](proc *os.Process, done <-chan T, timeout time.Duration) (T, bool) {
	select {
	case v := <-done:
		return v, false
	case <-time.After(timeout):
		_ = proc.Kill()
		return <-done, true
	}
}
