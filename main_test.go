package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/fanout/fanout/internal/sysutil"
	"github.com/fanout/fanout/internal/testutil"
	"github.com/fanout/fanout/server"
)

// TestMain checks for leaked goroutines and removes the binary the
// end-to-end tests built, once every test (of every -count) has run.
func TestMain(m *testing.M) {
	defer func() {
		if builtDir != "" {
			_ = os.RemoveAll(builtDir)
		}
	}()
	testutil.VerifyTestMain(m)
}

var waitUntil = testutil.WaitFor

// builtDir holds the binary buildBinary made; TestMain removes it.
var builtDir string

// buildBinary compiles fanout once per test process, however many tests
// and -count repetitions use it.
var buildBinary = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "fanout-e2e-")
	if err != nil {
		return "", err
	}
	builtDir = dir
	bin := filepath.Join(dir, "fanout")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build: %v\n%s", err, out)
	}
	return bin, nil
})

func binary(t *testing.T) string {
	t.Helper()
	bin, err := buildBinary()
	if err != nil {
		t.Fatal(err)
	}
	return bin
}

// startProcess starts cmd and kills it (by its PID) if the test ends first.
func startProcess(t *testing.T, cmd *exec.Cmd) {
	t.Helper()
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", cmd.Path, err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	})
}

// waitProcess waits for cmd (started with startProcess) to exit and
// returns its error; the test fails if it runs past timeout.
func waitProcess(t *testing.T, cmd *exec.Cmd, timeout time.Duration) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		return err
	case <-time.After(timeout):
		t.Fatalf("%s did not exit within %s", cmd.Path, timeout)
		return nil
	}
}

// ncClient is an `nc` process connected to the server.
type ncClient struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	out   *testutil.Buffer
}

func startNC(t *testing.T, addr string) *ncClient {
	t.Helper()
	host, port, _ := strings.Cut(addr, ":")
	cmd := exec.Command("nc", host, port)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	c := &ncClient{cmd: cmd, stdin: stdin, out: &testutil.Buffer{}}
	cmd.Stdout = c.out
	startProcess(t, cmd)
	return c
}

var (
	listenRE  = regexp.MustCompile(`msg=listening addr=(\S+)`)
	linesInRE = regexp.MustCompile(`(?m)^fanout_lines_in_total (\d+)`)
)

// linesIn scrapes the server's count of lines read and relayed.
func linesIn(metricsAddr string) int {
	resp, err := http.Get("http://" + metricsAddr + "/metrics")
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	m := linesInRE.FindSubmatch(body)
	if m == nil {
		return -1
	}
	n, _ := strconv.Atoi(string(m[1]))
	return n
}

func TestEndToEndWithNetcat(t *testing.T) {
	if _, err := exec.LookPath("nc"); err != nil {
		// .ci/run installs nc, so CI always runs this test; a developer
		// machine without it is told what to install.
		if os.Getenv("CI") != "" {
			t.Fatalf("nc is required (apt-get install netcat-openbsd): %v", err)
		}
		t.Skipf("nc not installed (apt-get install netcat-openbsd): %v", err)
	}
	bin := binary(t)
	logs := &testutil.Buffer{}
	readyFile := filepath.Join(t.TempDir(), "ready")
	srv := exec.Command(bin, "serve", "--addr", "127.0.0.1:0", "--metrics-addr", "127.0.0.1:0", "--log-level", "debug",
		"--ready-file", readyFile)
	srv.Stderr = logs
	startProcess(t, srv)
	var addr, metricsAddr string
	waitUntil(t, "the ready file", func() bool {
		a, err1 := sysutil.ReadReadyFile(readyFile, "addr")
		m, err2 := sysutil.ReadReadyFile(readyFile, "metrics_addr")
		if err1 != nil || err2 != nil || len(a) != 1 || len(m) != 1 {
			return false
		}
		addr, metricsAddr = a[0], m[0]
		return true
	})
	if m := listenRE.FindStringSubmatch(logs.String()); m == nil || m[1] != addr {
		t.Errorf("the listening log line does not name %s:\n%s", addr, logs.String())
	}

	a, b := startNC(t, addr), startNC(t, addr)
	waitUntil(t, "two connections", func() bool { return strings.Count(logs.String(), "connection opened") == 2 })

	fmt.Fprint(a.stdin, "hello from a\n")
	waitUntil(t, "b to hear a", func() bool { return strings.Contains(b.out.String(), ":hello from a\r\n") })
	fmt.Fprint(b.stdin, "hi a, b here\r\n")
	waitUntil(t, "a to hear b", func() bool { return strings.Contains(a.out.String(), ":hi a, b here\r\n") })
	if strings.Contains(a.out.String(), "hello from a") || strings.Contains(b.out.String(), "b here") {
		t.Fatalf("a line was echoed to its sender: a=%q b=%q", a.out.String(), b.out.String())
	}

	// A burst, then SIGTERM as soon as the server has read all of it (its
	// own line counter says so), typically before b has it all: what is
	// queued must be drained, not dropped. Lines the server had not read
	// yet would be dropped by design, so the test waits for the count.
	const burst = 2000
	var sb strings.Builder
	for i := range burst {
		fmt.Fprintf(&sb, "burst %d\n", i)
	}
	fmt.Fprint(a.stdin, sb.String())
	waitUntil(t, "the server to read the whole burst", func() bool { return linesIn(metricsAddr) >= burst+2 })
	if err := srv.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := waitProcess(t, srv, 20*time.Second); err != nil {
		t.Fatalf("server exited with %v; want 0\n%s", err, logs.String())
	}
	deadline := time.Now().Add(15 * time.Second)
	for !strings.Contains(b.out.String(), fmt.Sprintf(":burst %d\r\n", burst-1)) {
		if time.Now().After(deadline) {
			t.Fatalf("b got %d of %d burst lines after the drain\n%s", strings.Count(b.out.String(), ":burst "), burst, logs.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
	sc := bufio.NewScanner(strings.NewReader(b.out.String()))
	next := 0
	for sc.Scan() {
		if _, body, _ := strings.Cut(strings.TrimSuffix(sc.Text(), "\r"), ":"); strings.HasPrefix(body, "burst ") {
			if body != fmt.Sprintf("burst %d", next) {
				t.Fatalf("got %q, want burst %d", body, next)
			}
			next++
		}
	}
	if next != burst {
		t.Fatalf("b got %d of %d burst lines", next, burst)
	}
	if !strings.Contains(logs.String(), "shutdown complete") {
		t.Errorf("no shutdown summary in the log:\n%s", logs.String())
	}
	if _, err := os.Stat(readyFile); !os.IsNotExist(err) {
		t.Errorf("the ready file outlived the server: %v", err)
	}
}

// runBench runs `fanout bench args...` to its end, at most limit, and
// returns what it wrote to standard output and standard error; a failed
// run fails t with the latter.
func runBench(t *testing.T, bin string, limit time.Duration, args ...string) (stdout, stderr *bytes.Buffer) {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"bench"}, args...)...)
	stdout, stderr = new(bytes.Buffer), new(bytes.Buffer)
	cmd.Stdout, cmd.Stderr = stdout, stderr
	startProcess(t, cmd)
	if err := waitProcess(t, cmd, limit); err != nil {
		t.Fatalf("bench: %v\n%s", err, stderr.String())
	}
	return stdout, stderr
}

// TestBenchFindsServerByReadyFile: the harness starts its own server and
// finds it through --ready-file, whatever the server's log format.
func TestBenchFindsServerByReadyFile(t *testing.T) {
	bin := binary(t)
	stdout, stderr := runBench(t, bin, 60*time.Second, "--scenario", "room", "--clients", "20", "--senders", "2", "--rate", "200",
		"--duration", "1s", "--warmup", "0s", "--drain", "5s", "--server-args", "--log-format json", "--json")
	if !strings.Contains(stdout.String(), `"lost": 0,`) || !strings.Contains(stdout.String(), `"deliveries_received"`) {
		t.Fatalf("unexpected result:\n%s\n%s", stdout.String(), stderr.String())
	}
}

// TestBenchWorkersAndNATSCluster: one `fanout bench` with two generator
// worker processes drives three nodes joined by a two-server NATS cluster
// (all child processes); the merged report counts every line once, per
// sender in order, and shows every node's and the NATS servers' figures.
func TestBenchWorkersAndNATSCluster(t *testing.T) {
	bin := binary(t)
	stdout, stderr := runBench(t, bin, 90*time.Second, "--scenario", "room", "--clients", "60", "--senders", "6", "--rate", "120",
		"--duration", "1s", "--warmup", "0s", "--drain", "10s", "--nodes", "3", "--nats-servers", "2", "--workers", "2", "--json")
	var results []struct {
		Sent      uint64 `json:"lines_sent"`
		Expected  uint64 `json:"deliveries_expected"`
		Received  uint64 `json:"deliveries_received"`
		Lost      uint64 `json:"lost"`
		Dups      uint64 `json:"duplicates_or_reordered"`
		Workers   int    `json:"workers"`
		NATSPeak  uint64 `json:"nats_peak_rss_bytes"`
		Nodes     []any  `json:"nodes"`
		Histogram struct {
			P99 float64 `json:"p99"`
		} `json:"latency_ms"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &results); err != nil || len(results) != 1 {
		t.Fatalf("output: %v\n%s\n%s", err, stdout.String(), stderr.String())
	}
	r := results[0]
	if r.Sent == 0 || r.Expected != r.Sent*59 || r.Received != r.Expected || r.Lost != 0 || r.Dups != 0 {
		t.Fatalf("sent %d, expected %d, received %d, lost %d, dups %d\n%s", r.Sent, r.Expected, r.Received, r.Lost, r.Dups, stderr.String())
	}
	if r.Workers != 2 || len(r.Nodes) != 3 || r.NATSPeak == 0 || r.Histogram.P99 <= 0 {
		t.Fatalf("workers %d, nodes %d, NATS peak RSS %d, p99 %g", r.Workers, len(r.Nodes), r.NATSPeak, r.Histogram.P99)
	}
}

// TestBenchSlowReadersAcrossWorkers: slow readers, their cuts and the
// lines sent each second survive the split over worker processes: the
// merged report has every slow reader's rate and a sent timeline that
// adds up to no more than the lines sent.
func TestBenchSlowReadersAcrossWorkers(t *testing.T) {
	bin := binary(t)
	stdout, stderr := runBench(t, bin, 60*time.Second, "--scenario", "slowreader", "--clients", "8", "--slow-readers", "2", "--slow-read-rate", "200000",
		"--blast=false", "--rate", "1000", "--duration", "2s", "--drain", "10s", "--workers", "2", "--json")
	var results []struct {
		Sent         uint64    `json:"lines_sent"`
		Expected     uint64    `json:"deliveries_expected"`
		Received     uint64    `json:"deliveries_received"`
		Lost         uint64    `json:"lost"`
		Workers      int       `json:"workers"`
		SlowRates    []float64 `json:"slow_read_bytes_per_sec"`
		SlowReceived uint64    `json:"slow_deliveries_received"`
		SentTimeline []float64 `json:"sent_timeline_per_sec"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &results); err != nil || len(results) != 1 {
		t.Fatalf("output: %v\n%s\n%s", err, stdout.String(), stderr.String())
	}
	r := results[0]
	if r.Workers != 2 || len(r.SlowRates) != 2 || r.SlowReceived == 0 {
		t.Fatalf("workers %d, slow reader rates %v, slow received %d", r.Workers, r.SlowRates, r.SlowReceived)
	}
	if r.Sent == 0 || r.Expected != r.Sent*5 || r.Received != r.Expected || r.Lost != 0 { // 8 clients less the sender and 2 slow
		t.Fatalf("sent %d, expected %d, received %d, lost %d\n%s", r.Sent, r.Expected, r.Received, r.Lost, stderr.String())
	}
	sum := 0.0
	for _, v := range r.SentTimeline {
		sum += v
	}
	if len(r.SentTimeline) == 0 || sum == 0 || sum > float64(r.Sent) {
		t.Fatalf("sent timeline %v adds up to %g of %d lines sent", r.SentTimeline, sum, r.Sent)
	}
}

// children lists the PIDs of pid's child processes whose command line
// ends in "bench" (the harness's generator workers), from /proc.
func children(pid int) []int {
	var out []int
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		child, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", child))
		if err != nil {
			continue
		}
		// The parent PID is the second field after the ")" that closes the name.
		f := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
		cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", child))
		if len(f) > 1 && f[1] == strconv.Itoa(pid) && strings.HasSuffix(string(bytes.TrimRight(cmdline, "\x00")), "bench") {
			out = append(out, child)
		}
	}
	return out
}

// TestBenchStopsItsWorkers: the harness's worker processes end with it
// when it is interrupted, and when one of them dies the harness stops the
// run and says which.
func TestBenchStopsItsWorkers(t *testing.T) {
	bin := binary(t)
	cases := []struct {
		name    string
		stop    func(harness *os.Process, workers []int) error
		wantMsg string
	}{
		{name: "interrupted", wantMsg: "context canceled",
			stop: func(h *os.Process, _ []int) error { return h.Signal(syscall.SIGINT) }},
		{name: "a worker dies", wantMsg: "worker",
			stop: func(_ *os.Process, workers []int) error { return syscall.Kill(workers[0], syscall.SIGKILL) }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cmd := exec.Command(bin, "bench", "--scenario", "room", "--clients", "40", "--senders", "2", "--rate", "20",
				"--duration", "60s", "--warmup", "0s", "--workers", "2")
			var stderr testutil.Buffer
			cmd.Stderr = &stderr
			startProcess(t, cmd)
			var workers []int
			testutil.WaitFor(t, "two workers", func() bool {
				workers = children(cmd.Process.Pid)
				return len(workers) == 2
			})
			if err := tc.stop(cmd.Process, workers); err != nil {
				t.Fatal(err)
			}
			if err := waitProcess(t, cmd, 30*time.Second); err == nil {
				t.Fatalf("harness exited 0 after being stopped: %s", stderr.String())
			}
			if !strings.Contains(stderr.String(), tc.wantMsg) {
				t.Errorf("stderr does not say %q: %s", tc.wantMsg, stderr.String())
			}
			for _, w := range workers {
				if _, err := os.Stat(fmt.Sprintf("/proc/%d", w)); err == nil {
					t.Errorf("worker %d outlived the harness", w)
				}
			}
		})
	}
}

func TestBadFlagsExit2(t *testing.T) {
	cases := []struct {
		name    string
		args    []string
		env     string
		wantMsg string
	}{
		{name: "unknown flag", args: []string{"serve", "--bogus"}, wantMsg: "-bogus"},
		{name: "bad number", args: []string{"serve", "--max-line", "lots"}, wantMsg: `invalid value "lots" for --max-line: want a whole number`},
		{name: "bad number variable", args: []string{"serve"}, env: "FANOUT_RATE_LIMIT=fast", wantMsg: `for FANOUT_RATE_LIMIT (--rate-limit): want a number`},
		{name: "bad boolean", args: []string{"serve", "--pprof=maybe"}, wantMsg: `invalid boolean value "maybe" for --pprof: want true or false`},
		{name: "zero max line", args: []string{"serve", "--max-line", "0"}, wantMsg: "--max-line"},
		{name: "node out of range", args: []string{"serve", "--node", "1024"}, wantMsg: "--node"},
		{name: "removed flag", args: []string{"serve", "--max-pending", "100"}, wantMsg: "--max-pending was removed"},
		{name: "removed variable", args: []string{"serve"}, env: "FANOUT_MAX_PENDING=8388608", wantMsg: "--max-pending was removed"},
		{name: "lag below a burst", args: []string{"serve", "--max-lag", "65536"}, wantMsg: "--max-lag"},
		{name: "removed held flag", args: []string{"serve", "--max-held", "100"}, wantMsg: "--max-held was removed"},
		{name: "removed held variable", args: []string{"serve"}, env: "FANOUT_MAX_HELD=8388608", wantMsg: "--max-held was removed"},
		{name: "bad slow-reader policy", args: []string{"serve", "--slow-reader", "drop"}, wantMsg: "--slow-reader"},
		{name: "deadline too short", args: []string{"serve", "--write-deadline", "1ms"}, wantMsg: "--write-deadline"},
		{name: "negative coalesce", args: []string{"serve", "--coalesce", "-1ms"}, wantMsg: "--coalesce"},
		{name: "coalesce too wide", args: []string{"serve"}, env: "FANOUT_COALESCE=2s", wantMsg: "FANOUT_COALESCE"},
		{name: "bad address", args: []string{"serve", "--addr", "8888"}, wantMsg: "--addr"},
		{name: "bad env", args: []string{"serve"}, env: "FANOUT_SHARDS=-3", wantMsg: "--shards"},
		{name: "bad env names the variable", args: []string{"serve"}, env: "FANOUT_LOOPS=0", wantMsg: "FANOUT_LOOPS"},
		{name: "direct listener without proxy", args: []string{"serve", "--direct-addr", "127.0.0.1:0"}, wantMsg: "invalid --direct-addr: needs --proxy-protocol"},
		{name: "proxy-from without proxy", args: []string{"serve", "--proxy-from", "10.0.0.0/8"}, wantMsg: "invalid --proxy-from: needs --proxy-protocol"},
		{name: "bad proxy source", args: []string{"serve", "--proxy-protocol"}, env: "FANOUT_PROXY_FROM=10.0.0.0/33", wantMsg: "FANOUT_PROXY_FROM"},
		{name: "header timeout zero", args: []string{"serve", "--proxy-protocol", "--proxy-header-timeout", "0"}, wantMsg: "--proxy-header-timeout"},
		{name: "bad direct address", args: []string{"serve", "--proxy-protocol", "--direct-addr", "8889"}, wantMsg: "--direct-addr"},
		{name: "bad log level", args: []string{"serve", "--log-level", "loud"}, wantMsg: "--log-level"},
		{name: "max conns past the file limit", args: []string{"serve", "--max-conns", "1000000000"}, wantMsg: "invalid --max-conns: 1000000000 connections do not fit the open-file limit"},
		{name: "admin reads without a token", args: []string{"serve", "--metrics-addr", "127.0.0.1:0", "--admin-reads"}, wantMsg: "invalid --admin-reads"},
		{name: "sub-second keep-alive", args: []string{"serve", "--tcp-keepalive", "500ms"}, wantMsg: "--tcp-keepalive"},
		{name: "unsent cap too small", args: []string{"serve", "--tcp-notsent-lowat", "4096"}, wantMsg: "invalid --tcp-notsent-lowat"},
		{name: "unsent cap from env", args: []string{"serve"}, env: "FANOUT_TCP_NOTSENT_LOWAT=-1", wantMsg: "FANOUT_TCP_NOTSENT_LOWAT"},
		{name: "bad ws address", args: []string{"serve", "--ws-addr", "8080"}, wantMsg: "--ws-addr"},
		{name: "ws address twice", args: []string{"serve", "--addr", "127.0.0.1:8890", "--ws-addr", "127.0.0.1:8890"}, wantMsg: "invalid --ws-addr"},
		{name: "bad ws origin", args: []string{"serve", "--ws-addr", "127.0.0.1:0", "--ws-origin", "example.com/path"}, wantMsg: "invalid --ws-origin"},
		{name: "ws origin without a ws listener", args: []string{"serve", "--ws-origin", "*"}, wantMsg: "invalid --ws-origin: needs --ws-addr"},
		{name: "ws ping too short", args: []string{"serve", "--ws-ping", "1ms"}, wantMsg: "invalid --ws-ping"},
		{name: "ws handshake timeout from env", args: []string{"serve"}, env: "FANOUT_WS_HANDSHAKE_TIMEOUT=1h", wantMsg: "FANOUT_WS_HANDSHAKE_TIMEOUT"},
		{name: "ws max header too small", args: []string{"serve", "--ws-max-header", "100"}, wantMsg: "invalid --ws-max-header"},
		{name: "bench bad proto", args: []string{"bench", "--proto", "udp"}, wantMsg: "--proto"},
		{name: "bench ws share past 1", args: []string{"bench", "--ws-share", "2"}, wantMsg: "--ws-share"},
		{name: "bench ws with the baseline", args: []string{"bench", "--proto", "ws", "--baseline"}, wantMsg: "baseline"},
		{name: "bench ws addr without ws clients", args: []string{"bench", "--addr", "127.0.0.1:1", "--ws-addr", "127.0.0.1:2"}, wantMsg: "--ws-addr"},
		{name: "unknown command", args: []string{"frobnicate"}, wantMsg: "unknown command"},
		{name: "bench no nodes", args: []string{"bench", "--nodes", "0"}, wantMsg: "--nodes"},
		{name: "bench nats servers and addr", args: []string{"bench", "--nats-servers", "3", "--addr", "127.0.0.1:1"}, wantMsg: "--addr"},
		{name: "bench negative workers", args: []string{"bench", "--workers", "-1"}, wantMsg: "--workers"},
		{name: "bench cluster not a URL", args: []string{"bench", "--cluster", "nats-a:4222"}, wantMsg: "--cluster"},
		{name: "cluster key without a cluster", args: []string{"serve", "--cluster-key-file", "/nonexistent"}, wantMsg: "invalid --cluster-key-file: needs --cluster"},
		{name: "admin token without a metrics listener", args: []string{"serve", "--admin-token", "t0k"}, wantMsg: "invalid --admin-token: needs --metrics-addr"},
		{name: "admin token variable without a metrics listener", args: []string{"serve"}, env: "FANOUT_ADMIN_TOKEN=t0k", wantMsg: "needs --metrics-addr: the token guards endpoints of the metrics listener (from FANOUT_ADMIN_TOKEN)"},
		{name: "admin token file without a metrics listener", args: []string{"serve", "--admin-token-file", "/nonexistent"}, wantMsg: "invalid --admin-token-file: needs --metrics-addr"},
		{name: "rate burst without a rate", args: []string{"serve", "--rate-burst", "10"}, wantMsg: "invalid --rate-burst: needs --rate-limit"},
		{name: "flood without a rate", args: []string{"serve", "--flood", "drop"}, wantMsg: "invalid --flood: needs --rate-limit"},
		{name: "flood close without a rate", args: []string{"serve", "--flood", "close"}, wantMsg: "invalid --flood: needs --rate-limit"},
		{name: "cluster creds without a cluster", args: []string{"serve", "--cluster-creds", "/nonexistent"}, wantMsg: "invalid --cluster-creds: needs --cluster"},
		{name: "cluster CA without a cluster", args: []string{"serve", "--cluster-tls-ca", "/nonexistent"}, wantMsg: "invalid --cluster-tls-ca: needs --cluster"},
		{name: "cluster cert without a cluster", args: []string{"serve", "--cluster-tls-cert", "/c", "--cluster-tls-key", "/k"}, wantMsg: "invalid --cluster-tls-cert: needs --cluster"},
		{name: "cluster key without a cluster", args: []string{"serve", "--cluster-tls-key", "/nonexistent"}, wantMsg: "invalid --cluster-tls-key: needs --cluster"},
		{name: "duration without a unit", args: []string{"serve", "--write-deadline", "10"}, wantMsg: `invalid value "10" for --write-deadline: a duration needs a unit, e.g. 10s`},
		{name: "duration variable without a unit", args: []string{"serve"}, env: "FANOUT_IDLE_TIMEOUT=30", wantMsg: `for FANOUT_IDLE_TIMEOUT (--idle-timeout): a duration needs a unit, e.g. 30s`},
		{name: "not a duration", args: []string{"serve", "--drain-timeout", "soon"}, wantMsg: "--drain-timeout: not a duration: give a number and a unit, e.g. 10s"},
		{name: "unknown flag spelt with two dashes", args: []string{"serve", "-bogus"}, wantMsg: "unknown flag --bogus"},
		{name: "missing value spelt with two dashes", args: []string{"serve", "--max-line"}, wantMsg: "--max-line needs a value"},
		{name: "baseline unknown flag", args: []string{"baseline", "--bogus"}, wantMsg: "fanout baseline: unknown flag --bogus"},
		{name: "baseline stray argument", args: []string{"baseline", "extra"}, wantMsg: `unexpected argument "extra"`},
		{name: "bench slow readers past the clients", args: []string{"bench", "--scenario", "slowreader", "--slow-readers", "12"}, wantMsg: "--slow-readers"},
		{name: "bench close-write without a burst", args: []string{"bench", "--close-write"}, wantMsg: "--close-write"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			getenv := func(k string) string {
				if name, v, ok := strings.Cut(tc.env, "="); ok && k == name {
					return v
				}
				return ""
			}
			var stderr bytes.Buffer
			code := runWithEnv(tc.args, io.Discard, &stderr, getenv)
			if code != 2 {
				t.Fatalf("exit %d, want 2 (stderr %q)", code, stderr.String())
			}
			msg := strings.TrimSuffix(stderr.String(), "\n")
			if tc.name != "unknown command" && strings.Contains(msg, "\n") {
				t.Errorf("error is not one line: %q", msg)
			}
			if !strings.Contains(msg, tc.wantMsg) {
				t.Errorf("error %q does not name %q", msg, tc.wantMsg)
			}
		})
	}
}

// TestHelpAndVersion: -h lists a command's flags (spelt --name, with their
// defaults) and exits 0; --version is the version command.
func TestHelpAndVersion(t *testing.T) {
	for _, tc := range []struct {
		name       string
		args       []string
		wantStdout string
		wantStderr []string
	}{
		{name: "version", args: []string{"version"}, wantStdout: "fanout "},
		{name: "--version", args: []string{"--version"}, wantStdout: "fanout "},
		{name: "serve -h", args: []string{"serve", "-h"}, wantStderr: []string{"usage: fanout serve", "  --write-deadline duration", "(default 10s)", "  --addr string"}},
		{name: "baseline -h", args: []string{"baseline", "-h"}, wantStderr: []string{"usage: fanout baseline", "  --addr string", `(default ":8888")`, "  --ready-file string"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			if code := runWithEnv(tc.args, &stdout, &stderr, func(string) string { return "" }); code != 0 {
				t.Fatalf("exit %d, want 0 (stderr %q)", code, stderr.String())
			}
			if !strings.HasPrefix(stdout.String(), tc.wantStdout) {
				t.Errorf("stdout %q, want it to begin %q", stdout.String(), tc.wantStdout)
			}
			for _, want := range tc.wantStderr {
				if !strings.Contains(stderr.String(), want) {
					t.Errorf("stderr lacks %q:\n%s", want, stderr.String())
				}
			}
		})
	}
}

// TestCoalesceZeroMeansOff: one convention from flag to shard: 0 is off,
// by flag or by variable, and nothing given is the default bound.
func TestCoalesceZeroMeansOff(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		env  string
		want time.Duration
	}{
		{name: "default", want: server.DefaultCoalesce},
		{name: "flag 0", args: []string{"--coalesce", "0"}, want: 0},
		{name: "variable 0", env: "0", want: 0},
		{name: "flag bound", args: []string{"--coalesce", "40ms"}, want: 40 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var sf serveFlags
			fs := newServeFlagSet(&sf)
			getenv := func(k string) string {
				if k == "FANOUT_COALESCE" {
					return tc.env
				}
				return ""
			}
			if _, err := parseFlags(fs, tc.args, getenv); err != nil {
				t.Fatal(err)
			}
			if sf.cfg.Coalesce != tc.want {
				t.Fatalf("Coalesce = %s, want %s", sf.cfg.Coalesce, tc.want)
			}
			if err := sf.cfg.Validate(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestUnknownEnvIsReported(t *testing.T) {
	var sf serveFlags
	fs := newServeFlagSet(&sf)
	got := unknownEnv(fs, []string{"FANOUT_MAX_LINE=10", "FANOUT_MAXLINE=10", "HOME=/root", "FANOUT_LOOPS=2", "FANOUT_BOGUS="})
	if want := []string{"FANOUT_MAXLINE", "FANOUT_BOGUS"}; !slices.Equal(got, want) {
		t.Fatalf("unknown = %v, want %v", got, want)
	}
}

// TestREADMEListsEveryFlag: the README's flag table names exactly the
// flags `fanout serve` takes, so the two cannot drift apart.
func TestREADMEListsEveryFlag(t *testing.T) {
	documented := testutil.READMETable(t, "README.md", "| `--", regexp.MustCompile("`--([a-z-]+)`"))
	var sf serveFlags
	var defined []string
	newServeFlagSet(&sf).VisitAll(func(f *flag.Flag) { defined = append(defined, f.Name) })
	testutil.SameNames(t, "flag", documented, defined)
}
