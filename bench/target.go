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
	"regexp"
	"syscall"
	"time"
)

var listeningRE = regexp.MustCompile(`msg=listening addr=(\S+)`)

// Process is a server the harness started as a child process, so that its
// CPU and memory are measured apart from the generator's.
type Process struct {
	Target
	cmd  *exec.Cmd
	done chan error
}

// ServerBinary, when set, is the fanout binary StartProcess runs instead
// of this one (--server-bin: an A/B comparison of two builds).
var ServerBinary string

// StartProcess runs this binary's `serve` (kind "fanout") or `baseline`
// subcommand on a free loopback port and waits until it listens.
func StartProcess(kind string, extraArgs []string) (*Process, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("bench: find own binary: %w", err)
	}
	if ServerBinary != "" && kind == "fanout" {
		self = ServerBinary
	}
	var args []string
	switch kind {
	case "fanout":
		args = append([]string{"serve", "--addr", "127.0.0.1:0", "--log-level", "info"}, extraArgs...)
	case "baseline":
		args = []string{"baseline", "--addr", "127.0.0.1:0"}
	default:
		return nil, fmt.Errorf("bench: unknown server kind %q", kind)
	}
	cmd := exec.Command(self, args...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("bench: start %s server: %w", kind, err)
	}
	p := &Process{Target: Target{Name: kind, PIDs: []int{cmd.Process.Pid}}, cmd: cmd, done: make(chan error, 1)}
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			if m := listeningRE.FindStringSubmatch(sc.Text()); m != nil {
				addr <- m[1]
				break
			}
		}
		_, _ = io.Copy(io.Discard, stderr) // keep the pipe drained
		p.done <- cmd.Wait()
	}()
	select {
	case a := <-addr:
		p.Addrs = []string{a}
		return p, nil
	case err := <-p.done:
		return nil, fmt.Errorf("bench: %s server exited before listening: %v", kind, err)
	case <-time.After(10 * time.Second):
		_ = cmd.Process.Kill()
		<-p.done
		return nil, fmt.Errorf("bench: %s server did not start listening within 10s", kind)
	}
}

// Stop sends SIGTERM and waits for the process, killing it after timeout.
func (p *Process) Stop(timeout time.Duration) error {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-p.done:
		return err
	case <-time.After(timeout):
		_ = p.cmd.Process.Kill()
		<-p.done
		return fmt.Errorf("bench: %s server ignored SIGTERM for %s; killed", p.Name, timeout)
	}
}

// ServeBaseline runs the baseline server until SIGINT or SIGTERM; it is the
// `fanout baseline` subcommand.
func ServeBaseline(addr string, log *slog.Logger) error {
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(sigs)
	b, err := StartBaseline(addr, log)
	if err != nil {
		return err
	}
	log.Info("listening", "addr", b.Addr().String(), "server", "baseline")
	<-sigs
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := b.Close(ctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return nil
}
