package bench

import (
	"os"
	"runtime"
	"strings"
	"testing"
)

// TestMachineSaysWhereAndWarns: a run records the build, the host and
// its CPUs, and warns when the server may run on the generator's CPUs
// (here: its own process, or a local server whose PID is unknown), not
// when the server is elsewhere.
func TestMachineSaysWhereAndWarns(t *testing.T) {
	host, _ := os.Hostname()
	m := machine(Target{PIDs: []int{os.Getpid()}}, true)
	if m.Host != host || m.CPUs != runtime.NumCPU() || m.FanoutVersion != Build.Version || m.GoVersion != Build.GoVersion || !m.SharedCPUs {
		t.Errorf("machine %+v", m)
	}
	if !strings.Contains(describeMachine(m), "warning: the server and this load generator share CPUs") {
		t.Errorf("no warning in %q", describeMachine(m))
	}
	if m := machine(Target{}, true); !m.SharedCPUs {
		t.Error("a local server of unknown PID should count as sharing the CPUs")
	}
	if m := machine(Target{}, false); m.SharedCPUs || strings.Contains(describeMachine(m), "warning") {
		t.Errorf("a server elsewhere shares no CPU: %+v", m)
	}
	for _, tc := range []struct {
		addrs []string
		local bool
	}{
		{addrs: []string{"127.0.0.1:8888"}, local: true},
		{addrs: []string{"localhost:8888", "127.0.0.2:1"}, local: true},
		{addrs: []string{"192.0.2.1:8888"}, local: false}, // TEST-NET-1: no interface of ours
	} {
		if got := onThisHost(tc.addrs); got != tc.local {
			t.Errorf("onThisHost(%v) = %t, want %t", tc.addrs, got, tc.local)
		}
	}
}
