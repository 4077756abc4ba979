package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/fanout/fanout/internal/sysutil"
	"github.com/fanout/fanout/internal/testutil"
)

// daemon is a `fanout serve` child process found through its ready file.
type daemon struct {
	cmd         *exec.Cmd
	logs        *testutil.Buffer
	readyFile   string
	addr        string // the first listener
	metricsAddr string // "" without --metrics-addr
}

// startDaemon runs `fanout serve args...` (under `prlimit --nofile=N:N`
// when nofile > 0) and waits for its ready file.
func startDaemon(t *testing.T, nofile int, env []string, args ...string) *daemon {
	t.Helper()
	d := &daemon{logs: &testutil.Buffer{}, readyFile: filepath.Join(t.TempDir(), "ready")}
	argv := append([]string{binary(t), "serve", "--ready-file", d.readyFile}, args...)
	if nofile > 0 {
		prlimit, err := exec.LookPath("prlimit")
		if err != nil {
			if os.Getenv("CI") != "" {
				t.Fatalf("prlimit is required (util-linux): %v", err)
			}
			t.Skipf("prlimit not installed (util-linux): %v", err)
		}
		argv = append([]string{prlimit, fmt.Sprintf("--nofile=%d:%d", nofile, nofile), "--"}, argv...)
	}
	d.cmd = exec.Command(argv[0], argv[1:]...)
	d.cmd.Stderr = d.logs
	d.cmd.Env = append(os.Environ(), env...)
	startProcess(t, d.cmd)
	waitUntil(t, "the ready file", func() bool {
		a, err := sysutil.ReadReadyFile(d.readyFile, "addr")
		if err != nil || len(a) == 0 {
			return false
		}
		d.addr = a[0]
		if m, err := sysutil.ReadReadyFile(d.readyFile, "metrics_addr"); err == nil && len(m) == 1 {
			d.metricsAddr = m[0]
		}
		return true
	})
	return d
}

func fileExists(path string) bool {
	_, err := os.Lstat(path)
	return err == nil
}

// get fetches a metrics-listener path and returns the status and body.
func (d *daemon) get(t *testing.T, path string) (int, string) {
	t.Helper()
	c := http.Client{Timeout: 10 * time.Second}
	resp, err := c.Get("http://" + d.metricsAddr + path)
	if err != nil {
		t.Fatalf("GET %s: %v\n%s", path, err, d.logs.String())
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestConnectionStormKeepsServing: the server runs with a 1 300-file
// limit and --max-conns 1 100, and holds 1 100 clients; 400 more connect
// at once from 40 goroutines, then 200 idle connections are opened to the
// metrics listener, then another burst. gnet's own acceptor ended the
// whole engine on EMFILE here (every client dropped, /readyz still 200);
// now every extra client gets "ERR server full" (or waits in the kernel's
// backlog), the held clients keep exchanging lines, /readyz stays 200 and
// a freed slot is taken again.
func TestConnectionStormKeepsServing(t *testing.T) {
	const held, burst, workers = 1100, 400, 40
	d := startDaemon(t, 1300, nil, "--addr", "127.0.0.1:0", "--metrics-addr", "127.0.0.1:0",
		"--max-conns", fmt.Sprint(held), "--loops", "2", "--log-level", "warn")

	clients := make([]net.Conn, 0, held)
	t.Cleanup(func() {
		for _, c := range clients {
			_ = c.Close()
		}
	})
	for range held {
		c, err := net.DialTimeout("tcp", d.addr, 5*time.Second)
		if err != nil {
			t.Fatalf("holding client %d: %v\n%s", len(clients), err, d.logs.String())
		}
		clients = append(clients, c)
	}
	waitUntil(t, "every client held", func() bool { return joinedConns(d) == held })

	stormAndCheck := func(what string) {
		t.Helper()
		full, dialErrs := connectBurst(t, d.addr, burst, workers)
		if full == 0 || full+dialErrs != burst {
			t.Fatalf("%s: %d of %d got ERR server full, %d could not connect; the rest got nothing or something else\n%s",
				what, full, burst, dialErrs, d.logs.String())
		}
		relay(t, clients, what)
		if code, _ := d.get(t, "/readyz"); code != http.StatusOK {
			t.Fatalf("%s: /readyz = %d", what, code)
		}
		if n := openConns(d); n != held {
			t.Fatalf("%s: /varz says %d connections, want %d\n%s", what, n, held, d.logs.String())
		}
	}
	stormAndCheck("first burst")

	// Idle connections to the metrics listener past its cap wait in the
	// kernel's backlog instead of taking descriptors.
	var idle []net.Conn
	for range 200 {
		c, err := net.DialTimeout("tcp", d.metricsAddr, 5*time.Second)
		if err != nil {
			t.Fatalf("idle metrics connection %d: %v", len(idle), err)
		}
		idle = append(idle, c)
	}
	full, dialErrs := connectBurst(t, d.addr, burst, workers)
	if full == 0 || full+dialErrs != burst {
		t.Fatalf("burst beside idle metrics connections: %d ERR server full, %d dial errors of %d\n%s", full, dialErrs, burst, d.logs.String())
	}
	relay(t, clients, "burst beside idle metrics connections")
	for _, c := range idle {
		_ = c.Close()
	}
	stormAndCheck("after the metrics flood")

	// A freed slot is taken again.
	_ = clients[0].Close()
	waitUntil(t, "a slot freed", func() bool { return openConns(d) == held-1 })
	c, err := net.DialTimeout("tcp", d.addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	clients[0] = c
	waitUntil(t, "the slot taken again", func() bool { return joinedConns(d) == held })
	relay(t, clients, "after taking the slot again")
	if strings.Contains(d.logs.String(), "Accept() failed") || strings.Contains(d.logs.String(), "cannot serve any more") {
		t.Fatalf("accept failed in the engine:\n%s", d.logs.String())
	}
}

// openConns reads /varz's connection count; -1 when it cannot.
func openConns(d *daemon) int { return countAt(d, "/varz", "connections") }

// joinedConns reads /connz's total: the clients joined to the fan-out,
// which get every line relayed from then on; -1 when it cannot. /varz's
// count is not that: a connection counts there from its accept, before
// its event loop has joined it, so a line sent on seeing it may miss a
// client still being handed over.
func joinedConns(d *daemon) int { return countAt(d, "/connz?limit=0", "total") }

// countAt reads the number under key in the JSON object at path on the
// metrics listener; -1 when it cannot.
func countAt(d *daemon, path, key string) int {
	c := http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get("http://" + d.metricsAddr + path)
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	var v map[string]json.RawMessage
	if err := json.NewDecoder(resp.Body).Decode(&v); err != nil {
		return -1
	}
	var n int
	if err := json.Unmarshal(v[key], &n); err != nil {
		return -1
	}
	return n
}

// connectBurst opens n connections at once from workers goroutines and
// reads what each gets before it is closed. It returns how many got
// exactly "ERR server full" and how many could not connect at all; a
// connection that got anything else fails the test.
func connectBurst(t *testing.T, addr string, n, workers int) (full, dialErrs int) {
	t.Helper()
	var mu sync.Mutex
	var other []string
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += workers {
				c, err := net.DialTimeout("tcp", addr, 5*time.Second)
				if err != nil {
					mu.Lock()
					dialErrs++
					mu.Unlock()
					continue
				}
				_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
				b, err := io.ReadAll(c)
				_ = c.Close()
				mu.Lock()
				switch {
				case string(b) == "ERR server full\r\n":
					full++
				default:
					other = append(other, fmt.Sprintf("%q (%v)", b, err))
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(other) > 0 {
		t.Fatalf("%d connections of the burst got something else than ERR server full, e.g. %s", len(other), other[0])
	}
	return full, dialErrs
}

// relay checks that a line from the first client reaches every other.
func relay(t *testing.T, clients []net.Conn, what string) {
	t.Helper()
	line := fmt.Sprintf("still here %d\n", time.Now().UnixNano())
	if _, err := clients[0].Write([]byte(line)); err != nil {
		t.Fatalf("%s: write: %v", what, err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, len(clients))
	for _, c := range clients[1:] {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = c.SetReadDeadline(time.Now().Add(15 * time.Second))
			got, err := bufio.NewReader(c).ReadString('\n')
			if err == nil && !strings.HasSuffix(got, ":"+strings.TrimSuffix(line, "\n")+"\r\n") {
				err = fmt.Errorf("got %q", got)
			}
			if err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	var failed []error
	for err := range errs {
		failed = append(failed, err)
	}
	if len(failed) > 0 {
		t.Fatalf("%s: %d held clients did not get the line: %v", what, len(failed), firstLine(errors.Join(failed...)))
	}
}

func firstLine(err error) string {
	s, _, _ := strings.Cut(err.Error(), "\n")
	return s
}

// TestUnixPathNotASocketExits2: `fanout serve --addr unix://DIR` refuses
// to start (status 2, one line naming --addr) and leaves DIR and what is
// in it alone.
func TestUnixPathNotASocketExits2(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "precious"), []byte("data"), 0o644); err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	code := runWithEnv([]string{"serve", "--addr", "unix://" + dir}, io.Discard, &stderr, func(string) string { return "" })
	if code != 2 || !strings.Contains(stderr.String(), "invalid --addr") || !strings.Contains(stderr.String(), "a directory") {
		t.Fatalf("exit %d, stderr %q; want 2 naming --addr and the directory", code, stderr.String())
	}
	if _, err := os.Stat(filepath.Join(dir, "precious")); err != nil {
		t.Fatalf("the directory's contents are gone: %v", err)
	}
}

// TestSignals: SIGHUP is logged and ignored (it used to end the process
// at once with status 129, leaving the ready file and the socket); SIGTERM
// drains and exits 0; a second SIGTERM during the drain exits 1 at once.
// Either way the ready file and the unix socket are gone afterwards.
func TestSignals(t *testing.T) {
	t.Run("SIGHUP then SIGTERM", func(t *testing.T) {
		sock := filepath.Join(t.TempDir(), "fanout.sock")
		d := startDaemon(t, 0, nil, "--addr", "127.0.0.1:0,unix://"+sock, "--metrics-addr", "127.0.0.1:0")
		if err := d.cmd.Process.Signal(syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
		waitUntil(t, "the SIGHUP log line", func() bool { return strings.Contains(d.logs.String(), "SIGHUP ignored") })
		if code, _ := d.get(t, "/readyz"); code != http.StatusOK {
			t.Fatalf("/readyz after SIGHUP = %d", code)
		}
		c, err := net.Dial("unix", sock)
		if err != nil {
			t.Fatalf("the socket after SIGHUP: %v", err)
		}
		_ = c.Close()
		if err := d.cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		if err := waitProcess(t, d.cmd, 20*time.Second); err != nil {
			t.Fatalf("exit after SIGTERM: %v, want 0\n%s", err, d.logs.String())
		}
		expectGone(t, d.readyFile, sock)
	})
	t.Run("second SIGTERM during the drain", func(t *testing.T) {
		sock := filepath.Join(t.TempDir(), "fanout.sock")
		d := startDaemon(t, 0, nil, "--addr", "127.0.0.1:0,unix://"+sock, "--drain-timeout", "60s")
		// A client that never reads keeps the drain busy.
		stalled, err := net.Dial("tcp", d.addr)
		if err != nil {
			t.Fatal(err)
		}
		defer stalled.Close()
		_ = stalled.(*net.TCPConn).SetReadBuffer(4096)
		sender, err := net.Dial("tcp", d.addr)
		if err != nil {
			t.Fatal(err)
		}
		defer sender.Close()
		line := strings.Repeat("x", 1000) + "\n"
		for range 8 {
			if _, err := sender.Write([]byte(strings.Repeat(line, 1000))); err != nil {
				t.Fatal(err)
			}
		}
		if err := d.cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		waitUntil(t, "the drain", func() bool { return strings.Contains(d.logs.String(), "signal received, draining") })
		if err := d.cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		err = waitProcess(t, d.cmd, 20*time.Second)
		var exit *exec.ExitError
		if !errors.As(err, &exit) || exit.ExitCode() != 1 {
			t.Fatalf("exit after a second SIGTERM: %v, want status 1\n%s", err, d.logs.String())
		}
		expectGone(t, d.readyFile, sock)
	})
}

func expectGone(t *testing.T, paths ...string) {
	t.Helper()
	for _, p := range paths {
		if _, err := os.Lstat(p); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s outlived the server: %v", p, err)
		}
	}
}
