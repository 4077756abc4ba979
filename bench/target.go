package bench

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"syscall"
	"time"

	"github.com/fanout/fanout/internal/sysutil"
)

var listeningRE = regexp.MustCompile(`msg=listening addr=(\S+)`)

// Process is a server the harness started as a child process, so that its
// CPU and memory are measured apart from the generator's.
type Process struct {
	Target
	cmd  *exec.Cmd
	done chan error
	dir  string // holds the ready file; removed by Stop
}

// ServerBinary, when set, is the fanout binary StartProcess runs instead
// of this one (--server-bin: an A/B comparison of two builds). Another
// build may predate --ready-file, so its address is read from its
// "msg=listening addr=…" log line instead.
var ServerBinary string

// ServerLog, when set, is a file every server StartProcess starts appends
// its log to (--server-log), one whole line per write, so several servers
// may share it; otherwise their logs are dropped.
var ServerLog string

// StartProcess runs this binary's `serve` (kind "fanout") or `baseline`
// subcommand on a free loopback port and waits until it listens: until it
// has written its --ready-file.
func StartProcess(kind string, extraArgs []string) (*Process, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("bench: find own binary: %w", err)
	}
	byLog := false
	if ServerBinary != "" && kind == "fanout" {
		self, byLog = ServerBinary, true
	}
	dir, err := os.MkdirTemp("", "fanout-bench-")
	if err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	readyFile := filepath.Join(dir, "ready")
	var args []string
	switch kind {
	case "fanout":
		args = []string{"serve", "--addr", "127.0.0.1:0", "--log-level", "info"}
		if !byLog {
			args = append(args, "--ready-file", readyFile)
		}
		args = append(args, extraArgs...)
	case "baseline":
		args = []string{"baseline", "--addr", "127.0.0.1:0", "--ready-file", readyFile}
	default:
		_ = os.RemoveAll(dir)
		return nil, fmt.Errorf("bench: unknown server kind %q", kind)
	}
	cmd := exec.Command(self, args...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	logTo := io.Discard
	var logFile *os.File
	if ServerLog != "" {
		if logFile, err = os.OpenFile(ServerLog, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644); err != nil {
			_ = os.RemoveAll(dir)
			return nil, fmt.Errorf("bench: --server-log: %w", err)
		}
		logTo = logFile
	}
	if err := cmd.Start(); err != nil {
		_ = os.RemoveAll(dir)
		if logFile != nil {
			_ = logFile.Close()
		}
		return nil, fmt.Errorf("bench: start %s server: %w", kind, err)
	}
	p := &Process{Target: Target{Name: kind, PIDs: []int{cmd.Process.Pid}}, cmd: cmd, done: make(chan error, 1), dir: dir}
	logAddr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
		findAddr := byLog
		var line []byte
		for sc.Scan() {
			if findAddr {
				if m := listeningRE.FindStringSubmatch(sc.Text()); m != nil {
					logAddr <- m[1]
					findAddr = false
				}
			}
			line = append(append(line[:0], sc.Bytes()...), '\n')
			_, _ = logTo.Write(line) // a lost log line does not stop the run
		}
		_, _ = io.Copy(logTo, stderr) // a line past the scanner's limit: keep the pipe drained
		if logFile != nil {
			_ = logFile.Close()
		}
		p.done <- cmd.Wait()
	}()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case a := <-logAddr:
			p.Addrs = []string{a}
			return p, nil
		case <-tick.C:
			if byLog {
				continue
			}
			if addrs, err := sysutil.ReadReadyFile(readyFile, "addr"); err == nil && len(addrs) > 0 {
				p.Addrs = addrs[:1]
				p.WSAddrs, _ = sysutil.ReadReadyFile(readyFile, "ws_addr") // written with addr, at once
				return p, nil
			}
		case err := <-p.done:
			_ = os.RemoveAll(dir)
			return nil, fmt.Errorf("bench: %s server exited before listening: %v", kind, err)
		case <-deadline:
			_ = cmd.Process.Kill()
			<-p.done
			_ = os.RemoveAll(dir)
			return nil, fmt.Errorf("bench: %s server did not start listening within 10s", kind)
		}
	}
}

// Stop sends SIGTERM and waits for the process, killing it after timeout.
func (p *Process) Stop(timeout time.Duration) error {
	defer os.RemoveAll(p.dir)
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	if err, killed := awaitExit(p.cmd.Process, p.done, timeout); !killed {
		return err
	}
	return fmt.Errorf("bench: %s server ignored SIGTERM for %s; killed", p.Name, timeout)
}

// ServeBaseline runs the baseline server until SIGINT or SIGTERM; it is the
// `fanout baseline` subcommand.
// With readyFile set it writes "addr=<bound address>" there once it listens.
func ServeBaseline(addr, readyFile string, log *slog.Logger) error {
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(sigs)
	b, err := StartBaseline(addr, log)
	if err != nil {
		return err
	}
	log.Info("listening", "addr", b.Addr().String(), "server", "baseline")
	if readyFile != "" {
		if err := sysutil.WriteReadyFile(readyFile, []string{"addr=" + b.Addr().String()}); err != nil {
			_ = b.Close(context.Background())
			return err
		}
		defer os.Remove(readyFile)
	}
	<-sigs
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := b.Close(ctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return nil
}
