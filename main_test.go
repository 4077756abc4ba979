package main

import (
	"bufio"
	"bytes"
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

// TestBenchFindsServerByReadyFile: the harness starts its own server and
// finds it through --ready-file, whatever the server's log format.
func TestBenchFindsServerByReadyFile(t *testing.T) {
	bin := binary(t)
	cmd := exec.Command(bin, "bench", "--scenario", "room", "--clients", "20", "--senders", "2", "--rate", "200",
		"--duration", "1s", "--warmup", "0s", "--drain", "5s", "--server-args", "--log-format json", "--json")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	startProcess(t, cmd)
	if err := waitProcess(t, cmd, 60*time.Second); err != nil {
		t.Fatalf("bench: %v\n%s", err, stderr.String())
	}
	if !strings.Contains(stdout.String(), `"lost": 0,`) || !strings.Contains(stdout.String(), `"deliveries_received"`) {
		t.Fatalf("unexpected result:\n%s\n%s", stdout.String(), stderr.String())
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
		{name: "bad number", args: []string{"serve", "--max-line", "lots"}, wantMsg: "-max-line"},
		{name: "zero max line", args: []string{"serve", "--max-line", "0"}, wantMsg: "--max-line"},
		{name: "node out of range", args: []string{"serve", "--node", "1024"}, wantMsg: "--node"},
		{name: "removed flag", args: []string{"serve", "--max-pending", "100"}, wantMsg: "--max-pending was removed"},
		{name: "removed variable", args: []string{"serve"}, env: "FANOUT_MAX_PENDING=8388608", wantMsg: "--max-pending was removed"},
		{name: "lag below a burst", args: []string{"serve", "--max-lag", "65536"}, wantMsg: "--max-lag"},
		{name: "held below a line", args: []string{"serve", "--max-held", "100"}, wantMsg: "--max-held"},
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
		{name: "unknown command", args: []string{"frobnicate"}, wantMsg: "unknown command"},
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
