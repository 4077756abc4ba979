package cluster_test

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/server"

	"github.com/fanout/fanout/cluster"
	"github.com/fanout/fanout/server"
)

// startNATSCluster runs k embedded NATS servers on free loopback ports,
// joined as one NATS cluster by routes to the first, and waits until every
// server has a route to every other.
func startNATSCluster(t *testing.T, k int) []*natsserver.Server {
	t.Helper()
	var servers []*natsserver.Server
	var seed *url.URL
	for i := range k {
		opts := &natsserver.Options{ServerName: fmt.Sprintf("nats-%d", i), Host: "127.0.0.1", Port: -1, NoLog: true, NoSigs: true,
			Cluster: natsserver.ClusterOpts{Name: "fanout-test", Host: "127.0.0.1", Port: -1}}
		if seed != nil {
			opts.Routes = []*url.URL{seed}
		}
		ns, err := natsserver.NewServer(opts)
		if err != nil {
			t.Fatalf("nats server %d: %v", i, err)
		}
		ns.Start()
		t.Cleanup(func() { ns.Shutdown(); ns.WaitForShutdown() })
		if !ns.ReadyForConnections(10 * time.Second) {
			t.Fatalf("nats server %d not ready", i)
		}
		if seed == nil {
			seed = &url.URL{Scheme: "nats-route", Host: ns.ClusterAddr().String()}
		}
		servers = append(servers, ns)
	}
	waitFor(t, "the NATS cluster's routes", func() bool {
		for _, ns := range servers {
			if ns.NumRoutes() < k-1 {
				return false
			}
		}
		return true
	})
	return servers
}

// urlsFrom lists every server's client URL, servers[first]'s first: a
// node given it connects there and fails over to the others.
func urlsFrom(servers []*natsserver.Server, first int) string {
	urls := []string{servers[first].ClientURL()}
	for i, ns := range servers {
		if i != first {
			urls = append(urls, ns.ClientURL())
		}
	}
	return strings.Join(urls, ",")
}

// waitInterest waits until every running server knows of every node's
// broadcast subscription: its own clients' (each client is a node) and,
// through each route, one for every other server that has nodes (routes
// carry interest per subject, not per subscription). Only then does a line
// published anywhere reach every node.
func waitInterest(t *testing.T, servers []*natsserver.Server) {
	t.Helper()
	waitFor(t, "every node's subscription on every NATS server", func() bool {
		for _, ns := range servers {
			if !ns.Running() {
				continue
			}
			want := ns.NumClients()
			for _, other := range servers {
				if other != ns && other.Running() && other.NumClients() > 0 {
					want++
				}
			}
			if ns.GlobalAccount().Interest(cluster.DefaultSubject) != want {
				return false
			}
		}
		return true
	})
}

// TestNATSClusterDeliversEverywhere: three NATS servers as one cluster,
// three nodes each on a different server, three clients on each node:
// every line reaches every other client exactly once, in per-sender order.
func TestNATSClusterDeliversEverywhere(t *testing.T) {
	const nodes, perNode, lines = 3, 3, 40
	servers := startNATSCluster(t, nodes)
	var clients []*client
	var all []*node
	for i := range nodes {
		n := startNode(t, urlsFrom(servers, i), int64(i+1))
		all = append(all, n)
		for range perNode {
			clients = append(clients, dial(t, n))
		}
	}
	for i, ns := range servers {
		if got := ns.NumClients(); got != 1 {
			t.Fatalf("NATS server %d has %d clients, want its own node only", i, got)
		}
	}
	waitInterest(t, servers)
	waitJoined(t, all, perNode)
	exchange(t, clients, lines)
}

// ordered reads tagged lines ("<tag> <n>") and checks that each tag's
// numbers only grow: a repeat or a step back is a duplicate or a reorder.
type ordered struct {
	*client
	last map[string]int
	got  map[string]int // lines received per tag
}

func newOrdered(c *client) *ordered {
	return &ordered{client: c, last: map[string]int{}, got: map[string]int{}}
}

// until reads lines until one tagged tag has arrived (now or before: lines
// of different senders may come in any order) and returns its number.
func (o *ordered) until(tag string) int {
	o.t.Helper()
	if o.got[tag] > 0 {
		return o.last[tag]
	}
	for {
		body := o.mustRead()
		var tg string
		var n int
		if _, err := fmt.Sscanf(body, "%s %d", &tg, &n); err != nil {
			o.t.Fatalf("unexpected line %q", body)
		}
		if last, seen := o.last[tg]; seen && n <= last {
			o.t.Fatalf("%s %d after %s %d: duplicated or reordered", tg, n, tg, last)
		}
		o.last[tg] = n
		o.got[tg]++
		if tg == tag {
			return n
		}
	}
}

// readyz returns the node's /readyz status code.
func readyz(t *testing.T, n *node) int {
	t.Helper()
	resp, err := http.Get("http://" + n.MetricsAddr().String() + "/readyz")
	if err != nil {
		t.Fatalf("readyz: %v", err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	return resp.StatusCode
}

// metric returns the value of an unlabelled metric from the node's /metrics.
func metric(t *testing.T, n *node, name string) float64 {
	t.Helper()
	resp, err := http.Get("http://" + n.MetricsAddr().String() + "/metrics")
	if err != nil {
		t.Fatalf("metrics: %v", err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), name+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			return f
		}
	}
	t.Fatalf("no metric %s", name)
	return 0
}

// TestNATSServerLossFailsOver stops the NATS server one node is connected
// to. That node alone turns not-ready, reconnects to another server of the
// cluster by itself, and is ready again; lines sent after that reach every
// node; of the lines another node sent meanwhile, each either arrived once
// or is counted as missed, and nothing arrives twice or out of order.
func TestNATSServerLossFailsOver(t *testing.T) {
	servers := startNATSCluster(t, 3)
	var nodes []*node
	for i := range servers {
		nodes = append(nodes, startNodeWith(t, server.Config{Node: int64(i + 1), ClusterURLs: urlsFrom(servers, i),
			MetricsAddr: "127.0.0.1:0"}))
	}
	a, b, c := newOrdered(dial(t, nodes[0])), newOrdered(dial(t, nodes[1])), newOrdered(dial(t, nodes[2]))
	waitInterest(t, servers)
	waitFor(t, "the clients to join", func() bool {
		return nodes[0].Connections() == 1 && nodes[1].Connections() == 1 && nodes[2].Connections() == 1
	})
	b.send("warm 0\n")
	a.until("warm")
	c.until("warm")

	servers[0].Shutdown() // node 1's server
	servers[0].WaitForShutdown()
	// Node 1 may be back on another server before we look: it must be
	// not-ready exactly while it has no connection, so watch both.
	const gap = 20
	for i := range gap {
		b.send(fmt.Sprintf("gap %d\n", i))
	}
	for _, n := range nodes[1:] {
		if code := readyz(t, n); code != http.StatusOK {
			t.Fatalf("a node whose NATS server is up answers /readyz %d", code)
		}
	}
	waitFor(t, "node 1 to reconnect to another NATS server", func() bool {
		return nodes[0].Ready() && servers[1].NumClients()+servers[2].NumClients() == 3
	})
	if code := readyz(t, nodes[0]); code != http.StatusOK {
		t.Fatalf("reconnected node answers /readyz %d", code)
	}
	if outages := metric(t, nodes[0], "fanout_cluster_outages_total"); outages != 1 {
		t.Fatalf("node 1 counted %g outages, want 1", outages)
	}
	waitInterest(t, servers)

	// Lines sent now reach everyone, node 1's own included.
	b.send("after 0\n")
	a.send("froma 0\n")
	if n := a.until("after"); n != 0 {
		t.Fatalf("a got after %d", n)
	}
	c.until("after")
	b.until("froma")
	c.until("froma")
	if c.got["gap"] != gap {
		t.Fatalf("node 3, never cut off, got %d of %d gap lines", c.got["gap"], gap)
	}
	missed := metric(t, nodes[0], "fanout_cluster_missed_lines_total")
	if got := float64(a.got["gap"]) + missed; got != gap {
		t.Fatalf("node 1: %d gap lines delivered + %g counted missed = %g, want %d", a.got["gap"], missed, got, gap)
	}
	for i, n := range nodes {
		if d := metric(t, n, "fanout_cluster_duplicate_lines_total"); d != 0 {
			t.Fatalf("node %d dropped %g duplicate lines", i+1, d)
		}
	}
	t.Logf("during the outage node 1 got %d gap lines and counted %g missed", a.got["gap"], missed)
}

// childNodeEnv, when set in a test binary's environment, makes it run one
// fanout node instead of the tests ("<node>|<urls>"), print "addr=<host:port>"
// and serve until killed or its stdin closes.
const childNodeEnv = "FANOUT_CLUSTER_TEST_CHILD_NODE"

// runChildNode is the child's side of childNodeEnv.
func runChildNode(spec string) int {
	id, urls, _ := strings.Cut(spec, "|")
	node, err := strconv.ParseInt(id, 10, 64)
	if err != nil {
		fmt.Fprintln(os.Stderr, "child node:", err)
		return 2
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	s, err := server.New(server.Config{Addr: "127.0.0.1:0", Node: node, ClusterURLs: urls}, log)
	if err == nil {
		err = s.Start()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "child node:", err)
		return 1
	}
	fmt.Printf("addr=%s\n", s.Addr())
	_, _ = io.Copy(io.Discard, os.Stdin) // until the test ends (or we are killed)
	return 0
}

// startChildNode runs node id as a child process of the test binary.
func startChildNode(t *testing.T, id int64, urls string) (*exec.Cmd, string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%d|%s", childNodeEnv, id, urls))
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = stdin.Close()
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	addr, ok := strings.CutPrefix(strings.TrimSpace(line), "addr=")
	if err != nil || !ok {
		t.Fatalf("child node did not start: %q, %v", line, err)
	}
	return cmd, addr
}

// TestKilledNodeNumberReused SIGKILLs a node process: the other nodes go
// on, and the dead node's number can be taken by a new node as soon as
// NATS has dropped the dead connection. A process that dies on a live host
// has its socket closed by the kernel, so NATS notices at once; the test
// logs how long it took.
func TestKilledNodeNumberReused(t *testing.T) {
	servers := startNATSCluster(t, 3)
	n1 := startNode(t, urlsFrom(servers, 0), 1)
	n3 := startNode(t, urlsFrom(servers, 2), 3)
	child, addr := startChildNode(t, 2, urlsFrom(servers, 1))
	a, c := newOrdered(dial(t, n1)), newOrdered(dial(t, n3))
	victim := dialAddr(t, addr)
	waitInterest(t, servers)
	waitFor(t, "the clients to join", func() bool { return n1.Connections() == 1 && n3.Connections() == 1 })
	victim.send("hello 0\n") // once it is read, the child has joined the victim too
	a.until("hello")
	c.until("hello")
	a.send("before 0\n")
	if got := victim.mustRead(); got != "before 0" {
		t.Fatalf("child node's client got %q", got)
	}
	c.until("before")

	killed := time.Now()
	if err := child.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "NATS to drop the killed node's connection", func() bool { return servers[1].NumClients() == 0 })
	noticed := time.Since(killed)

	// The others go on.
	a.send("after 0\n")
	c.until("after")
	c.send("back 0\n")
	a.until("back")

	// Its number is free now; take it, retrying while the check may still
	// see the dead subscription on a server the route has not told yet.
	var again *node
	waitFor(t, "a new node 2 to start", func() bool {
		s, err := server.New(server.Config{Addr: "127.0.0.1:0", Node: 2, ClusterURLs: urlsFrom(servers, 1),
			ClusterReconnectWait: 50 * time.Millisecond}, logger())
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Start(); err != nil {
			if !errors.Is(err, cluster.ErrNodeInUse) {
				t.Fatalf("new node 2: %v", err)
			}
			return false
		}
		again = &node{Server: s}
		t.Cleanup(func() { again.stop(t) })
		return true
	})
	t.Logf("after SIGKILL, NATS dropped the connection in %s; node 2 started again %s after the kill",
		noticed.Round(time.Millisecond), time.Since(killed).Round(time.Millisecond))
	fresh := newOrdered(dial(t, again))
	waitFor(t, "the new node's client to join", func() bool { return again.Connections() == 1 })
	waitInterest(t, servers)
	a.send("again 0\n")
	fresh.until("again")
	c.until("again")
}

// freezer is a TCP proxy to one address whose traffic can be stopped dead,
// sockets left open: what a peer sees when a host vanishes without a FIN.
type freezer struct {
	ln     net.Listener
	frozen chan struct{} // closed by freeze
	once   sync.Once
	wg     sync.WaitGroup
	mu     sync.Mutex
	conns  []net.Conn
}

func startFreezer(t *testing.T, to string) *freezer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &freezer{ln: ln, frozen: make(chan struct{})}
	f.wg.Add(1)
	go func() {
		defer f.wg.Done()
		for {
			in, err := ln.Accept()
			if err != nil {
				return
			}
			out, err := net.Dial("tcp", to)
			if err != nil {
				_ = in.Close()
				continue
			}
			f.mu.Lock()
			f.conns = append(f.conns, in, out)
			f.mu.Unlock()
			f.wg.Add(2)
			go f.pipe(in, out)
			go f.pipe(out, in)
		}
	}()
	t.Cleanup(func() {
		_ = ln.Close()
		f.mu.Lock()
		for _, c := range f.conns {
			_ = c.Close()
		}
		f.mu.Unlock()
		f.wg.Wait()
	})
	return f
}

// pipe copies until frozen, then reads no more (the bytes wait in the
// kernel, unacknowledged by anyone) until the sockets close.
func (f *freezer) pipe(from, to net.Conn) {
	defer f.wg.Done()
	buf := make([]byte, 32<<10)
	for {
		n, err := from.Read(buf)
		select {
		case <-f.frozen:
			return
		default:
		}
		if err != nil {
			return
		}
		if _, err := to.Write(buf[:n]); err != nil {
			return
		}
	}
}

func (f *freezer) freeze() { f.once.Do(func() { close(f.frozen) }) }

func (f *freezer) url() string { return "nats://" + f.ln.Addr().String() }

// TestVanishedNodeNumberFreedByPings: a node whose host vanishes (its
// connection goes silent, no FIN) holds its number until the NATS server
// gives up on it after ping_interval × ping_max, or until a new node's
// check has waited its bound (DefaultNodeCheckWait) for an answer,
// whichever comes first; the test sets the pings to 100 ms × 2 and logs
// how long taking the number over took.
func TestVanishedNodeNumberFreedByPings(t *testing.T) {
	ns := startNATSWith(t, natsserver.Options{Port: -1, PingInterval: 100 * time.Millisecond, MaxPingsOut: 2})
	proxy := startFreezer(t, ns.Addr().String())
	startNode(t, proxy.url(), 2)
	n1 := startNode(t, ns.ClientURL(), 1)
	waitFor(t, "both nodes on NATS", func() bool { return ns.NumClients() == 2 })

	silent := connID(t, ns, "fanout node 2")
	proxy.freeze()
	frozen := time.Now()
	dropped := make(chan time.Duration, 1) // buffered: the watcher never blocks
	watching := make(chan struct{})
	go func() { // when the server gives up on the silent connection
		defer close(watching)
		for hasConn(ns, silent) && time.Since(frozen) < 15*time.Second {
			time.Sleep(5 * time.Millisecond)
		}
		dropped <- time.Since(frozen)
	}()
	t.Cleanup(func() { <-watching }) // registered after the server's: runs before it stops
	refused := 0
	var again *node
	waitFor(t, "a new node 2 to start", func() bool {
		s, err := server.New(server.Config{Addr: "127.0.0.1:0", Node: 2, ClusterURLs: ns.ClientURL()}, logger())
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Start(); err != nil {
			if !errors.Is(err, cluster.ErrNodeInUse) {
				t.Fatalf("new node 2: %v", err)
			}
			refused++
			return false
		}
		again = &node{Server: s}
		t.Cleanup(func() { again.stop(t) })
		return true
	})
	t.Logf("node 2 went silent; NATS dropped it %s later; a new node 2 started %s later, after %d refusal(s) (the check waits at most %s)",
		(<-dropped).Round(time.Millisecond), time.Since(frozen).Round(time.Millisecond), refused, cluster.DefaultNodeCheckWait)
	a, b := dial(t, n1), dial(t, again)
	waitFor(t, "the clients to join", func() bool { return n1.Connections() == 1 && again.Connections() == 1 })
	waitFor(t, "both nodes' subscriptions", func() bool { return ns.GlobalAccount().Interest(cluster.DefaultSubject) == 2 })
	a.send("hello\n")
	if got := b.mustRead(); got != "hello" {
		t.Fatalf("new node 2's client got %q", got)
	}
}

// connID returns the ID of the NATS server's client connection named name.
func connID(t *testing.T, ns *natsserver.Server, name string) uint64 {
	t.Helper()
	cz, err := ns.Connz(nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cz.Conns {
		if c.Name == name {
			return c.Cid
		}
	}
	t.Fatalf("no NATS connection named %q", name)
	return 0
}

// hasConn says whether the NATS server still holds connection cid.
func hasConn(ns *natsserver.Server, cid uint64) bool {
	cz, err := ns.Connz(&natsserver.ConnzOptions{CID: cid})
	return err == nil && len(cz.Conns) > 0
}
