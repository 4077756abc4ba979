package cluster_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/server"

	"github.com/fanout/fanout/cluster"
	"github.com/fanout/fanout/internal/testutil"
	"github.com/fanout/fanout/server"
)

func TestMain(m *testing.M) {
	if spec := os.Getenv(childNodeEnv); spec != "" {
		os.Exit(runChildNode(spec)) // a node process for TestKilledNodeNumberReused
	}
	testutil.VerifyTestMain(m)
}

var waitFor = testutil.WaitFor

func logger() *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// startNATS runs an embedded NATS server on 127.0.0.1 (port -1: a free one).
func startNATS(t *testing.T, port int) *natsserver.Server {
	t.Helper()
	return startNATSWith(t, natsserver.Options{Port: port})
}

// startNATSWith runs an embedded NATS server on 127.0.0.1 with opts
// (quiet, no signal handling), stopped at the test's end.
func startNATSWith(t *testing.T, opts natsserver.Options) *natsserver.Server {
	t.Helper()
	opts.Host, opts.NoLog, opts.NoSigs = "127.0.0.1", true, true
	ns, err := natsserver.NewServer(&opts)
	if err != nil {
		t.Fatalf("nats server: %v", err)
	}
	ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats server not ready")
	}
	t.Cleanup(func() { ns.Shutdown(); ns.WaitForShutdown() })
	return ns
}

type node struct {
	*server.Server
	stopped bool
}

func startNode(t *testing.T, natsURL string, id int64) *node {
	t.Helper()
	return startNodeWith(t, server.Config{Node: id, ClusterURLs: natsURL})
}

// startNodeWith starts a node on a free loopback port with cfg, retrying
// reconnects to NATS every 50 ms unless cfg says otherwise.
func startNodeWith(t *testing.T, cfg server.Config) *node {
	t.Helper()
	id := cfg.Node
	cfg.Addr = "127.0.0.1:0"
	if cfg.ClusterReconnectWait == 0 {
		cfg.ClusterReconnectWait = 50 * time.Millisecond
	}
	s, err := server.New(cfg, logger())
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		t.Fatalf("node %d: %v", id, err)
	}
	n := &node{Server: s}
	t.Cleanup(func() { n.stop(t) })
	return n
}

func (n *node) stop(t *testing.T) {
	if n.stopped {
		return
	}
	n.stopped = true
	if _, err := n.Shutdown(context.Background()); err != nil {
		t.Errorf("shutdown: %v", err)
	}
}

type client struct {
	t *testing.T
	c net.Conn
	r *bufio.Reader
}

func dial(t *testing.T, n *node) *client {
	t.Helper()
	return dialAddr(t, n.Addr().String())
}

func dialAddr(t *testing.T, addr string) *client {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return &client{t: t, c: c, r: bufio.NewReader(c)}
}

func (c *client) send(s string) {
	c.t.Helper()
	if _, err := c.c.Write([]byte(s)); err != nil {
		c.t.Fatal(err)
	}
}

// read returns the body (after "<id>:") of the next line.
func (c *client) read(timeout time.Duration) (string, error) {
	line, err := c.readLine(timeout)
	if err != nil {
		return "", err
	}
	_, body, _ := strings.Cut(line, ":")
	return body, nil
}

// readLine returns the next line without its "\r\n"; with an error, what
// part of a line had come.
func (c *client) readLine(timeout time.Duration) (string, error) {
	_ = c.c.SetReadDeadline(time.Now().Add(timeout))
	line, err := c.r.ReadString('\n')
	return strings.TrimSuffix(line, "\r\n"), err
}

func (c *client) mustRead() string {
	c.t.Helper()
	b, err := c.read(10 * time.Second)
	if err != nil {
		c.t.Fatalf("read: %v", err)
	}
	return b
}

// TestDomainDeliversEverywhere: three nodes on one NATS server, three
// clients on each; every line reaches every other client on every node
// exactly once, never its sender, in per-sender order.
func TestDomainDeliversEverywhere(t *testing.T) {
	const nodes, perNode, lines = 3, 3, 40
	ns := startNATS(t, -1)
	var clients []*client
	var ns2nodes []*node
	for i := range nodes {
		n := startNode(t, ns.ClientURL(), int64(i+1))
		ns2nodes = append(ns2nodes, n)
		for range perNode {
			clients = append(clients, dial(t, n))
		}
	}
	waitFor(t, "NATS subscriptions", func() bool { return ns.NumSubscriptions() >= nodes*2 })
	waitJoined(t, ns2nodes, perNode)

	exchange(t, clients, lines)
}

// waitJoined waits until every node has perNode clients.
func waitJoined(t *testing.T, nodes []*node, perNode int) {
	t.Helper()
	waitFor(t, "every client to join its node", func() bool {
		for _, n := range nodes {
			if n.Connections() != perNode {
				return false
			}
		}
		return true
	})
}

// exchange has every client send lines lines (in writes of five) while
// every client reads, and checks that each got every other client's lines
// exactly once, in order, and none of its own.
func exchange(t *testing.T, clients []*client, lines int) {
	t.Helper()
	peers := make([]testutil.Peer, len(clients))
	for i, c := range clients {
		peers[i] = testutil.Peer{ReadLine: c.readLine, Write: func(b []byte) error {
			_, err := c.c.Write(b)
			return err
		}}
	}
	testutil.Exchange{Lines: lines, Burst: 5, Quiet: 50 * time.Millisecond}.Run(t, peers)
}

func TestDuplicateNodeNumberRefused(t *testing.T) {
	ns := startNATS(t, -1)
	startNode(t, ns.ClientURL(), 7)
	s, err := server.New(server.Config{Addr: "127.0.0.1:0", Node: 7, ClusterURLs: ns.ClientURL()}, logger())
	if err != nil {
		t.Fatal(err)
	}
	err = s.Start()
	if !errors.Is(err, cluster.ErrNodeInUse) {
		t.Fatalf("second node 7 started: err = %v, want ErrNodeInUse", err)
	}
	if !strings.Contains(err.Error(), "node 7") {
		t.Errorf("error does not name the node: %v", err)
	}
	startNode(t, ns.ClientURL(), 8) // another number is fine
}

// TestOutageAndRecovery stops NATS mid-run: local delivery goes on and the
// nodes report not-ready; NATS returns on the same port and cross-node
// delivery resumes without restarting the nodes.
func TestOutageAndRecovery(t *testing.T) {
	ns := startNATS(t, -1)
	port := ns.Addr().(*net.TCPAddr).Port
	n1 := startNodeWith(t, server.Config{Node: 1, ClusterURLs: ns.ClientURL(), MetricsAddr: "127.0.0.1:0"})
	n2 := startNode(t, ns.ClientURL(), 2)
	a, b, c := dial(t, n1), dial(t, n1), dial(t, n2)
	waitFor(t, "the clients to join", func() bool { return n1.Connections() == 2 && n2.Connections() == 1 })
	a.send("before\n")
	for _, r := range []*client{b, c} {
		if got := r.mustRead(); got != "before" {
			t.Fatalf("got %q", got)
		}
	}

	ns.Shutdown()
	ns.WaitForShutdown()
	waitFor(t, "nodes to notice the outage", func() bool { return !n1.Ready() && !n2.Ready() })
	if code := readyz(t, n1); code != http.StatusServiceUnavailable {
		t.Fatalf("/readyz with no NATS connection: %d, want 503", code)
	}
	a.send("during\n")
	if got := b.mustRead(); got != "during" {
		t.Fatalf("local delivery during the outage: got %q", got)
	}

	startNATS(t, port)
	waitFor(t, "nodes to reconnect", func() bool { return n1.Ready() && n2.Ready() })
	if code := readyz(t, n1); code != http.StatusOK {
		t.Fatalf("/readyz after NATS returned: %d, want 200", code)
	}
	// Lines cross again once each node's subscription reaches the new
	// server: probe both ways until one crosses (b, local to a, gets a's
	// probes at once).
	probe(t, a, c)
	probe(t, c, a)
	a.send("after\n")
	if got := skipping(t, b, "probe"); got != "after" {
		t.Fatalf("b got %q", got)
	}
	// "during" may or may not cross (at-most-once across nodes); "after" must.
	if got := skipping(t, c, "probe", "during"); got != "after" {
		t.Fatalf("c got %q, want after", got)
	}
	c.send("back\n")
	for _, r := range []*client{a, b} {
		if got := skipping(t, r, "probe"); got != "back" {
			t.Fatalf("got %q", got)
		}
	}
}

// probe sends numbered probe lines from one client until another, on
// another node, receives one (bounded: 15 s).
func probe(t *testing.T, from, to *client) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for i := 0; time.Now().Before(deadline); i++ {
		from.send(fmt.Sprintf("probe %d\n", i))
		for {
			body, err := to.read(100 * time.Millisecond)
			if err != nil {
				break // nothing yet: send another
			}
			if strings.HasPrefix(body, "probe") {
				return
			}
		}
	}
	t.Fatal("no line crossed between the nodes after NATS came back")
}

// skipping returns the next line c reads whose body starts with none of
// the prefixes.
func skipping(t *testing.T, c *client, prefixes ...string) string {
	t.Helper()
	for {
		body := c.mustRead()
		skip := false
		for _, p := range prefixes {
			skip = skip || strings.HasPrefix(body, p)
		}
		if !skip {
			return body
		}
	}
}

func TestNodeLeavingDoesNotDisturbOthers(t *testing.T) {
	ns := startNATS(t, -1)
	n1, n2, n3 := startNode(t, ns.ClientURL(), 1), startNode(t, ns.ClientURL(), 2), startNode(t, ns.ClientURL(), 3)
	a, gone, c := dial(t, n1), dial(t, n2), dial(t, n3)
	waitFor(t, "the clients to join", func() bool {
		return n1.Connections() == 1 && n2.Connections() == 1 && n3.Connections() == 1
	})
	a.send("one\n")
	if gone.mustRead() != "one" || c.mustRead() != "one" {
		t.Fatal("first line not everywhere")
	}
	n2.stop(t)
	a.send("two\n")
	if got := c.mustRead(); got != "two" {
		t.Fatalf("c got %q", got)
	}
	c.send("three\n")
	if got := a.mustRead(); got != "three" {
		t.Fatalf("a got %q", got)
	}
}

// TestOfferAfterClose: event loops still running past the shutdown
// deadline may offer batches after the bridge closed, even while it
// closes; they are dropped and counted, never a panic.
func TestOfferAfterClose(t *testing.T) {
	ns := startNATS(t, -1)
	b, err := cluster.Join(cluster.Config{URLs: ns.ClientURL(), Node: 5}, func([]byte, int) bool { return true }, logger())
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
					b.Offer([]byte("5:x\r\n"), 1)
				}
			}
		}()
	}
	if err := b.Close(time.Second); err != nil {
		t.Errorf("close: %v", err)
	}
	before := b.Stats().PublishDropped
	b.Offer([]byte("5:y\r\n"), 1)
	close(stop)
	wg.Wait()
	if after := b.Stats().PublishDropped; after <= before {
		t.Fatalf("a batch offered after Close was not counted as dropped (%d → %d)", before, after)
	}
}

// TestCleanShutdownIsNoOutage: leaving the domain on shutdown is not a
// lost connection: no warning, no outage counted.
func TestCleanShutdownIsNoOutage(t *testing.T) {
	ns := startNATS(t, -1)
	logs := &testutil.Buffer{}
	s, err := server.New(server.Config{Addr: "127.0.0.1:0", Node: 9, ClusterURLs: ns.ClientURL()},
		slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	// nats.go runs its disconnect handler on a goroutine of its own, which
	// Close does not wait for: wait for the handler's verdict first.
	waitFor(t, "the disconnect handler", func() bool {
		out := logs.String()
		return strings.Contains(out, "NATS connection closed") || strings.Contains(out, "connection lost")
	})
	if out := logs.String(); strings.Contains(out, "connection lost") || strings.Contains(out, "level=WARN") {
		t.Fatalf("a clean shutdown logged a warning:\n%s", out)
	}
}
