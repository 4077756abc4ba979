package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/server"

	"github.com/fanout/fanout/cluster"
)

// The harness runs each NATS server as a child process of its own (this
// binary in the "nats" role, nats-server embedded), so that the report
// shows the NATS servers' CPU and memory apart from the nodes' and the
// generator's. The child prints one JSON line with its addresses, then
// answers the parent's questions on stdin, one line each:
//
//	routes <n>    → "ok" once it has at least n routes (or "timeout")
//	interest <n>  → "ok" once it knows of at least n broadcast subscriptions
//
// It shuts down when stdin closes (the parent ended) or on SIGTERM.

// natsAddrs is the child's first line.
type natsAddrs struct {
	Client  string `json:"client"`  // nats://127.0.0.1:port
	Cluster string `json:"cluster"` // host:port of its route listener
}

// natsAnswerWait bounds each question the child answers.
const natsAnswerWait = 15 * time.Second

// runNATSChild is the "nats" role: args are its flags.
func runNATSChild(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("bench nats", flag.ContinueOnError)
	fs.SetOutput(stderr)
	name := fs.String("name", "nats", "server name")
	route := fs.String("route", "", "host:port of a cluster member's route listener to join (empty: the first)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	opts := &natsserver.Options{ServerName: *name, Host: "127.0.0.1", Port: -1, NoLog: true, NoSigs: true,
		Cluster: natsserver.ClusterOpts{Name: "fanout-bench", Host: "127.0.0.1", Port: -1}}
	if *route != "" {
		opts.Routes = []*url.URL{{Scheme: "nats-route", Host: *route}}
	}
	ns, err := natsserver.NewServer(opts)
	if err != nil {
		fmt.Fprintf(stderr, "bench nats: %v\n", err)
		return 1
	}
	ns.Start()
	defer func() { ns.Shutdown(); ns.WaitForShutdown() }()
	if !ns.ReadyForConnections(10 * time.Second) {
		fmt.Fprintln(stderr, "bench nats: server did not start")
		return 1
	}
	if err := json.NewEncoder(stdout).Encode(natsAddrs{Client: ns.ClientURL(), Cluster: ns.ClusterAddr().String()}); err != nil {
		return 1
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	lines := make(chan string)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(stdin)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	for {
		select {
		case <-ctx.Done():
			return 0
		case line, ok := <-lines:
			if !ok {
				return 0 // the parent is gone
			}
			fmt.Fprintln(stdout, answerNATS(ctx, ns, line))
		}
	}
}

// answerNATS waits for what one question asks and says whether it came.
func answerNATS(ctx context.Context, ns *natsserver.Server, q string) string {
	what, arg, _ := strings.Cut(q, " ")
	n, err := strconv.Atoi(arg)
	if err != nil {
		return "bad question " + strconv.Quote(q)
	}
	have := map[string]func() int{
		"routes":   ns.NumRoutes,
		"interest": func() int { return ns.GlobalAccount().Interest(cluster.DefaultSubject) },
	}[what]
	if have == nil {
		return "bad question " + strconv.Quote(q)
	}
	deadline := time.Now().Add(natsAnswerWait)
	for have() < n {
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Sprintf("timeout: %s %d of %d", what, have(), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
	return "ok"
}

// natsProcess is one NATS server child, seen from the harness.
type natsProcess struct {
	cmd   *exec.Cmd
	in    io.WriteCloser
	out   *bufio.Reader
	done  chan error
	addrs natsAddrs
}

// startNATSProcess runs a NATS server child joined to route (empty: the
// first of its cluster) and waits for its addresses.
func startNATSProcess(name, route string) (*natsProcess, error) {
	args := []string{"bench", "--name", name}
	if route != "" {
		args = append(args, "--route", route)
	}
	cmd, err := roleCommand("nats", args)
	if err != nil {
		return nil, err
	}
	p := &natsProcess{cmd: cmd, done: make(chan error, 1)}
	if p.in, err = cmd.StdinPipe(); err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	p.out = bufio.NewReader(stdout)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("bench: start NATS server %s: %w", name, err)
	}
	go func() { p.done <- cmd.Wait() }()
	line, err := p.readLine()
	if err == nil {
		err = json.Unmarshal([]byte(line), &p.addrs)
	}
	if err != nil {
		_ = p.stop(time.Second)
		return nil, fmt.Errorf("bench: NATS server %s did not start: %w", name, err)
	}
	return p, nil
}

// ask sends one question and returns nil when the answer is "ok".
func (p *natsProcess) ask(q string) error {
	if _, err := fmt.Fprintln(p.in, q); err != nil {
		return fmt.Errorf("bench: NATS server: %w", err)
	}
	a, err := p.readLine()
	if err != nil {
		return err
	}
	if a != "ok" {
		return fmt.Errorf("bench: NATS server %s: %s", p.addrs.Client, a)
	}
	return nil
}

// readLine reads one line of the child's stdout, bounded in time.
func (p *natsProcess) readLine() (string, error) {
	got := make(chan string, 1)
	failed := make(chan error, 1)
	go func() {
		line, err := p.out.ReadString('\n')
		if err != nil {
			failed <- err
			return
		}
		got <- strings.TrimSpace(line)
	}()
	select {
	case line := <-got:
		return line, nil
	case err := <-failed:
		return "", fmt.Errorf("bench: NATS server exited: %w", err)
	case <-time.After(natsAnswerWait + 5*time.Second):
		return "", errors.New("bench: NATS server did not answer")
	}
}

// pid is the child's process ID.
func (p *natsProcess) pid() int { return p.cmd.Process.Pid }

// stop closes the child's stdin (it shuts down) and waits, killing it
// after timeout.
func (p *natsProcess) stop(timeout time.Duration) error {
	_ = p.in.Close()
	if err, killed := awaitExit(p.cmd.Process, p.done, timeout); !killed {
		return err
	}
	return fmt.Errorf("bench: NATS server %s did not stop within %s; killed", p.addrs.Client, timeout)
}
