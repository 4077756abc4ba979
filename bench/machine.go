package bench

import (
	"fmt"
	"net"
	"os"
	"runtime"

	"github.com/fanout/fanout/internal/sysutil"
	"github.com/fanout/fanout/server"
)

// Build is the fanout build that runs the harness, as /varz and `fanout
// version` give it; main sets it.
var Build = server.BuildInfo{Version: "devel", GitCommit: "unknown", GoVersion: runtime.Version()}

// Machine says what a run was measured with and where.
type Machine struct {
	FanoutVersion string `json:"fanout_version"`       // the harness's build: the server's too, but with --server-bin or --addr
	GitCommit     string `json:"git_commit"`           // of that build
	GoVersion     string `json:"go"`                   // the toolchain that built it
	ServerBinary  string `json:"server_bin,omitempty"` // --server-bin: the server's build instead
	Host          string `json:"host"`                 // the generator's host name
	OS            string `json:"os"`                   // GOOS/GOARCH
	CPUs          int    `json:"cpus"`                 // CPUs the generator could use when it started
	SharedCPUs    bool   `json:"shared_cpus"`          // the server(s) and the generator may run on the same CPUs
}

// machine describes this run of the harness against t.
func machine(t Target, local bool) Machine {
	host, _ := os.Hostname()
	return Machine{FanoutVersion: Build.Version, GitCommit: Build.GitCommit, GoVersion: Build.GoVersion, ServerBinary: ServerBinary, Host: host,
		OS: runtime.GOOS + "/" + runtime.GOARCH, CPUs: runtime.NumCPU(), SharedCPUs: local && shareCPUs(t)}
}

// shareCPUs says whether a server process of t may run on a CPU this
// generator may run on; true when it cannot tell (no PIDs known).
func shareCPUs(t Target) bool {
	pids := append(append([]int{}, t.PIDs...), t.NATSPIDs...)
	if len(pids) == 0 {
		return true
	}
	for _, pid := range pids {
		if sysutil.ShareCPUs(0, pid) {
			return true
		}
	}
	return false
}

// onThisHost says whether every address of --addr is on this machine: a
// loopback address or one of its interfaces'.
func onThisHost(addrs []string) bool {
	own, _ := net.InterfaceAddrs()
	for _, a := range addrs {
		host, _, err := net.SplitHostPort(a)
		if err != nil {
			return true // not dialable anyway; assume the worst
		}
		ips, err := net.LookupIP(host)
		if host == "" || err != nil || len(ips) == 0 {
			return true
		}
		if !ips[0].IsLoopback() && !ipIn(ips[0], own) {
			return false
		}
	}
	return true
}

func ipIn(ip net.IP, addrs []net.Addr) bool {
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && n.IP.Equal(ip) {
			return true
		}
	}
	return false
}

// sharedCPUsWarning is said when the server and the generator may run on
// the same CPUs, so that nobody reads the figures as the server's alone.
func sharedCPUsWarning(m Machine) string {
	return fmt.Sprintf("warning: the server and this load generator share CPUs (%d here): the figures include their contention; "+
		"pin them apart with --server-cpus and --client-cpus", m.CPUs)
}

// describeMachine is the table's line about where it was measured.
func describeMachine(m Machine) string {
	s := fmt.Sprintf("measured on %s (%s, %d CPUs) by fanout %s (commit %s, %s)", m.Host, m.OS, m.CPUs, m.FanoutVersion, m.GitCommit, m.GoVersion)
	if m.ServerBinary != "" {
		s += ", server " + m.ServerBinary
	}
	if m.SharedCPUs {
		s += "\n" + sharedCPUsWarning(m)
	}
	return s
}
