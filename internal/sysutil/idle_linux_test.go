//go:build linux

package sysutil

import (
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

func writeStat(t *testing.T, path, cpu0, cpu1 string) {
	t.Helper()
	text := "cpu  1 2 3 4 5 6 7 8 0 0\ncpu0 " + cpu0 + "\ncpu1 " + cpu1 + "\nintr 1 2 3\n"
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
}

// cpusAre returns an affinity that reports the given CPUs.
func cpusAre(cpus ...int) func(*unix.CPUSet) error {
	return func(set *unix.CPUSet) error {
		set.Zero()
		for _, c := range cpus {
			set.Set(c)
		}
		return nil
	}
}

func TestIdleMeterCountsOnlyItsCPUs(t *testing.T) {
	path := filepath.Join(t.TempDir(), "stat")
	// user nice system idle iowait irq softirq steal guest guest_nice
	writeStat(t, path, "100 0 0 100 0 0 0 0 50 0", "0 0 0 1000 0 0 0 0 0 0")
	m, err := newIdleMeter(path, cpusAre(0))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := m.Idle(); ok {
		t.Fatal("no time passed, yet Idle reported a fraction")
	}
	// cpu0: 30 busy (10 of them steal), 10 idle, 10 iowait; cpu1 all idle
	// but not ours. Guest time (already in user) is not counted twice.
	writeStat(t, path, "120 0 0 110 10 0 0 10 90 0", "0 0 0 2000 0 0 0 0 0 0")
	idle, ok := m.Idle()
	if !ok || idle != 0.4 {
		t.Fatalf("Idle() = %v, %v; want 0.4 (20 idle+iowait of 50 ticks)", idle, ok)
	}
	// iowait went back (the kernel allows it): no reading, a new start.
	writeStat(t, path, "130 0 0 110 5 0 0 10 90 0", "0 0 0 2000 0 0 0 0 0 0")
	if idle, ok := m.Idle(); ok {
		t.Fatalf("Idle() = %v after iowait went back; want no reading", idle)
	}
	writeStat(t, path, "140 0 0 120 5 0 0 10 90 0", "0 0 0 2000 0 0 0 0 0 0")
	if idle, ok := m.Idle(); !ok || idle != 0.5 {
		t.Fatalf("Idle() = %v, %v after the new start; want 0.5", idle, ok)
	}
	// Pinned elsewhere meanwhile: one reading to start over, then cpu1's.
	m.affinity = cpusAre(1)
	if _, ok := m.Idle(); ok {
		t.Fatal("the CPUs changed, yet Idle mixed old and new ones")
	}
	writeStat(t, path, "999 0 0 110 10 0 0 10 90 0", "100 0 0 2100 0 0 0 0 0 0")
	if idle, ok := m.Idle(); !ok || idle != 0.5 {
		t.Fatalf("Idle() = %v, %v on cpu1; want 0.5", idle, ok)
	}
}

func TestIdleMeterRefusesStatWithoutItsCPUs(t *testing.T) {
	path := filepath.Join(t.TempDir(), "stat")
	writeStat(t, path, "1 0 0 1 0 0 0 0 0 0", "1 0 0 1 0 0 0 0 0 0")
	if _, err := newIdleMeter(path, cpusAre(5)); err == nil {
		t.Fatal("a /proc/stat without the process's CPUs was accepted")
	}
}

func TestIdleMeterOnThisMachine(t *testing.T) {
	m, err := NewIdleMeter()
	if err != nil {
		t.Skipf("no /proc/stat here: %v", err)
	}
	t.Logf("cgroup cpu.stat: %q", m.throttleFile)
	for range 3 {
		if idle, ok := m.Idle(); ok && (idle < 0 || idle > 1) {
			t.Fatalf("Idle() = %v, outside 0..1", idle)
		}
	}
}

func TestIdleMeterSeesAQuotaRunOut(t *testing.T) {
	dir := t.TempDir()
	path, cgroup := filepath.Join(dir, "stat"), filepath.Join(dir, "cpu.stat")
	writeStat(t, path, "0 0 0 100 0 0 0 0 0 0", "0 0 0 100 0 0 0 0 0 0")
	writeThrottled := func(n string) {
		if err := os.WriteFile(cgroup, []byte("nr_periods 9\nnr_throttled "+n+"\nthrottled_time 1\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	writeThrottled("3")
	m, err := newIdleMeter(path, cpusAre(0, 1))
	if err != nil {
		t.Fatal(err)
	}
	m.throttleFile = cgroup
	m.throttled, _ = readThrottled(cgroup)
	// The host's CPUs were idle, but the cgroup was throttled meanwhile.
	writeStat(t, path, "0 0 0 200 0 0 0 0 0 0", "0 0 0 200 0 0 0 0 0 0")
	writeThrottled("5")
	if idle, ok := m.Idle(); !ok || idle != 0 {
		t.Fatalf("Idle() = %v, %v after the quota ran out; want 0 (saturated)", idle, ok)
	}
	// Not throttled since: the host's idle time counts again.
	writeStat(t, path, "0 0 0 300 0 0 0 0 0 0", "0 0 0 300 0 0 0 0 0 0")
	if idle, ok := m.Idle(); !ok || idle != 1 {
		t.Fatalf("Idle() = %v, %v; want 1", idle, ok)
	}
}
