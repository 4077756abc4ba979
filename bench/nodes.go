package bench

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// roleEnv names the role a child of `fanout bench` plays: "worker" (a
// load generator, see worker.go) or "nats" (a NATS server, natsproc.go).
// Unset, `fanout bench` is the harness itself.
const roleEnv = "FANOUT_BENCH_ROLE"

// roleCommand returns a command running this binary in role.
func roleCommand(role string, args []string) (*exec.Cmd, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("bench: find own binary: %w", err)
	}
	cmd := exec.Command(self, args...)
	cmd.Env = append(os.Environ(), roleEnv+"="+role)
	return cmd, nil
}

// NodesConfig says which fanout nodes to start and how they meet.
type NodesConfig struct {
	Nodes       int      // fanout node processes
	NATSServers int      // NATS servers to start as one cluster (each a child process); ignored with ClusterURLs
	ClusterURLs string   // an existing NATS to join instead: nats://host:port[,…]
	ExtraArgs   []string // more `fanout serve` flags for every node
}

// Nodes is several fanout server processes joined through NATS: K NATS
// server child processes joined by routes into one NATS cluster (or an
// existing NATS), node i connected to server i mod K first and given every
// server's URL to fail over to.
type Nodes struct {
	Target
	nats  []*natsProcess
	procs []*Process
}

// StartNodes starts the NATS servers (unless cfg names an existing NATS),
// waits until their routes are up, then starts the nodes and waits until
// every server knows of every node's subscription.
func StartNodes(cfg NodesConfig) (*Nodes, error) {
	c := &Nodes{}
	via := cfg.ClusterURLs
	if via == "" {
		via = fmt.Sprintf("a %d-server NATS cluster", cfg.NATSServers)
		if cfg.NATSServers == 1 {
			via = "NATS"
		}
	}
	c.Name = fmt.Sprintf("fanout x%d via %s", cfg.Nodes, via)
	fail := func(err error) (*Nodes, error) {
		_ = c.Stop(10 * time.Second)
		return nil, err
	}
	var urls []string
	if cfg.ClusterURLs != "" {
		urls = strings.Split(cfg.ClusterURLs, ",")
	} else {
		if err := c.startNATS(cfg.NATSServers); err != nil {
			return fail(err)
		}
		for _, p := range c.nats {
			urls = append(urls, p.addrs.Client)
		}
	}
	for i := range cfg.Nodes {
		// Own server first, then the others in order: the node fails over.
		own := i % len(urls)
		list := append(append([]string{urls[own]}, urls[own+1:]...), urls[:own]...)
		args := append([]string{"--node", strconv.Itoa(i + 1), "--cluster", strings.Join(list, ",")}, cfg.ExtraArgs...)
		p, err := StartProcess("fanout", args)
		if err != nil {
			return fail(err)
		}
		c.procs = append(c.procs, p)
		c.Addrs = append(c.Addrs, p.Addrs...)
		c.PIDs = append(c.PIDs, p.PIDs...)
	}
	if err := c.awaitInterest(cfg.Nodes); err != nil {
		return fail(err)
	}
	return c, nil
}

// startNATS starts k NATS server children, the first the seed of the
// others' routes, and waits until each has a route to every other.
func (c *Nodes) startNATS(k int) error {
	for i := range k {
		route := ""
		if i > 0 {
			route = c.nats[0].addrs.Cluster
		}
		p, err := startNATSProcess(fmt.Sprintf("nats-%d", i+1), route)
		if err != nil {
			return err
		}
		c.nats = append(c.nats, p)
		c.NATSPIDs = append(c.NATSPIDs, p.pid())
	}
	for _, p := range c.nats {
		if err := p.ask(fmt.Sprintf("routes %d", k-1)); err != nil {
			return err
		}
	}
	return nil
}

// awaitInterest waits until every NATS server it started knows of every
// node's broadcast subscription: its own nodes' and, per route, one for
// each other server with nodes (routes carry interest per subject).
func (c *Nodes) awaitInterest(nodes int) error {
	k := len(c.nats)
	for i, p := range c.nats {
		own := nodes / k
		if i < nodes%k {
			own++
		}
		others := min(nodes, k) - 1
		if own == 0 {
			others = min(nodes, k)
		}
		if err := p.ask(fmt.Sprintf("interest %d", own+others)); err != nil {
			return err
		}
	}
	return nil
}

// Stop ends the nodes, then the NATS servers.
func (c *Nodes) Stop(timeout time.Duration) error {
	var errs []error
	for _, p := range c.procs {
		errs = append(errs, p.Stop(timeout))
	}
	for _, p := range c.nats {
		errs = append(errs, p.stop(timeout))
	}
	return errors.Join(errs...)
}
